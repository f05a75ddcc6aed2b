"""C9–C12: locks left by a crash, stale locks of live and of gone operators.

Time is a fake clock moved by hand; the owners' heartbeats are written with
storage.sessions.heartbeat, as their apps would.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from rich.cells import cell_len

from storage.call_lists import close_list
from storage.locks import Claim, Moved, claim_row
from storage.policy import default_policy
from storage.rows import APPOINTMENT, ITEM, RowKey
from tests.clinic_fixtures import (
    DAY,
    DESK_NOW,
    MINUTE,
    Clock,
    DeskClinic,
    at,
    notices,
    open_list,
    option_texts,
    running,
    settle,
    state,
    text_of,
    wait_until,
)
from tests.stored_clinic import release_held
from tui.dialogs import ConfirmDialog, NoticeDialog
from tui.picker import ListPicker
from tui.result_dialog import ResultDialog
from tui.row_table import RowTable
from tui.work_screen import moved_text

STALE = 16 * MINUTE  # past the default stale_after of 15 minutes


@pytest.fixture
def desk(engine_desk: DeskClinic) -> DeskClinic:
    """These flows run on each engine in turn (tests/conftest.py: engine_desk)."""
    return engine_desk


def events(desk: DeskClinic) -> list[str]:
    return [event for (event,) in desk.query("SELECT event FROM audit ORDER BY id")]


async def test_a_call_left_open_yesterday_shows_its_keys_at_80_columns(
    desk: DeskClinic, language: str
) -> None:
    """The state line is cut at the edge: «… с 25.11 14:00 — a прерывает, c забирает се…».

    A clinic may keep locks for up to a day (locks.stale_after), so a call left open
    yesterday afternoon is still its operator's this morning."""
    desk.policy = dataclasses.replace(desk.policy, stale_after=DAY)
    crashed = desk.session("alice", DESK_NOW - 20 * 60 * MINUTE)
    desk.claim(crashed, "ivanova", DESK_NOW - 20 * 60 * MINUTE)
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot)
        line = state(screen)
    keys = "c takes it over" if language == "en" else "c забирает себе"
    assert keys in line, line
    assert cell_len(line[: line.index(keys) + len(keys)]) <= 78, line  # 80 less the padding


async def test_crashed_session_lock_can_be_aborted(desk: DeskClinic) -> None:
    crashed = desk.session("alice", DESK_NOW - 5 * MINUTE)
    desk.claim(crashed, "ivanova", DESK_NOW - 5 * MINUTE)  # … and the app died; never ended
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot)
        assert state(screen) == (
            "Locked by you in an earlier session — a aborts, c takes it over (since 09:55)"
        )
        # f is not for such a lock: it says what to do instead.
        await pilot.press("f")
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, NoticeDialog) and app.screen
        )
        assert isinstance(dialog, NoticeDialog)
        assert "earlier session" in dialog.message
        await pilot.press("escape")
        await pilot.press("a")
        await wait_until(pilot, lambda: not desk.locks(), "the lock to be released")
        await wait_until(pilot, lambda: "Processing aborted; nothing was recorded." in notices(app))
        await wait_until(pilot, lambda: state(screen) == "Free — c to start the call")
    assert desk.query("SELECT count(*) FROM attempts WHERE operator = 'alice'") == [(0,)]
    [(detail,)] = desk.query(
        "SELECT detail FROM audit WHERE event = 'abort' AND session_id = ?", app.session.id
    )
    assert json.loads(detail) == {"holder_session": crashed.id}


