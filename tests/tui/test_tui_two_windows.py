"""One operator, two windows: a call open in the other live window is not "yours from earlier".

The other window is a second session of the same operator that keeps beating
(written with storage.sessions as its app would); the app under test is the
window the operator is looking at. Only a session that is gone passes its
locks silently (C9, tests/tui/test_tui_locks.py); a live one's call moves only
when the operator answers y.
"""

from __future__ import annotations

import json

import pytest

from storage.engine import write
from storage.locks import claim_row, inspect_row
from storage.rows import APPOINTMENT, RowKey
from storage.sessions import Session
from tests.clinic_fixtures import (
    DESK_NOW,
    MINUTE,
    Clock,
    DeskClinic,
    open_list,
    running,
    settle,
    state,
    text_of,
    wait_until,
)
from tui.dialogs import ConfirmDialog, NoticeDialog
from tui.result_dialog import ResultDialog

OTHER_WINDOW = (
    "Your call in another window, open or closed — c asks to move it here "
    "(since 10:00, on clinic/pts/3)"
)
ASKED = (
    "This call is held by another window of yours (since 10:00, on clinic/pts/3): it is "
    "still open there, or that window was closed without saving it. Take it over here? "
    "Whatever that window has not saved yet is lost."
)


@pytest.fixture
def desk(engine_desk: DeskClinic) -> DeskClinic:
    """These flows run on each engine in turn (tests/conftest.py: engine_desk)."""
    return engine_desk


def other_window(desk: DeskClinic, now: int = DESK_NOW) -> Session:
    """Alice's first window: a live session on clinic's /dev/pts/3."""
    first = desk.session("alice", now)
    conn = desk.connect()
    try:
        with write(conn):
            conn.execute(
                "UPDATE sessions SET host = 'clinic', tty = '/dev/pts/3' WHERE id = ?", (first.id,)
            )
    finally:
        conn.close()
    return first


def holders(desk: DeskClinic) -> list[int]:
    return [lock[3] for lock in desk.locks()]


async def test_a_call_the_clinic_closed_stays_in_the_other_window(desk: DeskClinic) -> None:
    """The appointment of the call open in alice's other window is cancelled by an import:
    this window still shows the row, and y to move the call here is refused, saying where
    the call can still be finished or aborted (not that the row will leave the list)."""
    first = other_window(desk)
    desk.claim(first, "ivanova")
    ivanova = desk.appointments["ivanova"]
    desk.schedule_changes(f"id,status\n{ivanova},cancelled\n")
    clock = Clock(DESK_NOW + MINUTE)
    desk.heartbeat(first, clock.now)
    app = desk.app("alice", clock=clock)
    async with running(app) as pilot:
        screen = await open_list(pilot)
        assert state(screen) == OTHER_WINDOW
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        await pilot.press("y")
        notice = await wait_until(
            pilot, lambda: isinstance(app.screen, NoticeDialog) and app.screen, "the refusal"
        )
        assert notice.message == (
            "This row needs no call any more; finish or abort it in your other window, or, "
            "if that window was closed, abort it here with a at most 1 min later."
        )
    assert holders(desk) == [first.id]


async def test_the_other_windows_call_moves_only_on_yes(desk: DeskClinic) -> None:
    first = other_window(desk)
    desk.claim(first, "ivanova")
    clock = Clock(DESK_NOW + MINUTE)
    desk.heartbeat(first, clock.now)  # still working there
    app = desk.app("alice", clock=clock)
    async with running(app) as pilot:
        screen = await open_list(pilot)
        assert state(screen) == OTHER_WINDOW
        # f and a say where the call is; nothing moves.
        for key, title in (("f", "Finish processing"), ("a", "Abort processing")):
            await pilot.press(key)
            notice = await wait_until(
                pilot, lambda: isinstance(app.screen, NoticeDialog) and app.screen, "the notice"
            )
            assert notice.title_text == title
            assert notice.message.startswith(
                "This call is held by another window of yours (still open, or closed without "
                "saving)"
            )
            await pilot.press("escape")
            await settle(pilot)
        assert holders(desk) == [first.id]
        # c asks; n keeps the call where it is, y moves it here.
        for answer in ("n", "y"):
            await pilot.press("c")
            dialog = await wait_until(
                pilot, lambda: isinstance(app.screen, ConfirmDialog) and app.screen, "the question"
            )
            assert isinstance(dialog, ConfirmDialog)
            assert dialog.title_text == "Your call in another window"
            assert dialog.question == ASKED
            await pilot.press(answer)
            await settle(pilot)
            assert app.screen is screen
            assert holders(desk) == [first.id if answer == "n" else app.session.id]
        await wait_until(
            pilot, lambda: state(screen) == "Your call since 10:01 — f to finish, a to abort"
        )
    [(detail,)] = desk.query("SELECT detail FROM audit WHERE event = 'takeover'")
    assert json.loads(detail) == {
        "holder": "alice",
        "holder_session": first.id,
        "holder_alive": True,
        "since": DESK_NOW,
    }


