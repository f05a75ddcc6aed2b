"""Fault: another program holds the write lock (BEGIN IMMEDIATE) for a long time.

The app must stay responsive, say "Database busy, retrying…", and once the
other program lets go commit what the operator was doing — exactly once.

The storage's busy timeout (storage.database.BUSY_TIMEOUT_MS, 5 s in use) is
set to ``BUSY_TIMEOUT`` here, and the outside process holds the lock for
``HOLD``, several busy timeouts: each try fails with SQLITE_BUSY after the busy
timeout, the app shows the busy state and tries again every 0.5 s + the busy
timeout, well within its BUSY_RETRY_FOR (120 s). The test releases the lock
only after checking the busy state. The behaviour proven is the one of a 30 s
hold with the 5 s timeout, in a tenth of the time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, Static

import storage.database
from tests.clinic_fixtures import (
    FIRST_ROW,
    Clock,
    DeskClinic,
    build_desk,
    open_card,
    running,
    settle,
    text_of,
    wait_until,
)
from tests.operator_steps import open_first_list, open_result_dialog
from tests.outside_process import Outside
from tui.database_work import BUSY_RETRY_FOR

BUSY_TIMEOUT = 0.5  # seconds
HOLD = 3.0  # seconds the outside program keeps the write lock: six busy timeouts
BUSY = "Database busy, retrying…"
COMMENT = "Перезвонила сама: придёт в пятницу"


@pytest.fixture(autouse=True)
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every connection opened in the test waits ``BUSY_TIMEOUT`` for a lock."""
    monkeypatch.setattr(storage.database, "BUSY_TIMEOUT_MS", int(BUSY_TIMEOUT * 1000))
    yield


def title(app: Any) -> str:
    return text_of(app.screen.query_one("#work-title"))


def attempts(desk: DeskClinic, appointment: str) -> list[tuple[Any, ...]]:
    return desk.query(
        "SELECT outcome, comment, operator FROM attempts WHERE kind = 'appointment'"
        " AND source_id = ?",
        desk.appointments[appointment],
    )


async def test_a_long_write_lock_keeps_the_app_responsive_and_loses_nothing(
    tmp_path: Path,
) -> None:
    assert BUSY_TIMEOUT < HOLD < BUSY_RETRY_FOR
    desk = build_desk(tmp_path)
    app = desk.app("alice", clock=Clock())
    row = desk.appointments[FIRST_ROW]
    async with running(app) as pilot:
        screen = await open_first_list(pilot)

        # 1. A claim while the database is held: the work screen's title says busy,
        #    the operator can still read a client card, the claim lands afterwards.
        with Outside(desk.path, "write") as writer:
            await pilot.press("c")
            await wait_until(pilot, lambda: BUSY in title(app), "the busy state in the title")
            await open_card(pilot)  # the client card: read while the write lock is held
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is screen, "the work screen again")
            assert desk.locks() == []  # nothing got through
            await pilot.pause(max(0.0, HOLD - writer.held_for))  # the hold is the point
        assert writer.held_for >= HOLD
        await wait_until(pilot, lambda: desk.locks(), "the claim after the release")
        await wait_until(pilot, lambda: BUSY not in title(app), "the busy state to go")
        assert [(kind, source, who) for kind, source, who, _ in desk.locks()] == [
            ("appointment", row, "alice")
        ]
        await settle(pilot)

        # 2. Saving the outcome while the database is held.
        dialog = await open_result_dialog(pilot, "1", COMMENT)
        assert dialog.query_one("#comment", Input).value == COMMENT
        message = dialog.query_one("#result-message", Static)
        with Outside(desk.path, "write") as writer:
            await pilot.press("enter")
            await wait_until(pilot, lambda: BUSY in text_of(message), "the busy state")
            await pilot.press("escape")  # handled at once: the dialog asks to wait
            await wait_until(pilot, lambda: "please wait" in text_of(message), "the answer")
            assert app.screen is dialog
            assert attempts(desk, FIRST_ROW) == []
            await pilot.pause(max(0.0, HOLD - writer.held_for))  # the hold is the point
        assert writer.held_for >= HOLD
        await wait_until(pilot, lambda: app.screen is screen, "the saved dialog to close")
        await settle(pilot)
        await pilot.pause(1.0)  # a retry that saved twice would show by now

    assert attempts(desk, FIRST_ROW) == [("confirmed", COMMENT, "alice")]
    assert desk.locks() == []
    assert desk.query(
        "SELECT count(*) FROM audit WHERE event = 'release' AND source_id = ?", row
    ) == [(1,)]
    assert desk.query("SELECT status FROM appointments WHERE id = ?", row) == [("confirmed",)]
    assert desk.query("PRAGMA integrity_check") == [("ok",)]