async def test_crashed_session_lock_is_taken_over_by_c(desk: DeskClinic) -> None:
    crashed = desk.session("alice", DESK_NOW - 5 * MINUTE)
    desk.claim(crashed, "ivanova", DESK_NOW - 5 * MINUTE)
    app = desk.app("alice")
    ivanova = desk.appointments["ivanova"]
    async with running(app) as pilot:
        screen = await open_list(pilot)
        assert state(screen).startswith("Locked by you in an earlier session")
        await pilot.press("c")
        await wait_until(
            pilot,
            lambda: desk.locks() == [(APPOINTMENT, ivanova, "alice", app.session.id)],
            "the lock to pass over",
        )
        await wait_until(
            pilot, lambda: state(screen) == "Your call since 10:00 — f to finish, a to abort"
        )
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.screen, ResultDialog))
        await pilot.press("1", "enter")
        await wait_until(pilot, lambda: not desk.locks())
    assert events(desk) == ["claim", "takeover", "release"]
    assert desk.query("SELECT session_id, outcome FROM attempts WHERE operator = 'alice'") == [
        (app.session.id, "confirmed")
    ]


async def test_crashed_session_lock_on_a_list_closed_since_is_found_and_aborted(
    desk: DeskClinic,
) -> None:
    """Alice's app died during a call on a call list that a supervisor closed since: back,
    she finds the list in the picker and her row on it, cannot call it again (the list
    is closed), and aborts it; then the list is gone from her picker."""
    flu = "Flu vaccination reminder"
    [(item,)] = desk.query("SELECT id FROM call_list_items WHERE list_id = ?", desk.call_lists[flu])
    crashed = desk.session("alice", DESK_NOW - 5 * MINUTE)
    conn = desk.connect()
    try:
        claim = claim_row(conn, desk.policy, crashed, RowKey(ITEM, item), DESK_NOW - 5 * MINUTE)
        assert isinstance(claim, Claim)  # … and the app died; never ended
        close_list(conn, desk.session("root", supervisor=True), flu, DESK_NOW - MINUTE)
    finally:
        conn.close()
    app = desk.app("alice")
    async with running(app) as pilot:
        picker = await wait_until(
            pilot,
            lambda: (
                isinstance(app.screen, ListPicker)
                and f"{flu} (closed) 1 call of yours left open" in option_texts(app.screen)
                and app.screen
            ),
            "the closed list in the picker",
        )
        assert picker
        screen = await open_list(pilot, 1)
        assert screen.work_list.name == flu
        assert text_of(screen.query_one("#work-title")).startswith(f"{flu} (closed) · 1 row")
        assert state(screen) == (
            "Locked by you in an earlier session — cannot be called now; a aborts (since 09:55)"
        )
        await pilot.press("c")
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, NoticeDialog) and app.screen
        )
        assert isinstance(dialog, NoticeDialog)
        assert dialog.message == (
            "This row needs no call any more; a gives back the lock your earlier session "
            "left on it."
        )
        await pilot.press("escape")
        assert desk.locks() == [(ITEM, item, "alice", crashed.id)]
        await pilot.press("a")
        await wait_until(pilot, lambda: not desk.locks(), "the lock to be released")
        await wait_until(
            pilot, lambda: state(screen) == "Nothing left to call on this list.", "the row to go"
        )
        await pilot.press("escape")
        picker = await wait_until(
            pilot,
            lambda: (
                isinstance(app.screen, ListPicker)
                and flu not in [w.name for w in app.screen.lists]
                and app.screen
            ),
            "the closed list to leave the picker",
        )
        assert picker
    assert desk.query("SELECT count(*) FROM attempts WHERE operator = 'alice'") == [(0,)]
    assert events(desk) == ["claim", "list-close", "abort"]


