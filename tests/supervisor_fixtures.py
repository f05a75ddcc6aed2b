"""Data for the supervisor, report and same-phone tests, on the fixed clinic of clinic_fixtures.

Everything is deterministic (fixed clock, fixed host names), so that the
snapshots are the same on every machine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from storage.engine import write
from storage.locks import Claim, claim_row
from storage.rows import APPOINTMENT, ITEM, TASK, RowKey
from storage.sessions import Session
from tests.clinic_fixtures import DESK_NOW, MINUTE, Clock, DeskClinic, at, settle, wait_until
from tui.app import RingroundApp
from tui.report_screen import ReportScreen
from tui.supervisor_screen import SupervisorScreen


def supervisor_app(
    desk: DeskClinic, operator: str = "root", clock: Callable[[], int] | None = None
) -> RingroundApp:
    """The app of a supervisor (the policy's default supervisor is root)."""
    clock = clock or Clock()
    session = desk.session(operator, clock(), supervisor=True)
    app = RingroundApp(desk.location, desk.policy, session, clock=clock)
    fixed_places(desk)
    return app


def fixed_places(desk: DeskClinic) -> None:
    """Host and terminal of every session as on the clinic's server, not this machine's."""
    conn = desk.connect()
    try:
        with write(conn):
            conn.execute("UPDATE sessions SET host = 'clinic-srv', tty = '/dev/pts/' || id")
    finally:
        conn.close()


def operators_at_work(desk: DeskClinic) -> dict[str, Session]:
    """olga calls Smith (5 min); bob a Hygiene-recall item (20 min: stale, still working);
    carol's app died 10 minutes into a call on Kowalski (gone; not stale yet)."""
    olga = desk.session("olga", DESK_NOW - 60 * MINUTE)
    bob = desk.session("bob", DESK_NOW - 90 * MINUTE)
    carol = desk.session("carol", DESK_NOW - 30 * MINUTE)
    desk.claim(olga, "smith", DESK_NOW - 5 * MINUTE)
    desk.claim(carol, "kowalski", DESK_NOW - 10 * MINUTE)
    conn = desk.connect()
    try:
        item = conn.execute(
            "SELECT id FROM call_list_items WHERE list_id = ? AND client_id = ?",
            (desk.call_lists["Hygiene recall, 6 months"], desk.clients["kowalski"]),
        ).fetchone()[0]
        claimed = claim_row(conn, desk.policy, bob, RowKey(ITEM, item), DESK_NOW - 20 * MINUTE)
        assert isinstance(claimed, Claim), claimed
    finally:
        conn.close()
    for session in (olga, bob):
        desk.heartbeat(session, DESK_NOW - 15)
    desk.heartbeat(carol, DESK_NOW - 10 * MINUTE)  # the last beat before the crash
    return {"olga": olga, "bob": bob, "carol": carol}


# Calls of the last days: (operator, kind, row name, start, outcome). Row names are keys of
# clinic.appointments, "item:<client>" (their call-list item) or "task:<client>".
CALLS = [
    ("alice", APPOINTMENT, "ivanova-later", at(24, 9, 10), "confirmed"),
    ("alice", APPOINTMENT, "kowalski", at(24, 9, 40), "no-answer"),
    ("alice", ITEM, "item:ivanova", at(23, 11, 5), "busy"),
    ("bob", APPOINTMENT, "smith", at(25, 10, 0), "no-answer"),
    ("bob", ITEM, "item:petrov", at(25, 10, 30), "wrong-number"),
    ("alice", APPOINTMENT, "ivanova", at(26, 9, 20), "confirmed"),
    ("bob", TASK, "task:kowalski", at(26, 9, 30), "left-message"),
    ("alice", TASK, "task:smith", at(26, 9, 45), "cancels"),
]


def record_calls(desk: DeskClinic) -> None:
    """Write CALLS as finished attempts (the fixture already has olga's call of 24.11)."""
    conn = desk.connect()
    try:
        with write(conn):
            sessions = {
                operator: conn.execute(
                    "INSERT INTO sessions (operator, pid, host, tty, started_at, heartbeat_at,"
                    " ended_at) VALUES (?, 1, 'clinic-srv', '', ?, ?, ?) RETURNING id",
                    (operator, at(24, 8), at(24, 8), at(24, 8)),
                ).fetchone()[0]
                for operator in ("alice", "bob")
            }
            for operator, kind, name, started, outcome in CALLS:
                if kind == APPOINTMENT:
                    source = desk.appointments[name]
                    client = conn.execute(
                        "SELECT client_id FROM appointments WHERE id = ?", (source,)
                    ).fetchone()[0]
                elif kind == ITEM:
                    client = desk.clients[name.split(":")[1]]
                    source = conn.execute(
                        "SELECT id FROM call_list_items WHERE client_id = ? ORDER BY id", (client,)
                    ).fetchone()[0]
                else:
                    client = desk.clients[name.split(":")[1]]
                    source = conn.execute(
                        "SELECT id FROM tasks WHERE client_id = ?", (client,)
                    ).fetchone()[0]
                conn.execute(
                    "INSERT INTO attempts (kind, source_id, client_id, operator, session_id,"
                    " started_at, ended_at, mode, outcome, comment)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, 'manual', ?, '')",
                    (
                        kind,
                        source,
                        client,
                        operator,
                        sessions[operator],
                        started,
                        started + 90,
                        outcome,
                    ),
                )
    finally:
        conn.close()


async def open_supervisor_screen(pilot: Any) -> SupervisorScreen:
    app = pilot.app
    await pilot.press("v")
    screen = await wait_until(
        pilot,
        lambda: (
            isinstance(app.screen, SupervisorScreen)
            and app.screen.overview is not None
            and app.screen
        ),
        "the supervisor screen with its listings",
    )
    await settle(pilot)
    assert isinstance(screen, SupervisorScreen)
    return screen


async def open_report(pilot: Any) -> ReportScreen:
    """Open the reports (p) and wait until the first report is on the screen."""
    app = pilot.app
    await pilot.press("p")
    screen = await wait_until(
        pilot,
        lambda: (
            isinstance(app.screen, ReportScreen) and app.screen.report is not None and app.screen
        ),
        "the report with its numbers",
    )
    await settle(pilot)
    assert isinstance(screen, ReportScreen)
    return screen
