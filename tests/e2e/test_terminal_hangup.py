"""The app ends cleanly when its terminal's input ends, even when no SIGHUP reaches it.

The real ``ringround`` runs on a pty (tests/pty_app.py) that is not its
controlling terminal, so closing the pty's master side hangs the terminal up
without sending the program any signal: the case of a login wrapper that
ignores SIGHUP and keeps waiting, or of a program in the background. Mid-call,
the app must end, end its session (so the lock then follows the rules for a
session that is gone) and keep the lock of the unsaved call (C9). On each
engine: an SQLite file, then a database on the tests' PostgreSQL server.
"""

from __future__ import annotations

import time
from pathlib import Path

from storage.connection import Connection
from storage.engine import open_engine, write
from storage.locks import inspect_row
from storage.policy import default_policy
from storage.rows import ITEM, RowKey
from storage.sessions import start_session
from tests.pty_app import PtyApp, ringround_argv
from tests.stored_clinic import NOW
from tests.waiting import wait_until

POLICY = '[calls]\nhours = "00:00-24:00"\n'  # the real clock: any time of day may call


def one(conn: Connection, sql: str, *params: object) -> object:
    row = conn.execute(sql, params).fetchone()
    return None if row is None else row[0]


def test_a_hung_up_terminal_ends_the_app_and_its_session_and_keeps_the_lock(
    tmp_path: Path, engine_location: str
) -> None:
    db, policy = engine_location, tmp_path / "policy.toml"
    policy.write_text(POLICY, encoding="utf-8")
    conn = open_engine(db).connect()
    try:
        with write(conn):
            conn.executemany(
                "INSERT INTO clients (id, name) VALUES (?, ?)",
                [(n, f"Клиент {n}") for n in (1, 2, 3)],
            )
            conn.execute(
                "INSERT INTO call_lists (id, name, created_at, created_by)"
                " VALUES (1, 'Recall', ?, 'root')",
                (NOW,),
            )
            conn.executemany(
                "INSERT INTO call_list_items (list_id, client_id) VALUES (1, ?)", [(1,), (2,), (3,)]
            )
        app = PtyApp([*ringround_argv(), "--db", db, "--policy", str(policy)])
        try:
            session = wait_until(
                lambda: one(conn, "SELECT id FROM sessions WHERE pid = ?", app.pid), "the session"
            )
            app.wait_for("Recall", timeout=30)
            app.wait_quiet(0.2)
            mark = app.size
            app.send("down", "enter")  # the call list, after appointment confirmation
            app.wait_for(" rows", since=mark)
            app.wait_quiet(0.2)
            app.send("c")
            source = wait_until(
                lambda: one(conn, "SELECT source_id FROM locks WHERE session_id = ?", session),
                "the claim",
            )
            app.hang_up()
            code = app.wait_exit(30)
        finally:
            app.close()
        assert code == 0
        ended = one(conn, "SELECT ended_at FROM sessions WHERE id = ?", session)
        assert ended is not None  # gone at once, not after alive_for
        assert one(conn, "SELECT session_id FROM locks WHERE source_id = ?", source) == session
        # The operator's next session finds the call hers from earlier (C9), with no wait.
        operator = one(conn, "SELECT operator FROM sessions WHERE id = ?", session)
        again = start_session(conn, str(operator), int(time.time()))
        lock = inspect_row(
            conn, default_policy(), again, RowKey(ITEM, int(str(source))), int(time.time())
        ).lock
        assert lock is not None and lock.mine_earlier and not lock.alive
    finally:
        conn.close()