async def test_a_killed_windows_call_is_not_said_to_be_open_there(desk: DeskClinic) -> None:
    """Alice's app was killed (kill -9) during a call: its session could not end, and its
    last heartbeat counts as alive for alive_for more. Logging in again she read "Open in
    your other window", a window that no longer existed. The app cannot tell a killed
    window from a live one in that minute, so it says both, and c still asks."""
    first = other_window(desk)
    desk.claim(first, "ivanova")  # then killed: no heartbeat, no end of its session
    app = desk.app("alice", clock=Clock(DESK_NOW + 30))
    async with running(app) as pilot:
        screen = await open_list(pilot)
        assert state(screen) == OTHER_WINDOW
        await pilot.press("c")
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, ConfirmDialog) and app.screen, "the question"
        )
        assert isinstance(dialog, ConfirmDialog) and dialog.question == ASKED
        await pilot.press("y")
        await wait_until(
            pilot, lambda: state(screen) == "Your call since 10:00 — f to finish, a to abort"
        )
    assert holders(desk) == [app.session.id]


async def test_the_window_that_lost_its_call_is_told_and_saves_nothing(desk: DeskClinic) -> None:
    clock = Clock(DESK_NOW)
    app = desk.app("alice", clock=clock, poll_every=0.1)
    ivanova = RowKey(APPOINTMENT, desk.appointments["ivanova"])
    async with running(app) as pilot:
        screen = await open_list(pilot)
        await pilot.press("c")
        await wait_until(
            pilot, lambda: state(screen) == "Your call since 10:00 — f to finish, a to abort"
        )
        await pilot.press("f")
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, ResultDialog) and app.screen, "the result dialog"
        )
        assert isinstance(dialog, ResultDialog)
        await pilot.press("1", *"said yes")
        # Meanwhile Alice opens a second window and says y to moving the call there.
        second = other_window(desk, DESK_NOW + 30)
        conn = desk.connect()
        try:
            offer = inspect_row(conn, desk.policy, second, ivanova, DESK_NOW + 30).lock
            assert offer is not None and offer.mine_elsewhere
            claim_row(conn, desk.policy, second, ivanova, DESK_NOW + 30, take_over=offer)
        finally:
            conn.close()
        # The open result dialog is told at once (the next look at the database).
        message = dialog.query_one("#result-message")
        await wait_until(pilot, lambda: "nothing was saved" in text_of(message), "the notice")
        assert text_of(message).startswith(
            "Your call with Иванова Мария Петровна was taken over in your other window at "
            "10:00; nothing was saved here."
        )
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen
        await wait_until(
            pilot,
            lambda: state(screen) == OTHER_WINDOW,
            "the state line to say where the call is now",
        )
    assert holders(desk) == [second.id]
    assert desk.query("SELECT count(*) FROM attempts WHERE operator = 'alice'") == [(0,)]


async def test_a_gone_windows_call_is_still_yours_from_earlier(desk: DeskClinic) -> None:
    first = other_window(desk, DESK_NOW - 2 * MINUTE)
    desk.claim(first, "ivanova", DESK_NOW - 2 * MINUTE)  # no heartbeat since: that app is gone
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot)
        assert state(screen) == (
            "Locked by you in an earlier session — a aborts, c takes it over (since 09:58)"
        )
        await pilot.press("c")  # C9: no question
        await wait_until(pilot, lambda: holders(desk) == [app.session.id], "the take-over")
        assert not isinstance(app.screen, ConfirmDialog)
