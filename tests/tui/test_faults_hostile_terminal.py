"""Fault: hostile text never reaches the terminal as control sequences (property tests).

Hypothesis makes the hostile values: each is a few pieces, every piece a
control sequence (a window title ``ESC ] 0 ;``, an OSC 52 clipboard write,
``ESC [ 2 J``, the C1 CSI byte, a bidi override, BEL, …, or random control
characters) followed by a marker of its own ("QN0") and a little text. They go
into every field a screen shows: clients' names, ids, phones, e-mail and notes,
doctors, services, call lists' names and notes, task titles, and the operator,
host and terminal of a colleague's session, who holds locks, promised a
call-back, left comments and took a row over.

The real app then runs with a driver that keeps every string the app writes
to the terminal, and an operator (and a supervisor) walks through every screen:
the list picker, the rows and client pane, the lock, takeover and call-back
refusals, the client card, summary and requests, the result dialog with a
"taken over by" failure, a call list, the supervisor screen with its release
question, and the reports. What was written may hold only the app's own
sequences (cursor moves and colours, CSI … H / m, and Textual's pointer
shape); no other ESC, no BEL, no C1 or bidi control, and no planted sequence
right before its marker, while the markers themselves are shown.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input

from storage.clients import save_phones
from storage.engine import write
from storage.locks import Claim, claim_row, finish_call
from storage.rows import APPOINTMENT, RowKey
from storage.sessions import Session, heartbeat, start_session
from tests.clinic_fixtures import (
    DESK_NOW,
    Clock,
    DeskClinic,
    build_desk,
    go_to,
    open_list,
    settle,
    start_call,
    text_of,
    wait_until,
)
from tests.terminal_capture import TerminalCapture
from tui.app import RingroundApp
from tui.client_card import ClientCard
from tui.client_history import ClientDialog
from tui.dialogs import ConfirmDialog, NoticeDialog
from tui.picker import ListPicker
from tui.report_screen import ReportScreen
from tui.result_dialog import ResultDialog
from tui.row_table import RowTable
from tui.supervisor_screen import SupervisorScreen
from tui.work_screen import WorkScreen

MINUTE = 60
BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
CONTROLS = (
    [chr(c) for c in range(0x20)]
    + [chr(c) for c in range(0x7F, 0xA0)]
    + list(BIDI)
    + ["\u2028", "\u2029"]
)
SEQUENCES = [
    "\x1b]0;",
    "\x1b]2;",
    "\x1b]52;c;SEVMTE8=",
    "\x1b]8;;http://evil.example\x07",
    "\x1b[2J\x1b[H",
    "\x1b[31m",
    "\x1b[5m",
    "\x1b[?1049h",
    "\x1bP",
    "\x9b2J",
    "\x9d0;",
    "\x90",
    "\u202e",
    "\u2066",
    "\x07",
    "\x1b",
    "\x00",
    "\x08",
    "\x7f",
    "\r",
    "\n",
]

OPERATOR_MARK = re.compile(r"QO\d")

# The app's own sequences: cursor moves and colours (CSI … H, CSI … m) and the
# pointer shape (OSC 22 … BEL), as Textual writes them for clean data.
OWN_SEQUENCES = re.compile(r"\x1b\[[0-9;?]*[Hm]|\x1b\]22;[a-z-]*\x07")


@dataclass(frozen=True)
class Hostile:
    text: str
    planted: tuple[tuple[str, str], ...]  # (sequence, the marker right after it)

    @property
    def first_mark(self) -> str:
        return self.planted[0][1]


def hostile(tag: str, *, max_pieces: int = 3) -> st.SearchStrategy[Hostile]:
    """A hostile value whose markers are ``tag`` and a digit ("QN0", "QN1", …)."""
    sequence = st.one_of(
        st.sampled_from(SEQUENCES), st.text(st.sampled_from(CONTROLS), min_size=1, max_size=3)
    )
    filler = st.text(st.sampled_from("Жёx ab[/]"), max_size=4)

    def build(pieces: list[tuple[str, str]]) -> Hostile:
        planted = tuple((seq, f"{tag}{index}") for index, (seq, _) in enumerate(pieces))
        text = "".join(
            seq + mark + fill for (seq, mark), (_, fill) in zip(planted, pieces, strict=True)
        )
        return Hostile(text, planted)

    return st.lists(st.tuples(sequence, filler), min_size=1, max_size=max_pieces).map(build)


@dataclass(frozen=True)
class Hostility:
    """One hostile value for every field a screen shows."""

    names: tuple[Hostile, ...]  # the five clients of tomorrow's appointments, in list order
    operator: Hostile  # the colleague who holds locks, promised a call-back, took a row over
    host: Hostile
    terminal: Hostile
    external_id: Hostile
    phone: Hostile
    email: Hostile
    notes: Hostile
    doctor: Hostile
    service: Hostile
    list_name: Hostile
    item_note: Hostile
    comment: Hostile
    task_title: Hostile

    def all(self) -> list[Hostile]:
        return [
            *self.names,
            *(
                getattr(self, field)
                for field in (
                    "operator",
                    "host",
                    "terminal",
                    "external_id",
                    "phone",
                    "email",
                    "notes",
                    "doctor",
                    "service",
                    "list_name",
                    "item_note",
                    "comment",
                    "task_title",
                )
            ),
        ]


hostility = st.builds(
    Hostility,
    names=st.tuples(*(hostile(f"QN{letter}") for letter in "abcde")),
    operator=hostile("QO", max_pieces=2),
    host=hostile("QH"),
    terminal=hostile("QT"),
    external_id=hostile("QX"),
    phone=hostile("QP"),
    email=hostile("QE"),
    notes=hostile("QZ"),
    doctor=hostile("QD"),
    service=hostile("QS"),
    list_name=hostile("QL"),
    item_note=hostile("QI"),
    comment=hostile("QC"),
    task_title=hostile("QK"),
)


# --- the clinic and the terminal -----------------------------------------------------------


def hostile_clinic(folder: Path, h: Hostility) -> tuple[DeskClinic, Session]:
    """The fixed clinic (tests/clinic_fixtures.py) with every shown field made hostile.

    Tomorrow's rows: Ivanova is locked by the colleague (alive), Smith's lock is
    stale while the colleague still works (takeover offer), Petrov has the
    colleague's personal call-back, Kowalski is free and shares Ivanova's phone.
    """
    desk = build_desk(folder)
    conn = desk.connect()
    try:
        with write(conn):
            for key, name in zip(
                ("ivanova", "smith", "petrov", "kowalski", "sidorov"), h.names, strict=True
            ):
                conn.execute(
                    "UPDATE clients SET name = ?, external_id = ?, email = ?, notes = ?"
                    " WHERE id = ?",
                    (
                        name.text,
                        f"{key}-{h.external_id.text}",
                        h.email.text,
                        h.notes.text,
                        desk.clients[key],
                    ),
                )
            conn.execute(
                "UPDATE appointments SET doctor = ?, service = ?", (h.doctor.text, h.service.text)
            )
            conn.execute("UPDATE call_lists SET name = name || ? ", (h.list_name.text,))
            conn.execute("UPDATE call_list_items SET note = ?", (h.item_note.text,))
            conn.execute("UPDATE tasks SET title = ?", (h.task_title.text,))
            save_phones(
                conn,
                desk.policy.phones,
                desk.clients["ivanova"],
                ["+7 916 123-45-67", h.phone.text],
            )
            save_phones(conn, desk.policy.phones, desk.clients["kowalski"], ["+7 916 123-45-67"])
        colleague = start_session(conn, h.operator.text, DESK_NOW - 200 * MINUTE)
        with write(conn):
            conn.execute(
                "UPDATE sessions SET host = ?, tty = ? WHERE id = ?",
                (h.host.text, h.terminal.text, colleague.id),
            )
        kowalski = RowKey(APPOINTMENT, desk.appointments["kowalski"])
        earlier = claim_row(conn, desk.policy, colleague, kowalski, DESK_NOW - 180 * MINUTE)
        assert isinstance(earlier, Claim)  # long enough ago to be called again now
        finish_call(
            conn,
            desk.policy,
            colleague,
            earlier,
            "no-answer",
            h.comment.text,
            DESK_NOW - 179 * MINUTE,
        )
        for row, since in (("ivanova", DESK_NOW - 5 * MINUTE), ("smith", DESK_NOW - 20 * MINUTE)):
            held = claim_row(
                conn, desk.policy, colleague, RowKey(APPOINTMENT, desk.appointments[row]), since
            )
            assert isinstance(held, Claim), held
        heartbeat(conn, colleague, DESK_NOW)
        with write(conn):
            conn.execute(
                "UPDATE call_rows SET callback_at = ?, callback_operator = ?"
                " WHERE kind = ? AND source_id = ?",
                (DESK_NOW - 5 * MINUTE, h.operator.text, APPOINTMENT, desk.appointments["petrov"]),
            )
    finally:
        conn.close()
    return desk, colleague


def assert_nothing_obeyed(written: str, h: Hostility, shown: list[Hostile]) -> None:
    rest = OWN_SEQUENCES.sub("", written)
    bad = sorted(
        {
            f"U+{ord(c):04X}"
            for c in rest
            if (c < " " and c != "\n") or "\x7f" <= c <= "\x9f" or c in BIDI + "\u2028\u2029"
        }
    )
    assert not bad, f"control characters reached the terminal: {bad}"
    for value in h.all():
        for sequence, mark in value.planted:
            assert sequence + mark not in written, (sequence, mark)
    for value in shown:  # shown literally, not dropped
        assert value.first_mark in written, value.first_mark


def run_walk(
    h: Hostility, walk: Callable[[Pilot[Any], DeskClinic, Session], Any], supervisor: bool
) -> str:
    """Run the app on the hostile clinic, walk, and return every string it wrote."""
    with tempfile.TemporaryDirectory() as folder:
        desk, colleague = hostile_clinic(Path(folder), h)
        session = desk.session("alice", supervisor=supervisor)
        app = RingroundApp(desk.path, desk.policy, session, clock=Clock())
        app.driver_class = TerminalCapture
        app.written = []  # type: ignore[attr-defined]

        async def main() -> None:
            try:
                async with app.run_test(headless=False, size=(100, 30)) as pilot:
                    await settle(pilot)
                    await walk(pilot, desk, colleague)
            finally:
                app.close_database()

        asyncio.run(main())
        return "".join(app.written)  # type: ignore[attr-defined]


async def wait_screen(pilot: Pilot[Any], kind: type, what: str) -> Any:
    screen = await wait_until(
        pilot, lambda: isinstance(pilot.app.screen, kind) and pilot.app.screen, what
    )
    await settle(pilot)
    return screen


async def dismiss(pilot: Pilot[Any], screen: Any, key: str = "escape") -> None:
    await pilot.press(key)
    await wait_until(pilot, lambda: pilot.app.screen is screen, "the dialog to close")
    await settle(pilot)


# --- the walks ------------------------------------------------------------------------------


async def operator_walk(pilot: Pilot[Any], desk: DeskClinic, colleague: Session) -> None:
    app = pilot.app
    await wait_until(
        pilot,
        lambda: isinstance(app.screen, ListPicker) and app.screen.summaries,
        "the list picker",
    )
    picker = app.screen
    await pilot.press("enter")  # appointment confirmation
    screen = await wait_screen(pilot, WorkScreen, "the work screen")
    await wait_until(pilot, lambda: screen.activation is not None, "the first row")
    await settle(pilot)
    assert isinstance(screen, WorkScreen)
    # Ivanova: locked by the colleague; c is refused with their name.
    await go_to(pilot, screen, desk.appointments["ivanova"])
    await pilot.press("c")
    await wait_screen(pilot, NoticeDialog, "the lock refusal")
    await dismiss(pilot, screen)
    # Smith: a stale lock of a colleague still working: c offers a takeover.
    await go_to(pilot, screen, desk.appointments["smith"])
    await pilot.press("c")
    await wait_screen(pilot, ConfirmDialog, "the takeover offer")
    await dismiss(pilot, screen, "n")
    # Petrov: the colleague's personal call-back.
    await go_to(pilot, screen, desk.appointments["petrov"])
    await pilot.press("c")
    await wait_screen(pilot, NoticeDialog, "the call-back refusal")
    await dismiss(pilot, screen)
    # Kowalski: card, summary, requests; a call the colleague takes over before the save.
    kowalski = desk.appointments["kowalski"]
    await go_to(pilot, screen, kowalski)
    for key, kind in (("k", ClientCard), ("s", ClientDialog), ("o", ClientDialog)):
        await pilot.press(key)
        await wait_screen(pilot, kind, f"the {kind.__name__}")
        await dismiss(pilot, screen)
    await start_call(pilot, screen)
    conn = desk.connect()
    try:
        with write(conn):  # as a takeover does: the colleague's session, a new epoch
            conn.execute(
                "UPDATE locks SET session_id = ?, operator = ?, epoch = epoch + 1"
                " WHERE kind = ? AND source_id = ?",
                (colleague.id, colleague.operator, APPOINTMENT, kowalski),
            )
            conn.execute(
                "UPDATE call_rows SET epoch = epoch + 1 WHERE kind = ? AND source_id = ?",
                (APPOINTMENT, kowalski),
            )
    finally:
        conn.close()
    colleague_mark = OPERATOR_MARK.findall(colleague.operator)[0]
    await pilot.press("f")
    dialog = await wait_screen(pilot, ResultDialog, "the result dialog")
    await pilot.press("2", "enter")  # no answer: not saved, the row was taken over
    await wait_until(
        pilot,
        lambda: colleague_mark in text_of(dialog.query_one("#result-message")),
        "the failed save naming the colleague",
    )
    await settle(pilot)
    while app.screen is not screen:
        await pilot.press("escape")
        await settle(pilot)
    # A call list: its name and its items' notes.
    await pilot.press("escape")
    await wait_until(pilot, lambda: app.screen is picker, "the list picker again")
    await pilot.press("down", "enter")
    lists_screen = await wait_screen(pilot, WorkScreen, "the call list")
    await wait_until(
        pilot,
        lambda: (
            lists_screen.activation is not None
            and lists_screen.query_one(RowTable).current_id is not None
        ),
        "its first row",
    )
    await settle(pilot)


async def supervisor_walk(pilot: Pilot[Any], desk: DeskClinic, colleague: Session) -> None:
    app = pilot.app
    picker = await wait_screen(pilot, ListPicker, "the list picker")
    await pilot.press("v")
    screen = await wait_screen(pilot, SupervisorScreen, "the supervisor screen")
    await wait_until(pilot, lambda: screen.overview is not None, "the overview")
    await settle(pilot)
    await pilot.press("u")  # release the chosen lock? names the operator and the client
    await wait_screen(pilot, ConfirmDialog, "the release question")
    await dismiss(pilot, screen, "n")
    await pilot.press("escape")
    await wait_until(pilot, lambda: app.screen is picker, "the list picker again")
    await pilot.press("p")
    report = await wait_screen(pilot, ReportScreen, "the reports")
    await wait_until(pilot, lambda: report.report is not None, "the report")
    await pilot.press("l")  # by list
    await settle(pilot)


WALK_SETTINGS = settings(
    max_examples=3,
    derandomize=True,
    deadline=None,
    phases=(Phase.explicit, Phase.generate),  # shrinking a walk is slow
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@WALK_SETTINGS
@given(hostility)
def test_an_operator_walking_every_screen_sees_no_control_sequence(h: Hostility) -> None:
    written = run_walk(h, operator_walk, supervisor=False)
    assert_nothing_obeyed(written, h, [*h.names[:4], h.operator, h.list_name])


@WALK_SETTINGS
@given(hostility)
def test_a_supervisor_on_the_supervisor_screen_and_reports_sees_no_control_sequence(
    h: Hostility,
) -> None:
    written = run_walk(h, supervisor_walk, supervisor=True)
    assert_nothing_obeyed(written, h, [h.operator, h.host])


def test_saving_the_card_keeps_stored_control_characters_the_operator_did_not_touch(
    tmp_path: Path,
) -> None:
    """The card shows placeholders; saving another change must not store them instead."""
    desk = build_desk(tmp_path)
    notes, email = "\x1b]52;c;SEVMTE8=\x07Аллергия", "anna\u202e@example.ru"
    conn = desk.connect()
    try:
        with write(conn):
            conn.execute(
                "UPDATE clients SET notes = ?, email = ? WHERE id = ?",
                (notes, email, desk.clients["ivanova"]),
            )
    finally:
        conn.close()
    app = desk.app("alice")

    async def main() -> None:
        try:
            async with app.run_test(size=(100, 30)) as pilot:
                screen = await open_list(pilot)
                await go_to(pilot, screen, desk.appointments["ivanova"])
                await pilot.press("k")
                card = await wait_screen(pilot, ClientCard, "the client card")
                await wait_until(pilot, lambda: card.client is not None, "the client")
                assert card.query_one("#card-notes", Input).value == "␛]52;c;SEVMTE8=␇Аллергия"
                assert card.query_one("#card-email", Input).value == "anna\ufffd@example.ru"
                card.query_one("#card-phones", Input).value = "+7 916 123-45-68"
                card.query_one("#card-phones", Input).focus()
                await pilot.press("enter")
                await wait_until(pilot, lambda: app.screen is screen, "the save")
                await settle(pilot)
        finally:
            app.close_database()

    asyncio.run(main())
    assert desk.query("SELECT notes, email FROM clients WHERE id = ?", desk.clients["ivanova"]) == [
        (notes, email)
    ]
    assert desk.query(
        "SELECT number FROM phones WHERE client_id = ? ORDER BY position", desk.clients["ivanova"]
    ) == [("+7 916 123-45-68",)]


def test_pasted_control_characters_are_shown_and_saved_as_placeholders(tmp_path: Path) -> None:
    """A paste into the filter or the comment is echoed on this terminal and may be saved."""
    desk = build_desk(tmp_path)
    app = desk.app("alice")
    app.driver_class = TerminalCapture
    app.written = []  # type: ignore[attr-defined]
    hostile_paste = "\x1b]0;PASTE-MARK\x07 \u202eкомментарий\r\nsecond line"

    async def main() -> None:
        try:
            async with app.run_test(headless=False, size=(100, 30)) as pilot:
                screen = await open_list(pilot)
                await go_to(pilot, screen, desk.appointments["smith"])
                await start_call(pilot, screen)
                await pilot.press("f")
                dialog = await wait_screen(pilot, ResultDialog, "the result dialog")
                await pilot.press("2")  # no answer; the comment field has the focus
                comment = dialog.query_one("#comment", Input)
                await wait_until(pilot, lambda: comment.has_focus, "the comment field")
                app.post_message(events.Paste(hostile_paste))
                await wait_until(pilot, lambda: comment.value, "the pasted comment")
                # Its lines joined with a space (a field is one line).
                assert comment.value == "␛]0;PASTE-MARK␇ \ufffdкомментарий second line"
                await pilot.press("enter")
                await wait_until(pilot, lambda: app.screen is screen, "the save")
                await settle(pilot)
        finally:
            app.close_database()

    asyncio.run(main())
    written = "".join(app.written)  # type: ignore[attr-defined]
    assert "PASTE-MARK" in written and "\x1b]0;PASTE" not in written
    assert "\u202e" not in written
    assert desk.query(
        "SELECT comment FROM attempts WHERE source_id = ? AND kind = ?",
        desk.appointments["smith"],
        APPOINTMENT,
    ) == [("␛]0;PASTE-MARK␇ \ufffdкомментарий second line",)]
