"""Quitting or leaving the work list with an open call asks first (README, "Using it";
C9): y aborts the call (nothing recorded) and leaves, n stays with the call.

Every way out is covered: q on the list picker (after Escape), ctrl+q, ctrl+c, and
Escape on the work screen. Without an open call they leave at once.
"""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from storage.open_calls import abort_open_calls, open_calls
from storage.rows import APPOINTMENT, RowKey
from tests.clinic_fixtures import (
    DESK_NOW,
    DeskClinic,
    open_list,
    running,
    settle,
    wait_until,
)
from tests.stored_clinic import release_held
from tui.dialogs import ConfirmDialog
from tui.picker import ListPicker
from tui.work_screen import WorkScreen


def attempts(desk: DeskClinic) -> list[tuple[object, ...]]:
    return desk.query("SELECT operator, outcome FROM attempts WHERE operator = 'alice'")


async def call_and_ask(pilot: Pilot[None], desk: DeskClinic, *keys: str) -> ConfirmDialog:
    """Start a call on the first row, press ``keys``; return the question shown."""
    app = pilot.app
    screen = await open_list(pilot)
    await pilot.press("c")
    await wait_until(pilot, lambda: desk.locks(), "the call to start")
    await wait_until(
        pilot,
        lambda: screen.activation is not None and screen.activation.state.lock is not None,
        "the lock in the pane",
    )
    await pilot.press(*keys)
    dialog = await wait_until(
        pilot, lambda: isinstance(app.screen, ConfirmDialog) and app.screen, "the question"
    )
    assert isinstance(dialog, ConfirmDialog)
    return dialog


@pytest.mark.parametrize("keys", [("ctrl+q",), ("ctrl+c",)], ids=["ctrl+q", "ctrl+c"])
async def test_quitting_with_an_open_call_asks_and_n_stays(
    desk: DeskClinic, keys: tuple[str, ...]
) -> None:
    app = desk.app("alice")
    async with running(app) as pilot:
        dialog = await call_and_ask(pilot, desk, *keys)
        assert dialog.title_text == "Open call"
        assert dialog.question == (
            "You have an open call with Иванова Мария Петровна. Abort "
            "it (nothing is recorded) and quit?"
        )
        assert dialog.hint == "y — abort the call and quit, n — stay"
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, WorkScreen), "the work screen")
        await settle(pilot)
        assert app.is_running
    assert [lock[2] for lock in desk.locks()] == ["alice"]


@pytest.mark.parametrize("keys", [("ctrl+q",), ("ctrl+c",)], ids=["ctrl+q", "ctrl+c"])
async def test_quitting_with_an_open_call_y_aborts_and_quits(
    desk: DeskClinic, keys: tuple[str, ...]
) -> None:
    app = desk.app("alice")
    async with running(app) as pilot:
        await call_and_ask(pilot, desk, *keys)
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.is_running, "the app to end")
    assert desk.locks() == []
    assert attempts(desk) == []
    assert [e for (e,) in desk.query("SELECT event FROM audit ORDER BY id")] == ["claim", "abort"]


async def test_escape_with_an_open_call_asks_then_q_quits(desk: DeskClinic) -> None:
    app = desk.app("alice")
    async with running(app) as pilot:
        dialog = await call_and_ask(pilot, desk, "escape")
        assert dialog.question.endswith("and go back to the lists?")
        await pilot.press("n")  # stays on the call
        await wait_until(pilot, lambda: isinstance(app.screen, WorkScreen), "the work screen")
        assert desk.locks()
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, ListPicker), "the list picker")
        assert desk.locks() == []
        await pilot.press("q")  # nothing open any more: quits at once
        await wait_until(pilot, lambda: not app.is_running, "the app to end")
    assert attempts(desk) == []


async def test_q_on_the_picker_asks_for_a_call_left_open(desk: DeskClinic) -> None:
    # A call of this session that is open while the picker shows (e.g. the lock was
    # taken by a PBX dial just before Escape): q still asks.
    app = desk.app("alice")
    async with running(app) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ListPicker), "the list picker")
        desk.claim(app.session, "smith")
        await pilot.press("q")
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, ConfirmDialog) and app.screen, "the question"
        )
        assert isinstance(dialog, ConfirmDialog)
        assert "John Smith" in dialog.question
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.is_running, "the app to end")
    assert desk.locks() == []


async def test_quitting_without_a_call_does_not_ask(desk: DeskClinic) -> None:
    app = desk.app("alice")
    async with running(app) as pilot:
        await open_list(pilot)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ListPicker), "the list picker")
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running, "the app to end")


