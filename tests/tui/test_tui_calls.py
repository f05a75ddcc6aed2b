"""C4–C7 and the refusals around them: start a call, save its result, abort, filter (each engine).

Keys used: c start call, f finish (result dialog), 1…9 outcome, Enter saves,
Escape cancels, / filter, End/arrows move.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from typing import Any

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, OptionList

import storage.locks
import tui.work_screen
from storage.rows import APPOINTMENT, RowKey
from storage.worklists import LATER
from tests.clinic_fixtures import (
    Clock,
    DeskClinic,
    at,
    go_to,
    notices,
    open_list,
    running,
    settle,
    start_call,
    state,
    text_of,
    wait_until,
)
from tests.stored_clinic import release_held
from tui.app import RingroundApp
from tui.dialogs import ConfirmDialog, NoticeDialog
from tui.i18n import set_language
from tui.result_dialog import ResultDialog
from tui.row_table import RowTable
from tui.work_screen import WorkScreen


@pytest.fixture
def desk(engine_desk: DeskClinic) -> DeskClinic:
    """The call flows run on each engine in turn (tests/conftest.py: engine_desk)."""
    return engine_desk


async def result_dialog(pilot: Pilot[None], app: RingroundApp) -> ResultDialog:
    await pilot.press("f")
    dialog = await wait_until(
        pilot, lambda: isinstance(app.screen, ResultDialog) and app.screen, "the result dialog"
    )
    assert isinstance(dialog, ResultDialog)
    return dialog


def attempts(desk: DeskClinic) -> list[tuple[Any, ...]]:
    return desk.query(
        "SELECT kind, source_id, operator, session_id, mode, outcome, comment"
        " FROM attempts WHERE operator != 'olga' ORDER BY id"
    )


async def test_c_claims_the_lock(desk: DeskClinic) -> None:
    app = desk.app("alice")
    ivanova = desk.appointments["ivanova"]
    async with running(app) as pilot:
        app.closing.set()  # the change watch stops: the row shows the call without polling
        screen = await open_list(pilot)
        await start_call(pilot, screen)
        assert desk.locks() == [(APPOINTMENT, ivanova, "alice", app.session.id)]
        assert state(screen) == "Your call since 10:00 — f to finish, a to abort"
        await settle(pilot)
        table = screen.query_one(RowTable)
        assert table.rows[ivanova].lock_operator == "alice"
        assert table.describe_row(table.rows[ivanova])["lock"] == "you"
        assert table.render_line(0).text.startswith("you ")

        await pilot.press("a")
        await wait_until(pilot, lambda: not desk.locks(), "the lock to go")
        await settle(pilot)
        assert table.rows[ivanova].lock_operator is None
    assert desk.query("SELECT event, operator, source_id FROM audit") == [
        ("claim", "alice", ivanova),
        ("abort", "alice", ivanova),
    ]


async def test_saved_row_that_keeps_its_place_is_shown_afresh(desk: DeskClinic) -> None:
    """The last callable row stays where it is after "no answer"; it must not look locked."""
    app = desk.app("alice")
    kowalski = desk.appointments["kowalski"]
    async with running(app) as pilot:
        app.closing.set()  # the change watch stops: the row shows its state without it
        screen = await open_list(pilot)
        await go_to(pilot, screen, kowalski)
        await start_call(pilot, screen)
        await result_dialog(pilot, app)
        await pilot.press("2", "enter")
        await wait_until(pilot, lambda: app.screen is screen, "the dialog to close")
        await settle(pilot)
        table = screen.query_one(RowTable)
        assert table.current_id == kowalski
        assert table.rows[kowalski].lock_operator is None
        assert table.rows[kowalski].group == LATER
        assert screen.activation is not None and screen.activation.state.lock is None
        assert "No answer" in text_of(screen.query_one("#pane"))
        await pilot.press("f")  # no call of ours any more on this row
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, NoticeDialog) and app.screen
        )
        assert isinstance(dialog, NoticeDialog)
        assert dialog.message == "Start the call first (c)."


@pytest.mark.sqlite_only  # reads SQLite's statement trace
async def test_finish_saves_attempt_effect_and_release_in_one_transaction(
    desk: DeskClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements: list[str] = []
    real_finish = storage.locks.finish_call

    def traced_finish(conn: sqlite3.Connection, *args: Any, **kwargs: Any) -> Any:
        conn.set_trace_callback(statements.append)
        try:
            return real_finish(conn, *args, **kwargs)
        finally:
            conn.set_trace_callback(None)

    monkeypatch.setattr(tui.work_screen, "finish_call", traced_finish)
    app = desk.app("alice")
    ivanova = desk.appointments["ivanova"]
    async with running(app) as pilot:
        screen = await open_list(pilot)
        await start_call(pilot, screen)
        dialog = await result_dialog(pilot, app)
        outcomes = dialog.query_one("#outcomes", OptionList)
        assert outcomes.has_focus
        assert [str(outcomes.get_option_at_index(i).prompt) for i in range(3)] == [
            "1 Confirmed",
            "2 No answer",
            "3 Busy",
        ]
        await pilot.press("1")
        comment = dialog.query_one("#comment", Input)
        assert comment.has_focus
        await pilot.press(*"Придёт", "space", *"вовремя")
        assert comment.value == "Придёт вовремя"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is screen, "the dialog to close")
        await wait_until(
            pilot,
            lambda: ivanova not in screen.query_one(RowTable).ids,
            "the confirmed row to leave the list",
        )
        await settle(pilot)
        # The cursor stays in its place, so the next row is active.
        assert screen.activation is not None
        assert screen.activation.state.key.source_id == desk.appointments["smith"]
        assert text_of(screen.query_one("#pane")).startswith("John Smith")
        assert state(screen) == "Free — c to start the call"
    assert attempts(desk) == [
        (APPOINTMENT, ivanova, "alice", app.session.id, "manual", "confirmed", "Придёт вовремя")
    ]
    assert desk.locks() == []
    assert desk.query("SELECT status FROM appointments WHERE id = ?", ivanova) == [("confirmed",)]
    # One BEGIN IMMEDIATE … COMMIT holds the lock release, the attempt and the effect.
    assert statements.count("BEGIN IMMEDIATE") == 1 and statements[-1] == "COMMIT"
    assert statements.count("COMMIT") == 1
    body = " ".join(statements[statements.index("BEGIN IMMEDIATE") :])
    for part in ("DELETE FROM locks", "INSERT INTO attempts", "UPDATE appointments SET status"):
        assert part in body


@pytest.mark.parametrize("list_index", [1, 3])
async def test_success_completes_call_list_items_and_tasks(
    desk: DeskClinic, list_index: int
) -> None:
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot, list_index)
        assert screen.activation is not None
        key = screen.activation.state.key
        await start_call(pilot, screen)
        await result_dialog(pilot, app)
        await pilot.press("1", "enter")
        await wait_until(pilot, lambda: not screen.query_one(RowTable).ids, "an empty list")
        await settle(pilot)
        assert state(screen) == "Nothing left to call on this list."
        assert text_of(screen.query_one("#pane")) == "No row selected."
    done = {
        "item": "SELECT processed_at FROM call_list_items WHERE id = ?",
        "task": "SELECT done_at FROM tasks WHERE id = ?",
    }[key.kind]
    assert desk.query(done, key.source_id) == [(at(26, 10),)]
    assert desk.locks() == []


async def test_unsuccessful_outcome_keeps_the_row_dimmed_with_its_comment(desk: DeskClinic) -> None:
    app = desk.app("alice")
    smith = desk.appointments["smith"]
    async with running(app) as pilot:
        screen = await open_list(pilot)
        await go_to(pilot, screen, smith)
        await start_call(pilot, screen)
        await result_dialog(pilot, app)
        await pilot.press("2", *"Gone", "space", *"fishing", "enter")
        table = screen.query_one(RowTable)
        # Not callable for an hour: after the callable rows, before the do-not-call one.
        expected = [
            desk.appointments[name]
            for name in ("ivanova", "petrov", "kowalski", "smith", "sidorov")
        ]
        await wait_until(pilot, lambda: list(table.ids) == expected, "the row to move down")
        await settle(pilot)
        assert desk.locks() == []
        row = table.rows[smith]
        assert row.group == LATER
        assert table.describe_row(row)["due"] == ">11:00"
        assert table.describe_row(row)["result"] == "No answer"
        line = table.render_line(expected.index(smith))
        assert any(segment.style is not None and segment.style.dim for segment in line)
        assert "John Smith" in line.text and ">11:00" in line.text
        # The cursor went on to the next row; going back shows the comment.
        assert screen.activation is not None
        assert screen.activation.state.key.source_id == desk.appointments["petrov"]
        await go_to(pilot, screen, smith)
        assert "10:00 alice        No answer — Gone fishing" in text_of(screen.query_one("#pane"))
        assert state(screen) == "Not yet: may be called from 11:00."
    assert attempts(desk) == [
        (APPOINTMENT, smith, "alice", app.session.id, "manual", "no-answer", "Gone fishing")
    ]

    # Anyone activating the row later sees the comment too (C6).
    bob = desk.app("bob")
    async with running(bob) as pilot:
        screen = await open_list(pilot)
        await go_to(pilot, screen, smith)
        assert "No answer — Gone fishing" in text_of(screen.query_one("#pane"))


async def test_escape_in_the_result_dialog_keeps_the_lock(desk: DeskClinic) -> None:
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot)
        await start_call(pilot, screen)
        dialog = await result_dialog(pilot, app)
        await pilot.press("2", *"draft")
        assert dialog.query_one("#comment", Input).value == "draft"
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen
        assert state(screen) == "Your call since 10:00 — f to finish, a to abort"
        await result_dialog(pilot, app)
    assert desk.locks() == [(APPOINTMENT, desk.appointments["ivanova"], "alice", app.session.id)]
    assert attempts(desk) == []


async def test_save_refused_after_takeover_keeps_the_comment_and_offers_a_note(
    desk: DeskClinic,
) -> None:
    # The app's change watch is stopped here: the takeover is found by the save itself.
    app = desk.app("alice")
    ivanova = RowKey(APPOINTMENT, desk.appointments["ivanova"])
    async with running(app) as pilot:
        app.closing.set()  # the change watch stops: the save itself finds it
        screen = await open_list(pilot)
        await start_call(pilot, screen)
        dialog = await result_dialog(pilot, app)
        await pilot.press("1", *"typed", "space", *"text")
        # Meanwhile a supervisor releases the lock and bob calls the client.
        conn = desk.connect()
        try:
            release_held(conn, desk.session("root", supervisor=True), ivanova, at(26, 10, 1))
        finally:
            conn.close()
        bob = desk.session("bob")
        desk.claim(bob, "ivanova")
        await pilot.press("enter")
        message = dialog.query_one("#result-message")
        await wait_until(pilot, lambda: "taken over" in text_of(message), "the refusal")
        assert text_of(message) == (
            "Your lock on this row was taken over by bob; nothing was saved. Your comment is "
            "kept: Enter saves it as a note on the row, Escape drops it."
        )
        assert app.screen is dialog
        assert dialog.query_one("#comment", Input).value == "typed text"
        await pilot.press("enter")  # keep the comment as a note on the row
        await wait_until(pilot, lambda: app.screen is screen, "the dialog to close")
        await settle(pilot)
        assert "Your comment was saved as a note on the row." in notices(app)
        assert "typed text" in text_of(screen.query_one("#pane"))
    assert desk.locks() == [(APPOINTMENT, ivanova.source_id, "bob", bob.id)]
    assert attempts(desk) == []
    assert desk.query("SELECT event, operator, written_by, comment FROM row_notes") == [
        ("note", "alice", "alice", "typed text")
    ]


async def test_escape_drops_the_comment_of_a_lost_call(desk: DeskClinic) -> None:
    app = desk.app("alice")
    async with running(app) as pilot:
        app.closing.set()  # the change watch stops: the save itself finds it
        screen = await open_list(pilot)
        await start_call(pilot, screen)
        dialog = await result_dialog(pilot, app)
        await pilot.press("1", *"draft")
        bob = desk.session("bob")
        conn = desk.connect()
        try:
            release_held(
                conn,
                desk.session("root", supervisor=True),
                RowKey(APPOINTMENT, desk.appointments["ivanova"]),
                at(26, 10, 1),
            )
        finally:
            conn.close()
        desk.claim(bob, "ivanova")
        await pilot.press("enter")
        await wait_until(pilot, lambda: dialog.lost, "the lost call")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen, "the dialog to close")
    assert desk.query("SELECT count(*) FROM row_notes") == [(0,)]
    assert attempts(desk) == []


async def test_abort_releases_without_an_outcome(desk: DeskClinic) -> None:
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot)
        await start_call(pilot, screen)
        await pilot.press("a")
        await wait_until(pilot, lambda: not desk.locks(), "the lock to go")
        await wait_until(
            pilot,
            lambda: "Processing aborted; nothing was recorded." in notices(app),
            "the abort notice",
        )
        # The state line tells the row's state, not what just happened to it.
        await wait_until(pilot, lambda: state(screen) == "Free — c to start the call")
    assert attempts(desk) == []
    assert [event for (event,) in desk.query("SELECT event FROM audit ORDER BY id")] == [
        "claim",
        "abort",
    ]


@pytest.mark.parametrize(("answer", "locked"), [("n", False), ("y", True)])
async def test_outside_calling_hours_asks_first(
    desk: DeskClinic, answer: str, locked: bool
) -> None:
    app = desk.app("alice", clock=Clock(at(26, 21, 15)))
    async with running(app) as pilot:
        screen = await open_list(pilot)
        await pilot.press("c")
        dialog = await wait_until(
            pilot,
            lambda: isinstance(app.screen, ConfirmDialog) and app.screen,
            "the calling-hours question",
        )
        assert isinstance(dialog, ConfirmDialog)
        assert dialog.title_text == "Calling hours"
        assert dialog.question == ("It is 21:15, outside calling hours (09:00-20:00). Call anyway?")
        await pilot.press(answer)
        await settle(pilot)
        assert app.screen is screen
        assert bool(desk.locks()) is locked


async def test_do_not_call_client_is_refused(desk: DeskClinic) -> None:
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot)
        await pilot.press("end")
        await wait_until(
            pilot,
            lambda: (
                screen.activation is not None
                and screen.activation.state.key.source_id == desk.appointments["sidorov"]
            ),
            "the last row",
        )
        await settle(pilot)
        assert "DO NOT CALL" in text_of(screen.query_one("#pane"))
        refusal = "Do not call: the client asked not to be called."
        assert state(screen) == refusal
        await pilot.press("c")
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, NoticeDialog) and app.screen, "the refusal"
        )
        assert isinstance(dialog, NoticeDialog)
        assert dialog.message == refusal
        await pilot.press("escape")  # closes the dialog, not the screen
        await settle(pilot)
        assert app.screen is screen
        assert state(screen) == refusal
    assert desk.locks() == []


async def test_slash_filters_the_rows(desk: DeskClinic) -> None:
    app = desk.app("alice")
    ids = desk.appointments
    async with running(app) as pilot:
        screen = await open_list(pilot)
        table = screen.query_one(RowTable)
        await pilot.press("slash", *"smi")
        await settle(pilot)
        box = screen.query_one("#filter", Input)
        assert box.has_focus
        assert list(table.ids) == [ids["smith"]]
        assert text_of(screen.query_one("#work-title")) == (
            "Appointment confirmation · 1 row · filter: smi"
        )
        assert screen.activation is not None
        assert screen.activation.state.key.source_id == ids["smith"]

        async def rows_for(text: str) -> list[int]:
            box.value = text  # as if typed: the same Input.Changed
            await settle(pilot)
            return list(table.ids)

        assert await rows_for("ИВАН") == [ids["ivanova"], ids["petrov"]]  # any case, Cyrillic
        assert await rows_for("222-33") == [ids["kowalski"]]  # phone digits
        assert await rows_for("x-ray") == [ids["kowalski"]]  # subject
        # Numbers as people type them, by the policy's phone rules (README, "Phone numbers").
        for typed in ("8915 222", "+7 915", "915-222", "8 (915) 222-33"):
            assert await rows_for(typed) == [ids["kowalski"]], typed
        assert await rows_for("8916 999") == []
        assert state(screen) == "Nothing on this list matches the filter '8916 999'."
        await pilot.press("enter")  # keeps the filter, back to the rows
        assert table.has_focus and not box.has_focus
        await pilot.press("slash", "escape")  # clears it
        await settle(pilot)
        assert list(table.ids) == [
            ids[name] for name in ("ivanova", "smith", "petrov", "kowalski", "sidorov")
        ]
        assert isinstance(app.screen, WorkScreen)
        assert not box.display


async def test_an_empty_filter_result_says_so_in_russian(desk: DeskClinic) -> None:
    set_language("ru")
    try:
        app = desk.app("alice")
        async with running(app) as pilot:
            screen = await open_list(pilot)
            await pilot.press("slash", *"8903 555")
            await settle(pilot)
            assert list(screen.query_one(RowTable).ids) == [desk.appointments["smith"]]
            await pilot.press("backspace", "backspace", "backspace", *"999")
            await wait_until(pilot, lambda: not screen.query_one(RowTable).ids, "no rows")
            await wait_until(
                pilot, lambda: state(screen) == "В этом списке нет строк по фильтру «8903 999»."
            )
    finally:
        set_language("en")


async def test_keys_typed_ahead_after_the_digit_go_into_the_comment(desk: DeskClinic) -> None:
    """Over SSH a digit and the first letters of the comment often arrive in one packet."""
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot)
        await start_call(pilot, screen)
        dialog = await result_dialog(pilot, app)
        typed = "Раунд 28: перезвонить после обеда, лучше в 15:30 или 17:45"
        # Each key arrives while the app is still busy with the ones before, as from a
        # terminal: some before the digit has moved the focus, some after.
        for character in "1" + typed:
            key = "space" if character == " " else character
            app.post_message(events.Key(key, character))
            await asyncio.sleep(0)
        comment = dialog.query_one("#comment", Input)
        await wait_until(pilot, lambda: len(comment.value) == len(typed), "the typed-ahead comment")
        assert comment.value == typed  # in the order typed; its digits are the comment's
        assert comment.has_focus
        assert dialog.outcome is not None and dialog.outcome.code == "confirmed"


async def test_keys_typed_ahead_after_tab_go_into_the_call_back_time(desk: DeskClinic) -> None:
    """A comment, Tab and the call-back time typed in one go (over SSH, in one packet):
    the time went into the comment, as Tab moved the focus only after the comment had
    taken the keys behind it; Enter then asked for the time, and a digit typed after a
    second Tab picked another outcome from the "Anyone may call" box."""
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot)
        await start_call(pilot, screen)
        dialog = await result_dialog(pilot, app)
        await pilot.press("5")
        for character in "перезвонить\t15:30":
            key = {"\t": "tab"}.get(character, character)
            app.post_message(events.Key(key, character))
            await asyncio.sleep(0)
        callback = dialog.query_one("#callback", Input)
        await wait_until(pilot, lambda: callback.value == "15:30", "the typed-ahead time")
        assert dialog.query_one("#comment", Input).value == "перезвонить"
        await pilot.press("tab", "1")  # on the "Anyone may call" box a digit is no outcome
        assert dialog.outcome is not None and dialog.outcome.code == "call-back"
        assert callback.display and callback.value == "15:30"


async def test_changing_the_outcome_keeps_the_comment_typed(desk: DeskClinic) -> None:
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot)
        await start_call(pilot, screen)
        dialog = await result_dialog(pilot, app)
        comment = dialog.query_one("#comment", Input)
        await pilot.press("1", *"busy")
        await pilot.press("shift+tab")  # back to the outcomes: it was another one
        assert dialog.query_one("#outcomes", OptionList).has_focus
        await pilot.press("3", *" line")
        assert comment.value == "busy line"
        assert dialog.outcome is not None and dialog.outcome.code == "busy"


async def test_a_pasted_comment_of_several_lines_is_kept_whole(desk: DeskClinic) -> None:
    """The comment is one line: a paste of several (from an e-mail, PuTTY's CR line ends)
    kept only its first line, silently dropping the rest. Its lines now join with spaces."""
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot)
        await start_call(pilot, screen)
        dialog = await result_dialog(pilot, app)
        await pilot.press("2", *"Сын: ")
        app.post_message(events.Paste("перезвонить завтра\r\nпосле 18:00\rна мобильный\n"))
        comment = dialog.query_one("#comment", Input)
        await wait_until(pilot, lambda: "мобильный" in comment.value, "the pasted lines")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is screen, "the dialog to close")
    assert [row[-1] for row in attempts(desk)] == [
        "Сын: перезвонить завтра после 18:00 на мобильный"
    ]


async def test_escape_keeps_what_was_written_for_the_same_call(desk: DeskClinic) -> None:
    """Escape closes the dialog and the lock stays (to look at the card, say): the outcome,
    comment and call-back time written are there again on f, until saved or aborted."""
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot)
        await start_call(pilot, screen)
        dialog = await result_dialog(pilot, app)
        await pilot.press("5", *"на работе", "tab", *"15:30", "escape")
        await wait_until(pilot, lambda: app.screen is screen, "the dialog to close")
        assert [lock[2] for lock in desk.locks()] == ["alice"]
        dialog = await result_dialog(pilot, app)
        outcomes = dialog.query_one("#outcomes", OptionList)
        assert outcomes.has_focus and outcomes.highlighted == 4  # as it opens (README)
        assert dialog.query_one("#comment", Input).value == "на работе"
        assert dialog.query_one("#callback", Input).value == "15:30"
        await pilot.press("5", " ", *"до 18", "enter")
        await wait_until(pilot, lambda: app.screen is screen, "the save")
        await settle(pilot)
        assert [row[-1] for row in attempts(desk)] == ["на работе до 18"]
        # An aborted call leaves nothing behind for the next one.
        await go_to(pilot, screen, desk.appointments["smith"])
        await start_call(pilot, screen)
        await result_dialog(pilot, app)
        await pilot.press("2", *"занято", "escape")
        await wait_until(pilot, lambda: app.screen is screen, "the dialog to close")
        await pilot.press("a")
        await wait_until(pilot, lambda: len(desk.locks()) == 0, "the abort")
        await start_call(pilot, screen)
        dialog = await result_dialog(pilot, app)
        assert dialog.query_one("#comment", Input).value == ""
        assert dialog.outcome is None


async def test_call_back_outcome_asks_for_a_time(desk: DeskClinic) -> None:
    app = desk.app("alice")
    ivanova = desk.appointments["ivanova"]
    async with running(app) as pilot:
        screen = await open_list(pilot)
        await start_call(pilot, screen)
        dialog = await result_dialog(pilot, app)
        await pilot.press("5", *"at work", "enter")
        message = dialog.query_one("#result-message")
        assert text_of(message) == "Write the call-back time, e.g. 15:30 or 27.11 15:30."
        callback = dialog.query_one("#callback", Input)
        assert callback.has_focus and callback.display
        await pilot.press(*"15:30", "enter")
        await wait_until(pilot, lambda: app.screen is screen, "the dialog to close")
        await settle(pilot)
        table = screen.query_one(RowTable)
        assert list(table.ids[-2:]) == [ivanova, desk.appointments["sidorov"]]
        assert table.describe_row(table.rows[ivanova])["due"] == ">15:30"
    assert desk.query(
        "SELECT callback_at, callback_operator FROM call_rows"
        " WHERE kind = 'appointment' AND source_id = ?",
        ivanova,
    ) == [(at(26, 15, 30), "alice")]
    assert attempts(desk) == [
        (APPOINTMENT, ivanova, "alice", app.session.id, "manual", "call-back", "at work")
    ]


async def test_escape_while_saving_waits_for_the_save(
    desk: DeskClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Escape must not claim "the lock stays" while the save is still under way."""
    real_finish = storage.locks.finish_call
    release = threading.Event()

    def slow_finish(*args: Any, **kwargs: Any) -> Any:
        release.wait(5)  # another operator's long save holds the database
        return real_finish(*args, **kwargs)

    monkeypatch.setattr(tui.work_screen, "finish_call", slow_finish)
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot)
        await start_call(pilot, screen)
        dialog = await result_dialog(pilot, app)
        await pilot.press("1", "enter", "enter", "escape")
        assert app.screen is dialog
        assert text_of(dialog.query_one("#result-message")) == "Saving… please wait."
        release.set()
        await wait_until(pilot, lambda: app.screen is screen, "the dialog to close")
    assert [row[5] for row in attempts(desk)] == ["confirmed"]
    assert desk.locks() == []
