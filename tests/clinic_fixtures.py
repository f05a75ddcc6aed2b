"""The app tests' clinic (``DeskClinic``, the ``desk`` fixture) and helpers to drive RingroundApp.

Everything is deterministic: the clock is a fixed moment, ``DESK_NOW``
(Thursday 2026-11-26 10:00 in Moscow), so tomorrow's confirmation list is
Friday's appointments and every time shown on screen is the same on every run.
The clinic is written to an SQLite file (the ``desk`` fixture) or, for the flows
that must hold on both engines, to each engine in turn (``engine_desk``, on
``engine_location``; tests/conftest.py). The storage tests' clinic is another
one: tests/stored_clinic.py.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Input, OptionList
from textual.worker import WorkerState

from storage.clients import save_phones
from storage.connection import Connection
from storage.engine import open_engine, write
from storage.imports import import_csv
from storage.locks import Claim, claim_row
from storage.policy import Policy, default_policy
from storage.rows import APPOINTMENT, RowKey
from storage.sessions import Session, heartbeat, start_session
from tests.waiting import PATIENCE, POLL
from tui.app import RingroundApp
from tui.client_card import ClientCard
from tui.picker import ListPicker
from tui.row_table import RowTable
from tui.work_screen import WorkScreen

MOSCOW = ZoneInfo("Europe/Moscow")
DESK_NOW = int(datetime(2026, 11, 26, 10, 0, tzinfo=MOSCOW).timestamp())  # a Thursday
MINUTE = 60
DAY = 24 * 60 * 60

S = TypeVar("S")


def at(day: int, hour: int, minute: int = 0) -> int:
    """A moment in November 2026, clinic time."""
    return int(datetime(2026, 11, day, hour, minute, tzinfo=MOSCOW).timestamp())


class Clock:
    """A fake clock the tests move by hand; pass ``clock`` to RingroundApp."""

    def __init__(self, now: int = DESK_NOW) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@dataclass
class DeskClinic:
    """The fixed clinic on a temporary file or a test database, with the ids tests refer to."""

    location: str  # as --db names it: a file, or a postgresql:// URL
    policy: Policy
    clients: dict[str, int] = field(default_factory=dict)
    appointments: dict[str, int] = field(default_factory=dict)
    call_lists: dict[str, int] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        """The database file, for a test about SQLite's file."""
        assert "://" not in self.location, f"{self.location} is not an SQLite file"
        return Path(self.location)

    def connect(self) -> Connection:
        return open_engine(self.location).connect()

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        conn = self.connect()
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def session(self, operator: str, now: int = DESK_NOW, *, supervisor: bool = False) -> Session:
        conn = self.connect()
        try:
            return start_session(conn, operator, now, supervisor=supervisor)
        finally:
            conn.close()

    def heartbeat(self, session: Session, now: int) -> None:
        conn = self.connect()
        try:
            heartbeat(conn, session, now)
        finally:
            conn.close()

    def claim(self, session: Session, appointment: str, now: int = DESK_NOW) -> Claim:
        """Lock an appointment row for ``session`` as its app would (C4)."""
        conn = self.connect()
        try:
            result = claim_row(
                conn, self.policy, session, RowKey(APPOINTMENT, self.appointments[appointment]), now
            )
        finally:
            conn.close()
        assert isinstance(result, Claim), result
        return result

    def held_by_olga(self, appointment: str) -> None:
        """Olga has held ``appointment`` for five minutes and is still working (alive)."""
        olga = self.session("olga", DESK_NOW - 5 * MINUTE)
        self.claim(olga, appointment, DESK_NOW - 5 * MINUTE)
        self.heartbeat(olga, DESK_NOW)

    def schedule_changes(self, csv: str) -> None:
        """The clinic's schedule changes appointments, as its system does: an import of
        ``csv`` (an id column and the columns that change) by root, on a connection of
        its own."""
        conn = self.connect()
        try:
            import_csv(
                conn,
                self.policy,
                "appointments",
                csv.encode(),
                source="schedule.csv",
                operator="root",
                supervisor=True,
                now=DESK_NOW,
            )
        finally:
            conn.close()

    def locks(self) -> list[tuple[Any, ...]]:
        """(kind, source_id, operator, session_id) of every lock."""
        return self.query(
            "SELECT kind, source_id, operator, session_id FROM locks ORDER BY kind, source_id"
        )

    def app(
        self, operator: str, clock: Callable[[], int] | None = None, poll_every: float = 1.0
    ) -> RingroundApp:
        clock = clock or Clock()
        return RingroundApp(
            self.location,
            self.policy,
            self.session(operator, clock()),
            clock=clock,
            poll_every=poll_every,
        )