async def test_quitting_with_an_open_call_asks_in_russian(desk: DeskClinic, russian: None) -> None:
    app = desk.app("alice")
    async with running(app) as pilot:
        dialog = await call_and_ask(pilot, desk, "ctrl+q")
        assert dialog.title_text == "Открытый звонок"
        assert dialog.question == (
            "У вас открыт звонок: Иванова Мария Петровна. Прервать его "
            "(ничего не запишется) и выйти?"
        )
        assert dialog.hint == "y — прервать звонок и выйти, n — остаться"
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.is_running, "the app to end")
    assert desk.locks() == []


async def test_two_open_calls_are_asked_about_as_two(desk: DeskClinic, language: str) -> None:
    """Two rows called at once (c on one, then on another): the question once spoke of
    "an open call with A, B" and "abort it", though y aborts both."""
    app = desk.app("alice")
    async with running(app) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ListPicker), "the list picker")
        desk.claim(app.session, "ivanova")
        desk.claim(app.session, "smith")
        await pilot.press("q")
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, ConfirmDialog) and app.screen, "the question"
        )
        assert isinstance(dialog, ConfirmDialog)
        said = (dialog.title_text, dialog.question, dialog.hint)
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.is_running, "the app to end")
    assert desk.locks() == []
    names = "Иванова Мария Петровна, John Smith"
    assert (
        said
        == {
            "en": (
                "Open calls",
                f"You have open calls with {names}. Abort them (nothing is recorded) and quit?",
                "y — abort the calls and quit, n — stay",
            ),
            "ru": (
                "Открытые звонки",
                f"У вас открыты звонки: {names}. Прервать их (ничего не запишется) и выйти?",
                "y — прервать звонки и выйти, n — остаться",
            ),
        }[language]
    )


def test_a_lock_of_this_session_is_what_counts(desk: DeskClinic) -> None:
    """Rows held by other sessions of the operator are not "open calls" of this one."""
    earlier = desk.session("alice")
    desk.claim(earlier, "smith")
    now = desk.session("alice")
    conn = desk.connect()
    try:
        assert open_calls(conn, now) == []
        [call] = open_calls(conn, earlier)
        assert (call.key.kind, call.client) == (APPOINTMENT, "John Smith")
    finally:
        conn.close()


def taken_by_bob(desk: DeskClinic, appointment: str) -> None:
    """A supervisor releases the call and Bob claims the row: it changed hands."""
    conn = desk.connect()
    try:
        key = RowKey(APPOINTMENT, desk.appointments[appointment])
        release_held(conn, desk.session("root", supervisor=True), key, DESK_NOW)
    finally:
        conn.close()
    desk.claim(desk.session("bob"), appointment)


async def test_a_call_taken_while_the_question_is_up_quits_without_it(desk: DeskClinic) -> None:
    """The question about the open call stayed on screen after the call was taken over:
    with nothing open any more, the quit the operator asked for goes ahead."""
    app = desk.app("alice")
    async with running(app) as pilot:
        await call_and_ask(pilot, desk, "ctrl+q")
        taken_by_bob(desk, "ivanova")
        await wait_until(pilot, lambda: not app.is_running, "the app to end")
    assert [lock[2] for lock in desk.locks()] == ["bob"]
    assert attempts(desk) == []


async def test_a_question_about_two_calls_is_asked_again_when_one_is_taken(
    desk: DeskClinic,
) -> None:
    app = desk.app("alice")
    async with running(app) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ListPicker), "the list picker")
        desk.claim(app.session, "ivanova")
        desk.claim(app.session, "smith")
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        taken_by_bob(desk, "ivanova")
        dialog = await wait_until(
            pilot,
            lambda: (
                isinstance(app.screen, ConfirmDialog)
                and "Иванова" not in app.screen.question
                and app.screen
            ),
            "the question asked again",
        )
        assert isinstance(dialog, ConfirmDialog)
        assert dialog.question == (
            "You have an open call with John Smith. Abort it (nothing is recorded) and quit?"
        )
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.is_running, "the app to end")
    assert [(lock[1], lock[2]) for lock in desk.locks()] == [(desk.appointments["ivanova"], "bob")]


def test_aborting_open_calls_leaves_a_call_taken_since_they_were_listed(
    desk: DeskClinic,
) -> None:
    """Quitting lists the open calls, asks, then aborts them: a call taken over in between
    once stopped the quit with a "Database problem" box."""
    alice = desk.session("alice")
    desk.claim(alice, "ivanova")
    desk.claim(alice, "smith")
    conn = desk.connect()
    try:
        listed = [call.client for call in open_calls(conn, alice)]
        assert listed == ["Иванова Мария Петровна", "John Smith"]
        taken_by_bob(desk, "ivanova")
        assert abort_open_calls(conn, alice, DESK_NOW) == [
            RowKey(APPOINTMENT, desk.appointments["smith"])
        ]
    finally:
        conn.close()
    assert [(lock[1], lock[2]) for lock in desk.locks()] == [(desk.appointments["ivanova"], "bob")]