async def test_a_call_whose_appointment_an_import_cancels_stays_until_finished(
    desk: DeskClinic,
) -> None:
    """The clinic's system cancels the appointment (an import) while alice is calling
    about it: her row stays on her list, still her call, and her result is saved."""
    ivanova = desk.appointments["ivanova"]
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot)
        await pilot.press("c")
        await wait_until(
            pilot, lambda: desk.locks() == [(APPOINTMENT, ivanova, "alice", app.session.id)]
        )
        desk.schedule_changes(f"id,status\n{ivanova},cancelled\n")
        await pilot.press("r")
        await settle(pilot)
        assert screen.query_one(RowTable).current_id == ivanova
        assert state(screen) == "Your call since 10:00 — f to finish, a to abort"
        await pilot.press("c")
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, NoticeDialog) and app.screen
        )
        assert isinstance(dialog, NoticeDialog)
        assert dialog.message == (
            "This row needs no call any more; f still saves what came of yours."
        )
        await pilot.press("escape")
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.screen, ResultDialog), "the result dialog")
        await pilot.press("2", *"Не берёт", "enter")
        await wait_until(pilot, lambda: not desk.locks(), "the result to be saved")
        await wait_until(
            pilot,
            lambda: ivanova not in screen.query_one(RowTable).ids,
            "the row to leave the list",
        )
    assert desk.query(
        "SELECT operator, outcome, comment FROM attempts WHERE source_id = ?", ivanova
    ) == [("alice", "no-answer", "Не берёт")]


async def test_confirmed_on_an_appointment_an_import_cancelled_leaves_it_cancelled(
    desk: DeskClinic,
) -> None:
    """The clinic's system cancels the appointment while alice is on the phone and she
    saves "Confirmed": her call is recorded, the appointment stays cancelled as the
    clinic's records say, and she is told so in one sentence."""
    ivanova = desk.appointments["ivanova"]
    app = desk.app("alice")
    async with running(app) as pilot:
        await open_list(pilot)
        await pilot.press("c")
        await wait_until(
            pilot, lambda: desk.locks() == [(APPOINTMENT, ivanova, "alice", app.session.id)]
        )
        desk.schedule_changes(f"id,status\n{ivanova},cancelled\n")
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.screen, ResultDialog), "the result dialog")
        await pilot.press("1", *"Придёт", "enter")
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, NoticeDialog) and app.screen, "the notice"
        )
        assert isinstance(dialog, NoticeDialog)
        assert dialog.message == (
            "The appointment was changed in the clinic's records during the call and was "
            "left as the records say; your call was recorded."
        )
    assert desk.locks() == []
    assert desk.query("SELECT status FROM appointments WHERE id = ?", ivanova) == [("cancelled",)]
    assert desk.query(
        "SELECT operator, outcome, comment FROM attempts WHERE source_id = ?", ivanova
    ) == [("alice", "confirmed", "Придёт")]


async def test_confirmed_on_an_appointment_moved_during_the_call_is_not_saved(
    desk: DeskClinic,
) -> None:
    """Alice told Ivanova "tomorrow at 9:30", the front desk moved the visit to 11:30
    meanwhile (still to confirm), and she saves "Confirmed": nothing is saved, the dialog
    says what changed and keeps her comment; the row is free again, shows the new time,
    and her next call about it saves."""
    ivanova = desk.appointments["ivanova"]
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot)
        await pilot.press("c")
        await wait_until(
            pilot, lambda: desk.locks() == [(APPOINTMENT, ivanova, "alice", app.session.id)]
        )
        desk.schedule_changes(f"id,starts_at\n{ivanova},27.11.2026 11:30\n")
        await pilot.press("f")
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, ResultDialog) and app.screen, "the dialog"
        )
        assert isinstance(dialog, ResultDialog)
        await pilot.press("1", *"Придёт", "enter")
        message = dialog.query_one("#result-message")
        await wait_until(pilot, lambda: "Not saved" in text_of(message), "the sentence")
        assert text_of(message) == (
            "Not saved: the appointment was moved to 27 Nov, 11:30 during the call; call "
            "again with the new time. Your comment is kept: Enter saves it as a note on the "
            "row, Escape drops it."
        )
        assert desk.locks() == []
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen, "the list")
        await wait_until(
            pilot, lambda: "27.11 11:30" in text_of(screen.query_one("#pane")), "the new time"
        )
        assert desk.query("SELECT count(*) FROM attempts WHERE source_id = ?", ivanova) == [(0,)]
        await pilot.press("c")
        await wait_until(
            pilot, lambda: desk.locks() == [(APPOINTMENT, ivanova, "alice", app.session.id)]
        )
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.screen, ResultDialog), "the dialog")
        await pilot.press("1", "enter")
        await wait_until(pilot, lambda: app.screen is screen, "the save")
    assert desk.query("SELECT status FROM appointments WHERE id = ?", ivanova) == [("confirmed",)]
    assert desk.query("SELECT operator, outcome FROM attempts WHERE source_id = ?", ivanova) == [
        ("alice", "confirmed")
    ]