# Tomorrow's (Friday's) appointments to confirm, in list order: name -> (client, start,
# doctor, service, status).
TOMORROW = {
    "ivanova": (
        "ivanova",
        at(27, 9, 30),
        "Орлова Е. В.",
        "Профессиональная гигиена",
        "unconfirmed",
    ),
    "smith": ("smith", at(27, 11), "Dr. Wilson", "Check-up", "unconfirmed"),
    "petrov": ("petrov", at(27, 12, 30), "Смирнов А. А.", "Лечение кариеса", "unconfirmed"),
    "kowalski": ("kowalski", at(27, 15), "Dr. Wilson", "X-ray", "left message"),
    "sidorov": ("sidorov", at(27, 16), "Орлова Е. В.", "Осмотр", "unconfirmed"),
}
FIRST_ROW = "ivanova"


def build_desk(folder: Path, location: str | None = None) -> DeskClinic:
    """Write the fixed clinic into ``location`` (an empty database), else ``folder``/clinic.db."""
    desk = DeskClinic(location or str(folder / "clinic.db"), default_policy())
    conn = open_engine(desk.location).connect(create=True)
    people = [
        # key, name, born, phones, e-mail, notes, do-not-call
        (
            "ivanova",
            "Иванова Мария Петровна",
            "1984-03-15",
            ["+7 916 123-45-67", "+7 495 765-43-21"],
            "m.ivanova@example.ru",
            "Предпочитает звонки после 10:00",
            False,
        ),
        ("smith", "John Smith", "1990-11-30", ["+7 903 555-12-12"], "john@example.com", "", False),
        (
            "petrov",
            "Петров Сергей Иванович",
            "1956-07-02",
            ["+7 926 000-11-22"],
            "",
            "Hard of hearing: speak slowly",
            False,
        ),
        ("kowalski", "Anna Kowalski", "2001-01-20", ["+7 915 222-33-44"], "", "", False),
        ("sidorov", "Сидоров Пётр", "1970-05-05", ["+7 985 111-22-33"], "", "", True),
    ]
    with write(conn):
        for key, name, born, phones, email, notes, dnc in people:
            client_id = conn.execute(
                "INSERT INTO clients (external_id, name, birth_date, email, notes, do_not_call)"
                " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (f"C-{key}", name, born, email, notes, int(dnc)),
            ).fetchone()[0]
            save_phones(conn, desk.policy.phones, client_id, phones)
            desk.clients[key] = client_id

        def appointment(client: str, starts: int, doctor: str, service: str, status: str) -> int:
            return int(
                conn.execute(
                    "INSERT INTO appointments (client_id, starts_at, doctor, service, status)"
                    " VALUES (?, ?, ?, ?, ?) RETURNING id",
                    (desk.clients[client], starts, doctor, service, status),
                ).fetchone()[0]
            )

        for name, (client, starts, doctor, service, status) in TOMORROW.items():
            desk.appointments[name] = appointment(client, starts, doctor, service, status)
        # Not on the list: confirmed already, a later visit, a past one.
        desk.appointments["smith-confirmed"] = appointment(
            "smith", at(27, 17), "Dr. Wilson", "Follow-up", "confirmed"
        )
        desk.appointments["ivanova-later"] = appointment(
            "ivanova", at(30, 14), "Смирнов А. А.", "Пломба", "unconfirmed"
        )
        desk.appointments["ivanova-past"] = appointment(
            "ivanova", at(2, 10), "Орлова Е. В.", "Осмотр", "confirmed"
        )

        # An earlier unsuccessful call on Petrov's appointment, with a comment (C6).
        petrov = RowKey(APPOINTMENT, desk.appointments["petrov"])
        olga = conn.execute(
            "INSERT INTO sessions (operator, pid, host, tty, started_at, heartbeat_at, ended_at)"
            " VALUES ('olga', 1, 'clinic', '', ?, ?, ?) RETURNING id",
            (DESK_NOW - 2 * DAY - 600, DESK_NOW - 2 * DAY, DESK_NOW - 2 * DAY),
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO call_rows (kind, source_id, client_id, failed_attempts,"
            " last_attempt_at, not_before) VALUES (?, ?, ?, 1, ?, ?)",
            (
                petrov.kind,
                petrov.source_id,
                desk.clients["petrov"],
                DESK_NOW - 2 * DAY,
                DESK_NOW - 2 * DAY + 3600,
            ),
        )
        conn.execute(
            "INSERT INTO attempts (kind, source_id, client_id, operator, session_id,"
            " started_at, ended_at, mode, outcome, comment) VALUES (?, ?, ?, 'olga', ?, ?, ?,"
            " 'manual', 'no-answer', 'Попросил перезвонить после обеда')",
            (
                petrov.kind,
                petrov.source_id,
                desk.clients["petrov"],
                olga,
                DESK_NOW - 2 * DAY - 60,
                DESK_NOW - 2 * DAY,
            ),
        )

        for list_name, members in (
            ("Hygiene recall, 6 months", ["petrov", "kowalski"]),
            ("Flu vaccination reminder", ["ivanova"]),
        ):
            list_id = conn.execute(
                "INSERT INTO call_lists (name, created_at, created_by) VALUES (?, ?, 'root')"
                " RETURNING id",
                (list_name, DESK_NOW - 7 * DAY),
            ).fetchone()[0]
            desk.call_lists[list_name] = list_id
            for member in members:
                conn.execute(
                    "INSERT INTO call_list_items (list_id, client_id, note) VALUES (?, ?, ?)",
                    (list_id, desk.clients[member], "Last visit in May"),
                )
        conn.execute(
            "INSERT INTO tasks (client_id, kind, title, due_at) VALUES (?, 'recall', ?, ?)",
            (desk.clients["smith"], "Recall after implant", DESK_NOW - DAY),
        )
        conn.execute(
            "INSERT INTO tasks (client_id, kind, title, due_at) VALUES (?, 'reminder', ?, ?)",
            (desk.clients["kowalski"], "Принести снимки", DESK_NOW - MINUTE),
        )
    conn.close()
    return desk


# --- driving the app ----------------------------------------------------------------------


def busy(app: RingroundApp) -> bool:
    return any(
        w.state in (WorkerState.PENDING, WorkerState.RUNNING)
        for w in app.workers
        if w.group not in ("poll", "heartbeat", "sweep")
    )


async def settle(pilot: Pilot[Any], timeout: float = PATIENCE) -> None:
    """Wait until no database worker runs (workers may start others when they report)."""
    app = pilot.app
    assert isinstance(app, RingroundApp)
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 2:
        await pilot.pause()
        if busy(app):
            quiet = 0
            if time.monotonic() > deadline:
                raise AssertionError(f"workers still busy after {timeout} s: {list(app.workers)}")
            await pilot.pause(POLL)
        else:
            quiet += 1


async def wait_until(
    pilot: Pilot[Any],
    condition: Callable[[], S | Literal[False] | None],
    what: str = "",
    timeout: float = PATIENCE,
) -> S:
    """Wait (without fixed sleeps) until ``condition()`` is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        await pilot.pause()
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        await pilot.pause(POLL)


@asynccontextmanager
async def running(app: RingroundApp, size: tuple[int, int] = (80, 24)) -> AsyncIterator[Pilot[Any]]:
    """Run the app headless; close its connections afterwards as run_app does."""
    try:
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            yield pilot
    finally:
        app.close_database()


def text_of(widget: Any) -> str:
    """The plain text a SteadyText (``shown``) or Static (``content``) shows."""
    shown = getattr(widget, "shown", None)
    content = shown if shown is not None else widget.content
    return content.plain if isinstance(content, Text) else str(content)


def freeze_cursors(app: RingroundApp) -> None:
    """No blinking cursor in snapshots."""
    for screen in app.screen_stack:
        for box in screen.query(Input):
            box.cursor_blink = False


Compare = Callable[..., bool]
Steps = Callable[[Pilot[Any]], Awaitable[None]]


def shoot(
    snap_compare: Compare, app: RingroundApp, size: tuple[int, int], steps: Steps | None = None
) -> bool:
    """Take a snapshot of ``app`` after ``steps``, with workers done and cursors frozen."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        if steps is not None:
            await steps(pilot)
        await settle(pilot)
        freeze_cursors(app)
        await pilot.pause()

    return snap_compare(app, terminal_size=size, run_before=run_before)


async def open_list(pilot: Pilot[Any], index: int = 0) -> WorkScreen:
    """From the list picker, open the ``index``-th work list (arrows, Enter)."""
    app = pilot.app
    await wait_until(
        pilot,
        lambda: isinstance(app.screen, ListPicker) and app.screen.summaries,
        "the list picker with its lists",
    )
    await pilot.press(*["down"] * index, "enter")
    screen = await wait_until(
        pilot,
        lambda: (
            isinstance(app.screen, WorkScreen) and app.screen.activation is not None and app.screen
        ),
        "the work screen with its first row active",
    )
    await settle(pilot)
    assert isinstance(screen, WorkScreen)
    return screen


async def start_call(pilot: Pilot[Any], screen: WorkScreen) -> None:
    """On the work screen, start the call on the active row (c) and wait until it is ours."""
    await pilot.press("c")
    await wait_until(
        pilot,
        lambda: (
            screen.activation is not None
            and screen.activation.state.lock is not None
            and screen.activation.state.lock.mine
        ),
        "the call to start",
    )


async def open_card(pilot: Pilot[Any]) -> ClientCard:
    """From the work screen, open the active row's client card (k) and wait for its client."""
    app = pilot.app
    await pilot.press("k")
    card = await wait_until(
        pilot,
        lambda: isinstance(app.screen, ClientCard) and app.screen.client is not None and app.screen,
        "the client card with its client",
    )
    assert isinstance(card, ClientCard)
    return card


async def go_to(pilot: Pilot[Any], screen: WorkScreen, source_id: int) -> None:
    """Move the cursor with the arrow keys onto a row and wait for its activation."""
    table = screen.query_one(RowTable)
    steps = table.ids.index(source_id) - table.cursor
    await pilot.press(*(["down"] * steps if steps > 0 else ["up"] * -steps))
    await wait_until(
        pilot,
        lambda: (
            screen.activation is not None and screen.activation.state.key.source_id == source_id
        ),
        "activation",
    )
    await settle(pilot)


def option_texts(picker: ListPicker) -> list[str]:
    """The list picker's lines, each with its runs of spaces made one."""
    options = picker.query_one("#lists", OptionList)
    return [
        " ".join(str(options.get_option_at_index(i).prompt).split())
        for i in range(options.option_count)
    ]


def state(screen: WorkScreen) -> str:
    """The pane's lock/state line."""
    return text_of(screen.query_one("#state"))


def notices(app: RingroundApp) -> list[str]:
    """The short notices (toasts) the app has shown and not yet taken away."""
    return [notification.message for notification in app._notifications]
