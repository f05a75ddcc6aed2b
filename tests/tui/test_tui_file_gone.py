"""The database file moved or deleted under a running app: said in the header, saves refused.

Before, the app went on saving into the file it had opened, which nobody
else reads any more: every call result from then on was lost, silently. Now
the change watch notices within its look, every screen's header names the
file, a save is refused with that sentence and keeps what was typed, a new
call is refused the same way, and no fresh database is made in its place.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Static

from storage.engine import open_engine
from tests.clinic_fixtures import DeskClinic, running, text_of, wait_until
from tests.gone_file import GONE, moved_back, moved_to
from tests.operator_steps import claim_active_row, open_first_list, open_result_dialog
from tui.database_line import DatabaseLine
from tui.dialogs import NoticeDialog

COMMENT = "Перезвонить завтра после 18:00"


def attempts_in(path: Path) -> int:
    conn = open_engine(path).connect()
    try:
        return int(conn.execute("SELECT count(*) FROM attempts").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize("how", ["deleted", "moved"])
async def test_a_gone_file_is_said_and_nothing_more_is_saved(desk: DeskClinic, how: str) -> None:
    before = attempts_in(desk.path)
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_first_list(pilot)
        await claim_active_row(pilot, screen)
        dialog = await open_result_dialog(pilot, "1", COMMENT)
        GONE[how](desk.path)

        line = screen.query_one(DatabaseLine)
        await wait_until(pilot, lambda: line.display, "the header's line")
        said = text_of(line)
        assert str(desk.path) in said and "nothing more can be saved" in said, said

        await pilot.press("enter")
        message = dialog.query_one("#result-message", Static)
        await wait_until(pilot, lambda: "Not saved" in text_of(message), "the refusal")
        assert said.startswith("The database "), said  # continues in lower case after "Not saved:"
        assert text_of(message).startswith(f"Not saved: t{said[1:]}"), text_of(message)
        assert app.screen is dialog
        assert dialog.query_one("#comment", Input).value == COMMENT

        await pilot.press("escape")  # the call stays open; the next row cannot be called
        await wait_until(pilot, lambda: app.screen is screen, "the work screen")
        await pilot.press("down")
        await pilot.press("c")
        notice = await wait_until(
            pilot,
            lambda: isinstance(app.screen, NoticeDialog) and app.screen,
            "the refusal to call",
        )
        assert said in text_of(notice.query_one("#notice-message")), text_of(notice)

    assert not desk.path.exists()  # no fresh database in its place
    if how == "moved":
        assert attempts_in(moved_to(desk.path)) == before


async def test_the_header_clears_when_the_file_is_put_back(desk: DeskClinic) -> None:
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_first_list(pilot)
        line = screen.query_one(DatabaseLine)
        GONE["moved"](desk.path)
        await wait_until(pilot, lambda: line.display, "the header's line")
        moved_back(desk.path)
        await wait_until(pilot, lambda: not line.display, "the header's line to go")
        await claim_active_row(pilot, screen)  # work goes on


async def test_a_refused_save_says_when_enter_will_save_and_it_does(desk: DeskClinic) -> None:
    """Enter saves only once the same file is back: the refusal says so, and it holds."""
    before = attempts_in(desk.path)
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_first_list(pilot)
        await claim_active_row(pilot, screen)
        dialog = await open_result_dialog(pilot, "1", COMMENT)
        GONE["moved"](desk.path)
        line = screen.query_one(DatabaseLine)
        await wait_until(pilot, lambda: line.display, "the header's line")

        await pilot.press("enter")
        message = dialog.query_one("#result-message", Static)
        await wait_until(pilot, lambda: "Not saved" in text_of(message), "the refusal")
        said = text_of(message)
        assert "tries again" not in said, said
        assert said.endswith(
            "Your text stays here; Enter saves it once that same file is back in its place."
        ), said

        moved_back(desk.path)
        await wait_until(pilot, lambda: not line.display, "the header's line to go")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is screen, "the saved result")
    assert attempts_in(desk.path) == before + 1
