"""The pane's state line tells the truth, and what happens to an operator's call reaches them.

- Hints and refusals come as dialogs; the state line keeps the row's state (C2).
- A take-over or a supervisor's release is announced at once, naming who and when; a
  comment being written is kept and may be saved as a note on the row (C10).
- The state line is read again while shown: a holder whose app died shows as "session
  gone" without moving (C13), also after the operator looked at a free row
  meanwhile (which is not read again and again: only a write changes it);
  stale-lock notes are the observer's, in seconds below a minute (C10).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from storage.call_lists import close_list
from storage.locks import Claim, claim_row, inspect_row
from storage.rows import APPOINTMENT, RowKey
from tests.clinic_fixtures import (
    DESK_NOW,
    MINUTE,
    Clock,
    DeskClinic,
    build_desk,
    go_to,
    open_list,
    running,
    settle,
    start_call,
    state,
    text_of,
    wait_until,
)
from tests.stored_clinic import release_held
from tui.dialogs import NoticeDialog
from tui.i18n import set_language
from tui.result_dialog import ResultDialog


async def notice(pilot: Pilot[None]) -> NoticeDialog:
    app = pilot.app
    dialog = await wait_until(
        pilot, lambda: isinstance(app.screen, NoticeDialog) and app.screen, "a notice"
    )
    assert isinstance(dialog, NoticeDialog)
    return dialog


def release_by_root(desk: DeskClinic, appointment: str, now: int = DESK_NOW) -> None:
    conn = desk.connect()
    try:
        release_held(
            conn,
            desk.session("root", supervisor=True),
            RowKey(APPOINTMENT, desk.appointments[appointment]),
            now,
        )
    finally:
        conn.close()


def take_over(desk: DeskClinic, operator: str, appointment: str, now: int) -> None:
    """``operator`` takes over a stale lock of a live colleague, as their app would (C10)."""
    session = desk.session(operator, now)
    key = RowKey(APPOINTMENT, desk.appointments[appointment])
    conn = desk.connect()
    try:
        lock = inspect_row(conn, desk.policy, session, key, now).lock
        assert lock is not None and lock.offers_takeover
        assert isinstance(claim_row(conn, desk.policy, session, key, now, take_over=lock), Claim)
    finally:
        conn.close()


# --- 14.3: the state line stays true -------------------------------------------------------


@pytest.mark.parametrize("key", ["f", "a", "c"])
async def test_keys_on_a_colleagues_row_keep_the_lock_line(desk: DeskClinic, key: str) -> None:
    desk.held_by_olga("smith")
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot)
        await go_to(pilot, screen, desk.appointments["smith"])
        locked = "Locked by olga since 09:55 — alive"
        assert state(screen) == locked
        await pilot.press(key)
        dialog = await notice(pilot)
        if key != "a":  # f and c name the holder too, rather than "start the call first"
            assert dialog.message == locked
        await pilot.press("escape")
        await settle(pilot)
        assert state(screen) == locked


async def test_a_hint_on_a_free_row_is_a_dialog_not_the_state_line(desk: DeskClinic) -> None:
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot)
        await pilot.press("f")
        assert (await notice(pilot)).message == "Start the call first (c)."
        assert state(screen) == "Free — c to start the call"
        await pilot.press("escape")
        await settle(pilot)
        assert state(screen) == "Free — c to start the call"


# --- 14.4: a lost call is announced at once ---------------------------------------------


async def test_a_supervisors_release_is_announced_at_once(desk: DeskClinic) -> None:
    app = desk.app("alice", clock=Clock(DESK_NOW + 2 * MINUTE))
    async with running(app) as pilot:
        screen = await open_list(pilot)
        await start_call(pilot, screen)
        release_by_root(desk, "ivanova", DESK_NOW + 2 * MINUTE)
        dialog = await notice(pilot)
        assert dialog.title_text == "Your call was taken"
        assert dialog.message == (
            "Supervisor root released your call with Иванова Мария Петровна at 10:02."
        )
        await pilot.press("escape")
        await wait_until(pilot, lambda: state(screen) == "Free — c to start the call")


async def test_a_takeover_is_announced_at_once_in_russian(desk: DeskClinic, russian: None) -> None:
    clock = Clock(DESK_NOW)
    app = desk.app("alice", clock=clock)
    async with running(app) as pilot:
        screen = await open_list(pilot)
        await start_call(pilot, screen)
        later = DESK_NOW + 16 * MINUTE
        clock.now = later
        desk.heartbeat(app.session, later)  # alice is still working: a takeover, not C11
        take_over(desk, "bob", "ivanova", later)
        dialog = await notice(pilot)
        assert dialog.title_text == "Ваш звонок перехвачен"
        assert dialog.message == (
            "bob перехватил(а) ваш звонок клиенту Иванова Мария Петровна в 10:16."
        )
        await pilot.press("escape")
        await wait_until(pilot, lambda: state(screen).startswith("Заблокировано: bob"))


async def test_a_comment_being_written_is_kept_and_saved_as_a_note(desk: DeskClinic) -> None:
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot)
        await start_call(pilot, screen)
        await pilot.press("f")
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, ResultDialog) and app.screen, "the result dialog"
        )
        assert isinstance(dialog, ResultDialog)
        await pilot.press("2", *"Перезвонит сама")
        release_by_root(desk, "ivanova")
        message = dialog.query_one("#result-message")
        await wait_until(pilot, lambda: "released" in text_of(message), "the notice")
        assert text_of(message) == (
            "Supervisor root released your call with Иванова Мария Петровна at 10:00. Your "
            "comment is kept: Enter saves it as a note on the row, Escape drops it."
        )
        assert app.screen is dialog  # no second dialog over the one being written in
        assert dialog.query_one("#comment", Input).value == "Перезвонит сама"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is screen, "the dialog to close")
        await wait_until(
            pilot,
            lambda: "Note — Перезвонит сама" in text_of(screen.query_one("#pane")),
            "the note in the pane",
        )
    assert desk.query("SELECT event, operator, comment FROM row_notes") == [
        ("note", "alice", "Перезвонит сама")
    ]
    assert desk.query("SELECT count(*) FROM attempts WHERE operator = 'alice'") == [(0,)]


async def test_a_call_on_a_list_closed_meanwhile_is_still_finished(desk: DeskClinic) -> None:
    """A supervisor closes the call list while alice calls one of its rows: her row stays,
    the state line still says it is her call, and her result is saved."""
    app = desk.app("alice")
    async with running(app) as pilot:
        screen = await open_list(pilot, 1)
        assert screen.work_list.name == "Flu vaccination reminder"
        await start_call(pilot, screen)
        conn = desk.connect()
        try:
            close_list(
                conn, desk.session("root", supervisor=True), "Flu vaccination reminder", DESK_NOW
            )
        finally:
            conn.close()
        await pilot.press("r")
        await settle(pilot)
        assert state(screen) == "Your call since 10:00 — f to finish, a to abort"
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.screen, ResultDialog), "the result dialog")
        await pilot.press("2", *"Не берёт", "enter")
        await wait_until(
            pilot, lambda: state(screen) == "Nothing left to call on this list.", "the row to go"
        )
    assert desk.query("SELECT operator, outcome, comment FROM attempts WHERE kind = 'item'") == [
        ("alice", "no-answer", "Не берёт")
    ]


# --- 17.3 and 14.8: the state line is read again while shown ---------------------------------


@pytest.mark.parametrize(
    ("language", "alive", "gone"),
    [
        ("en", "Locked by olga since 09:55 — alive", "Locked by olga since 09:55 — session gone"),
        (
            "ru",
            "Заблокировано: olga, с 09:55 — в сети",
            "Заблокировано: olga, с 09:55 — сеанс завершён",
        ),
    ],
)
async def test_a_holder_whose_app_died_shows_as_gone_without_moving(
    desk: DeskClinic, language: str, alive: str, gone: str
) -> None:
    desk.held_by_olga("smith")  # olga's last heartbeat: NOW
    clock = Clock(DESK_NOW)
    set_language(language)
    try:
        app = desk.app("alice", clock=clock)
        async with running(app) as pilot:
            screen = await open_list(pilot)
            await go_to(pilot, screen, desk.appointments["smith"])
            assert state(screen) == alive
            # olga's app dies: no more heartbeats, and nothing is written to the database.
            clock.now = DESK_NOW + desk.policy.alive_for + 1
            await wait_until(pilot, lambda: state(screen) == gone, "session gone")
    finally:
        set_language("en")


async def test_a_free_row_is_not_read_again_and_a_locked_one_is_after_it(
    desk: DeskClinic,
) -> None:
    desk.held_by_olga("smith")  # olga's last heartbeat: NOW
    clock = Clock(DESK_NOW)
    app = desk.app("alice", clock=clock)
    async with running(app) as pilot:
        screen = await open_list(pilot)
        await go_to(pilot, screen, desk.appointments["smith"])
        assert screen.rechecking  # a lock ages: its holder's session may go
        await go_to(pilot, screen, desk.appointments["petrov"])
        assert state(screen).startswith("Free")
        assert not screen.rechecking  # only a write changes a free row: the feed brings it
        await go_to(pilot, screen, desk.appointments["smith"])
        assert screen.rechecking
        assert state(screen) == "Locked by olga since 09:55 — alive"
        clock.now = DESK_NOW + desk.policy.alive_for + 1  # olga's app dies
        await wait_until(
            pilot,
            lambda: state(screen) == "Locked by olga since 09:55 — session gone",
            "session gone",
        )


async def test_stale_lock_note_is_the_observers_and_in_seconds(
    tmp_path: Path, russian: None
) -> None:
    desk = build_desk(tmp_path)
    desk.policy = dataclasses.replace(desk.policy, stale_after=30, alive_for=30, heartbeat_every=10)
    olga = desk.session("olga")
    desk.claim(olga, "ivanova")
    desk.heartbeat(olga, DESK_NOW + MINUTE)
    app = desk.app("bob", clock=Clock(DESK_NOW + MINUTE))
    async with running(app) as pilot:
        screen = await open_list(pilot)
        assert state(screen) == (
            "Заблокировано: olga — больше 30 с, ещё работает; c предложит перехват (с 10:00)"
        )
        assert "10:01 bob          Заблокировано: olga, с 10:00, дольше 30 с" in text_of(
            screen.query_one("#pane")
        )