@pytest.mark.parametrize(
    ("starts_at", "doctor", "told"),
    [
        (
            at(27, 11, 30),
            "Орлова Е. В.",
            "was moved to 27 Nov, 11:30 during the call; call again with the new time.",
        ),
        (
            at(27, 9, 30),
            "Смирнов А. А.",
            "during the call the appointment's doctor was "
            "changed to Смирнов А. А.; call again with the new doctor.",
        ),
        (
            at(27, 11, 30),
            "Смирнов А. А.",
            "the appointment was moved to 27 Nov, 11:30 with "
            "Смирнов А. А. during the call; call again with the new time and doctor.",
        ),
    ],
)
def test_a_moved_appointment_is_told_by_what_changed(
    starts_at: int, doctor: str, told: str
) -> None:
    """The sentence names what the patient was not told: the new time, doctor, or both."""
    moved = Moved(at(27, 9, 30), "Орлова Е. В.", starts_at, doctor)
    sentence = moved_text(moved, default_policy(), DESK_NOW)
    assert sentence.startswith("Not saved: ") and sentence.endswith(told)


async def test_a_comment_left_in_a_closed_result_dialog_survives_a_release(
    desk: DeskClinic,
) -> None:
    """Alice wrote a comment, closed the result dialog with Escape to look at the card (the
    call stays hers), and a supervisor released her call: what she wrote was dropped
    without a word. She is now asked whether to keep it as a note on the row."""
    ivanova = desk.appointments["ivanova"]
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot)
        await pilot.press("c")
        await wait_until(pilot, lambda: len(desk.locks()) == 1, "the call to start")
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.screen, ResultDialog), "the result dialog")
        await pilot.press("2", *"Перезвонить вечером", "escape")
        await wait_until(pilot, lambda: app.screen is screen, "the dialog to close")
        conn = desk.connect()
        try:
            release_held(
                conn, desk.session("root", supervisor=True), RowKey(APPOINTMENT, ivanova), DESK_NOW
            )
        finally:
            conn.close()
        question = await wait_until(
            pilot, lambda: isinstance(app.screen, ConfirmDialog) and app.screen, "the question"
        )
        assert isinstance(question, ConfirmDialog)
        assert question.title_text == "Your call was taken"
        assert question.question == (
            "Supervisor root released your call with Иванова Мария Петровна at 10:00. "
            "What you wrote was not saved: 'Перезвонить вечером'. Keep it as a note on the row?"
        )
        await pilot.press("y")
        await wait_until(
            pilot,
            lambda: (
                desk.query("SELECT event, operator, comment FROM row_notes")
                == [("note", "alice", "Перезвонить вечером")]
            ),
            "the note",
        )
    assert desk.query("SELECT count(*) FROM attempts WHERE operator = 'alice'") == [(0,)]


