"""One way from a worker back to a screen (tui/database_work.py).

A database job never runs on the UI thread; a refusal (a sentence for the
operator) reaches the screen that asked; a bug reaches the app's crash handler
and is never shown as "Not saved: …".
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import CancelledError
from contextvars import copy_context
from pathlib import Path

import pytest
from textual.css.query import NoMatches
from textual.widgets import Input

from storage.admin_log import LogTarget, configure
from storage.clients import ClientGone
from storage.connection import Connection
from tests.clinic_fixtures import DeskClinic, open_card, open_list, running, text_of, wait_until
from tests.waiting import wait_until_async
from tui.client_card import ClientCard
from tui.database_work import deliver
from tui.row_table import RowTable
from tui.work_screen import WorkScreen


def one(conn: Connection) -> int:
    return int(conn.execute("SELECT 1").fetchone()[0])


async def test_a_database_job_is_refused_on_the_ui_thread(desk: DeskClinic) -> None:
    app = desk.app("alice")
    async with running(app):
        with pytest.raises(AssertionError, match="UI thread"):
            app.database.call(one)
        assert await asyncio.to_thread(app.database.call, one) == 1


async def test_a_refusal_is_said_on_the_screen_that_asked(
    desk: DeskClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client was removed meanwhile: the card says so and keeps what was typed."""

    def removed(*args: object, **kwargs: object) -> None:
        raise ClientGone("The client 1 no longer exists.")

    monkeypatch.setattr("tui.client_card.update_client", removed)
    app = desk.app("alice")
    async with running(app) as pilot:
        await open_list(pilot)
        card = await open_card(pilot)
        await pilot.press("end", *" new")
        await pilot.press("enter")
        said = await wait_until(
            pilot,
            lambda: (
                "Not saved" in text_of(card.query_one("#card-message"))
                and text_of(card.query_one("#card-message"))
            ),
        )
        assert said == ("Not saved: the client 1 no longer exists. Your changes are kept.")
        assert card.query_one("#card-phones", Input).value.endswith(" new")
        assert app.screen is card


async def test_a_bug_in_a_job_reaches_the_crash_handler(
    desk: DeskClinic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ValueError is a bug: logged with its traceback, never "Not saved: …"."""
    log = tmp_path / "log" / "ringround.log"
    log.parent.mkdir()
    configure(LogTarget("file", "/dev/log", str(log), 10, 5))
    monkeypatch.delenv("RINGROUND_DEBUG", raising=False)

    def bug(*args: object, **kwargs: object) -> None:
        raise ValueError("a bug in the job")

    monkeypatch.setattr("tui.client_card.update_client", bug)
    app = desk.app("alice")
    said: list[str] = []
    try:
        with pytest.raises(ValueError, match="a bug in the job"):
            async with running(app) as pilot:
                await open_list(pilot)
                await pilot.press("k")
                card = await wait_until(
                    pilot,
                    lambda: (
                        isinstance(app.screen, ClientCard)
                        and app.screen.client is not None
                        and app.screen
                    ),
                )
                assert isinstance(card, ClientCard)
                await pilot.press("enter")
                await wait_until(pilot, lambda: app.return_code is not None, "the crash")
                said.append(text_of(card.query_one("#card-message")))
    finally:
        configure(LogTarget("off", "/dev/log", str(log), 10, 5))
    assert app.return_code == 1
    assert said == ["Saving…"]  # the card never turned the bug into "Not saved: …"
    crash = [line for line in log.read_text(encoding="utf-8").splitlines() if " crash " in line]
    assert len(crash) == 1
    assert 'error="ValueError: a bug in the job"' in crash[0]
    assert "traceback=" in crash[0] and "in bug" in crash[0]  # where the bug is, for the admin


async def test_an_answer_for_a_screen_being_left_is_dropped(desk: DeskClinic) -> None:
    """A popped work screen loses its widgets while still attached: no answer reaches it."""
    app = desk.app("alice")
    heard: list[str] = []
    async with running(app) as pilot:
        screen = await open_list(pilot)
        app.pop_screen()  # off the stack now, its widgets removed afterwards
        await asyncio.to_thread(deliver, screen, heard.append, "busy")
        await pilot.pause()
        assert app.screen is not screen
    assert heard == []


async def test_an_answer_arriving_while_the_app_stops_is_dropped(
    desk: DeskClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app's shutdown takes the work screen's widgets away while the screen is still attached.

    A worker's answer for that screen arriving just then (here: sent the moment
    its row table goes) is dropped, not shown on a screen without its table.
    """
    app = desk.app("alice")
    outcome: list[str] = []

    def tell_busy(screen: WorkScreen) -> None:
        try:
            deliver(screen, screen.show_busy, "busy")
        except CancelledError:  # the app's loop ended before it came to the answer
            outcome.append("not answered")
        except NoMatches as error:
            outcome.append(f"shown on a screen without its table: {error}")
        else:
            outcome.append("answered")

    def on_unmount(table: RowTable) -> None:
        threading.Thread(target=copy_context().run, args=(tell_busy, table.screen)).start()

    async with running(app) as pilot:
        await open_list(pilot)
        monkeypatch.setattr(RowTable, "on_unmount", on_unmount, raising=False)
    said = await wait_until_async(lambda: outcome[:1], "the worker's answer")
    assert said[0] in ("answered", "not answered")
