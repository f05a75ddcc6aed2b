"""Fault: hostile text in the data — in client names, comments, phones, notes, list names.

Rich and Textual markup (``[bold]``, ``[link=…]``), ANSI and OSC escape
sequences (colour, clear screen, window title, OSC 52 "set the clipboard"),
control characters, a 10,000-character name, right-to-left text with a bidi
override, emoji. Everything must be shown literally — control characters
as visible placeholders (tui/safe_text.py: ␛ for ESC, � for C1) — never interpreted, with the layout
intact: snapshots at 80×24 of the screens that show such text, and the real
program in a pseudo-terminal, whose every byte is searched for sequences the
data chose.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from storage.clients import save_phones
from storage.database import open_database
from storage.engine import write
from storage.policy import default_policy
from tests.clinic_fixtures import DESK_NOW, Clock, Compare, at, settle, shoot, wait_until
from tests.operator_steps import claim_active_row
from tests.pty_app import PtyApp, ringround_argv
from tui.app import RingroundApp
from tui.client_card import ClientCard
from tui.client_history import ClientDialog
from tui.picker import ListPicker
from tui.result_dialog import ResultDialog
from tui.work_screen import WorkScreen

# Client names, in list order (the items are listed in the order they were added).
NAMES = {
    "markup": "[bold]Жирный[/bold] [link=http://evil.example]ссылка[/link] [red]x",
    "long": "Щ" * 10_000,
    "controls": "Tab\tNew\nLine\rCR\bBS\x00NUL\x7fDEL\x9bC1\x07BEL",
    "sgr": "\x1b[31mRED-MARK\x1b[0m Красный",
    "osc52": "\x1b]52;c;SEVMTE8=\x07Буфер обмена",
    "title": "\x1b]0;TITLE-MARK\x07Заголовок",
    "clear": "\x1b[2J\x1b[HCLEAR-MARK",
    "rtl": "שלום עולם مرحبا \u202eEVIL-MARK\u202c",
    "emoji": "Анна 👩‍⚕️🦷✨ 山田",
}
LIST_NAME = "[b]Список[/b] \x1b]0;LIST-MARK\x07"
COMMENT = (
    "\x1b]52;c;Q09NTUVOVA==\x07COMMENT-MARK [bold]не жирный[/bold]\nвторая строка \x1b[5mBLINK-MARK"
)
DOCTOR = "[i]Dr.[/i] \x1b[7mREVERSE-MARK"
SERVICE = "Осмотр \x1b]8;;http://evil.example\x07LINK-MARK\x1b]8;;\x07"
PHONE = "+7 900 \x1b[5mPHONE-MARK 12-34"
NOTES = "\x1b]52;c;Tk9URVM=\x07NOTES-MARK [bold]x[/bold]"

# Sequences that only the data could have put on the terminal.
FORBIDDEN = [
    b"\x1b]52",
    b"\x1b]0;",
    b"\x1b]8;;http://evil",
    b"\x1b[2J\x1b[HCLEAR",
    b"\x1b[31mRED",
    b"\x1b[5mBLINK",
    b"\x1b[5mPHONE",
    b"\x1b[7mREVERSE",
    b"\xc2\x9b",
    b"\x00",
    b"\x08",
    b"\x7f",
    b"\t",
    b"\xe2\x80\xae",
]


def build_hostile_clinic(folder: Path) -> Path:
    """A clinic whose only call list is full of hostile text (see the module docstring)."""
    path = folder / "clinic.db"
    conn = open_database(path, create=True)
    try:
        with write(conn):
            list_id = conn.execute(
                "INSERT INTO call_lists (name, created_at, created_by) VALUES (?, ?, 'root')"
                " RETURNING id",
                (LIST_NAME, DESK_NOW - 86400),
            ).fetchone()[0]
            for number, (key, name) in enumerate(NAMES.items()):
                client = conn.execute(
                    "INSERT INTO clients (external_id, name, birth_date, email, notes)"
                    " VALUES (?, ?, '1980-05-05', ?, ?) RETURNING id",
                    (f"X-{key}\x1b[31m", name, f"{key}\x1b]52;c;RU1BSUw=\x07@example.ru", NOTES),
                ).fetchone()[0]
                save_phones(
                    conn, default_policy().phones, client, [PHONE, "+7 916 000-00-0" + str(number)]
                )
                item = conn.execute(
                    "INSERT INTO call_list_items (list_id, client_id, note) VALUES (?, ?, ?)"
                    " RETURNING id",
                    (list_id, client, COMMENT),
                ).fetchone()[0]
                conn.execute(
                    "INSERT INTO appointments (client_id, starts_at, doctor, service, status)"
                    " VALUES (?, ?, ?, ?, 'unconfirmed')",
                    (client, at(30, 10 + number % 8), DOCTOR, SERVICE),
                )
                if key in ("markup", "emoji", "long"):  # an earlier call with a comment
                    session = conn.execute(
                        "INSERT INTO sessions (operator, pid, host, tty, started_at,"
                        " heartbeat_at, ended_at) VALUES ('olga\x1b[31m', 1, 'h', '', ?, ?, ?)"
                        " RETURNING id",
                        (DESK_NOW - 7200, DESK_NOW - 3600, DESK_NOW - 3600),
                    ).fetchone()[0]
                    conn.execute(
                        "INSERT INTO attempts (kind, source_id, client_id, operator, session_id,"
                        " started_at, ended_at, mode, outcome, comment) VALUES ('item', ?, ?,"
                        " 'olga\x1b[31m', ?, ?, ?, 'manual', 'no-answer', ?)",
                        (item, client, session, DESK_NOW - 3660, DESK_NOW - 3600, COMMENT),
                    )
    finally:
        conn.close()
    return path


# --- snapshots --------------------------------------------------------------------------


@pytest.fixture
def hostile_app(tmp_path: Path) -> Iterator[RingroundApp]:
    from storage.sessions import start_session

    path = build_hostile_clinic(tmp_path)
    conn = open_database(path)
    try:
        session = start_session(conn, "alice", DESK_NOW)
    finally:
        conn.close()
    app = RingroundApp(path, default_policy(), session, clock=Clock())
    yield app
    app.close_database()


async def open_hostile_list(pilot: Pilot[Any], moves: int = 0) -> WorkScreen:
    app = pilot.app
    await wait_until(
        pilot,
        lambda: isinstance(app.screen, ListPicker) and app.screen.summaries,
        "the list picker",
    )
    await pilot.press("down", "enter")  # the call list comes after appointment confirmation
    await wait_until(
        pilot,
        lambda: isinstance(app.screen, WorkScreen) and app.screen.activation is not None,
        "the first row",
    )
    screen = app.screen
    assert isinstance(screen, WorkScreen)
    for _ in range(moves):
        await pilot.press("down")
    await wait_until(
        pilot,
        lambda: (
            screen.activation is not None
            and screen.activation.state.key.source_id == screen.query_one("#rows").current_id  # type: ignore[attr-defined]
        ),
        "the row's activation",
    )
    await settle(pilot)
    return screen


def test_hostile_text_in_the_list_picker(snap_compare: Compare, hostile_app: RingroundApp) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        await wait_until(
            pilot,
            lambda: isinstance(hostile_app.screen, ListPicker) and hostile_app.screen.summaries,
            "the list picker",
        )

    assert shoot(snap_compare, hostile_app, (80, 24), steps)


def test_hostile_text_in_the_work_screen(snap_compare: Compare, hostile_app: RingroundApp) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        await open_hostile_list(pilot, moves=0)  # the markup row, with a hostile comment

    assert shoot(snap_compare, hostile_app, (80, 24), steps)


def test_a_10000_character_name_in_the_work_screen(
    snap_compare: Compare, hostile_app: RingroundApp
) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        await open_hostile_list(pilot, moves=1)

    assert shoot(snap_compare, hostile_app, (80, 24), steps)


def test_a_10000_character_name_in_the_result_dialog(
    snap_compare: Compare, hostile_app: RingroundApp
) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        screen = await open_hostile_list(pilot, moves=1)
        await claim_active_row(pilot, screen)
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(hostile_app.screen, ResultDialog), "dialog")

    assert shoot(snap_compare, hostile_app, (80, 24), steps)


def test_hostile_text_in_the_client_card(snap_compare: Compare, hostile_app: RingroundApp) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        await open_hostile_list(pilot, moves=4)  # the OSC 52 row
        await pilot.press("k")
        await wait_until(
            pilot,
            lambda: (
                isinstance(hostile_app.screen, ClientCard) and hostile_app.screen.client is not None
            ),
            "the client card",
        )

    assert shoot(snap_compare, hostile_app, (80, 24), steps)


def test_hostile_text_in_the_client_summary(
    snap_compare: Compare, hostile_app: RingroundApp
) -> None:
    async def steps(pilot: Pilot[Any]) -> None:
        await open_hostile_list(pilot, moves=8)  # emoji, with a hostile comment
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(hostile_app.screen, ClientDialog), "summary")

    assert shoot(snap_compare, hostile_app, (80, 24), steps)


# --- the real program on a terminal -----------------------------------------------------


def test_no_byte_the_data_chose_reaches_the_terminal(tmp_path: Path) -> None:
    path = build_hostile_clinic(tmp_path)
    policy = tmp_path / "policy.toml"
    policy.write_text('[calls]\nhours = "00:00-24:00"\n', encoding="utf-8")
    app = PtyApp([*ringround_argv(), "--db", str(path), "--policy", str(policy)])
    try:
        app.wait_for("to call", timeout=30)
        app.wait_quiet(0.2)
        app.send("down", "enter")
        app.wait_for("Список", since=0)
        app.wait_quiet(0.3)
        # Each key waits for what it opens or closes: on a busy machine a key sent after a
        # quiet moment alone may reach the screen before the one it was meant for.
        dialogs = {
            "k": "Enter saves, Escape closes",
            "s": "Escape to close",
            "o": "Escape to close",
        }
        for row in range(len(NAMES)):  # every row's pane; on some the card, summary, requests
            if row:
                app.send("down")
                app.wait_quiet(0.2)
            for key in dialogs if row in (0, 2, 4, 8) else ():
                mark = app.size
                app.send(key)
                app.wait_for(dialogs[key], since=mark)
                app.wait_quiet(0.3)
                mark = app.size
                app.send("escape")
                app.wait_for("c Call", since=mark)  # the work screen drawn again, undimmed
                app.wait_quiet(0.2)
            if row in (0, 1, 3):  # the result dialog's title carries the name
                mark = app.size
                app.send("c")
                app.wait_for("f to finish", since=mark)  # the call is this window's
                app.send("f")
                app.wait_for("Result of the call", since=mark)
                app.wait_quiet(0.2)
                mark = app.size
                app.send("escape")
                app.wait_for("f to finish", since=mark)  # the dialog closed, the call still ours
                mark = app.size
                app.send("a")  # abort: give the row back
                app.wait_for("Processing aborted", since=mark)
                app.wait_quiet(0.3)
        app.send("escape")
        app.wait_for("to call", since=app.size)
        app.wait_quiet(0.2)
        app.send("q")
        assert app.wait_exit(20) == 0
        app.wait_until(lambda: app.closed, "the end of the output")
        written = app.output()
    finally:
        app.close()
    found = {sequence: written.count(sequence) for sequence in FORBIDDEN if sequence in written}
    assert not found, f"the data's own sequences reached the terminal: {found}"
    for marker in (b"RED-MARK", b"CLEAR-MARK", b"COMMENT-MARK", b"LIST-MARK"):
        assert marker in written, marker  # shown (literally), not dropped