async def test_stale_lock_of_a_live_operator_is_noted_and_offered(desk: DeskClinic) -> None:
    clock = Clock(DESK_NOW)
    olga = desk.session("olga")
    desk.claim(olga, "ivanova")
    clock.now = DESK_NOW + STALE
    desk.heartbeat(olga, clock.now)  # olga's app is still running
    app = desk.app("bob", clock=clock)
    ivanova = desk.appointments["ivanova"]
    async with running(app) as pilot:
        screen = await open_list(pilot)
        assert state(screen) == (
            "Locked by olga — over 15 min, still working; c offers a takeover (since 10:00)"
        )
        # The note is bob's, who saw the stale lock, not olga's (C10).
        assert "10:16 bob          Locked by olga since 10:00 for over 15 min" in text_of(
            screen.query_one("#pane")
        )
        # The note is written once, however often the row is activated (C10, C12).
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("down", "up")
        await settle(pilot)
        assert desk.query("SELECT operator, since, written_by FROM row_notes") == [
            ("olga", DESK_NOW, "bob")
        ]

        # c offers a takeover; n leaves the lock with olga, y takes it.
        for answer in ("n", "y"):
            await pilot.press("c")
            dialog = await wait_until(
                pilot,
                lambda: isinstance(app.screen, ConfirmDialog) and app.screen,
                "the takeover offer",
            )
            assert isinstance(dialog, ConfirmDialog)
            assert dialog.title_text == "Stale lock"
            assert dialog.question.startswith("olga has held this row since 10:00, over 15 min")
            await pilot.press(answer)
            await settle(pilot)
            assert app.screen is screen
            owner = "olga" if answer == "n" else "bob"
            assert [lock[2] for lock in desk.locks()] == [owner]
        await wait_until(
            pilot, lambda: state(screen) == "Your call since 10:16 — f to finish, a to abort"
        )
    assert desk.locks() == [(APPOINTMENT, ivanova, "bob", app.session.id)]
    assert events(desk) == ["claim", "stale-noted", "takeover"]


async def test_stale_lock_of_a_gone_operator_is_removed_on_activation(desk: DeskClinic) -> None:
    clock = Clock(DESK_NOW)
    olga = desk.session("olga")
    desk.claim(olga, "ivanova")
    clock.now = DESK_NOW + STALE  # no heartbeat from olga since: her app is gone
    app = desk.app("bob", clock=clock)
    async with running(app) as pilot:
        screen = await open_list(pilot)
        assert desk.locks() == []
        assert state(screen) == ("Free — the stale lock of olga was removed; c to start the call")
    assert events(desk) == ["claim", "auto-removal"]
    assert desk.query("SELECT count(*) FROM row_notes") == [(0,)]


async def test_a_lock_turning_stale_on_the_shown_row_is_said_removed(desk: DeskClinic) -> None:
    """The shown row's recheck (not an activation) removes the lock: the pane says whose."""
    clock = Clock(DESK_NOW)
    olga = desk.session("olga", DESK_NOW - 10 * MINUTE)
    desk.claim(olga, "ivanova", DESK_NOW - 10 * MINUTE)
    app = desk.app("bob", clock=clock)
    async with running(app) as pilot:
        screen = await open_list(pilot)
        assert state(screen) == "Locked by olga since 09:50 — session gone"
        clock.now = DESK_NOW + 6 * MINUTE
        await wait_until(pilot, lambda: desk.locks() == [], "the recheck to remove the lock")
        await settle(pilot)
        assert state(screen) == "Free — the stale lock of olga was removed; c to start the call"
    assert events(desk) == ["claim", "auto-removal"]


async def test_fresh_lock_of_a_gone_operator_stays_until_stale(desk: DeskClinic) -> None:
    clock = Clock(DESK_NOW)
    olga = desk.session("olga", DESK_NOW - 10 * MINUTE)
    desk.claim(olga, "ivanova", DESK_NOW - 10 * MINUTE)
    app = desk.app("bob", clock=clock)
    async with running(app) as pilot:
        screen = await open_list(pilot)
        assert state(screen) == "Locked by olga since 09:50 — session gone"
        assert [lock[2] for lock in desk.locks()] == ["olga"]
        clock.now = DESK_NOW + 6 * MINUTE
        await pilot.press("c")  # the checks run before every claim too (C12)
        await wait_until(pilot, lambda: [lock[2] for lock in desk.locks()] == ["bob"])
    assert events(desk) == ["claim", "auto-removal", "claim"]
