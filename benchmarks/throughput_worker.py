"""One operator process of the claim → finish benchmark (started with multiprocessing, spawn).

Every kind of worker goes once through every row of the list in its own
shuffled order, claiming each row and, when it wins it, finishing it with a
closing outcome, each transaction on its own connection:

- :func:`ringround_worker` calls ``storage.locks.claim_row`` and ``finish_call``
  on the database's engine (``storage.engine.open_engine``: an SQLite file or
  a ``postgresql://`` URL) with the engine's clock, retrying busy errors as
  the app's ``Database.call`` does (tui/database_work.py);
- :func:`bare_worker` runs the same two transactions in bare ``sqlite3``: the
  same pragmas (WAL, ``synchronous=FULL``, 5 s busy timeout), ``BEGIN
  IMMEDIATE``, and the same rows written (lock, epoch, claim audit; then the
  lock deleted where session and epoch are ours, the attempt, the call row
  closed, the list item processed, the release audit, each audit entry chained by
  ``storage.audit.audit``), but with no more
  statements than that needs and no Python layers around them;
- :func:`bare_postgres_worker` is PostgreSQL's limit: one-row UPDATE
  transactions in bare psycopg, a claim and a finish one each;
- :func:`replayed_postgres_worker` sends, from bare psycopg, what
  :func:`record_postgres` recorded one ringround process sending: the
  ceiling of ringround's own statements (benchmarks/postgresql.py).

Each worker writes what it saw to a JSON file: when it started and ended
(``time.monotonic``, one clock for every process), the processor time it used
in between, the rows it won and how long each claim took and whether it won,
and how long each finish took.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import socket
import sqlite3
import time
from collections.abc import Callable
from functools import partial
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any, TypeVar

from storage.audit import audit
from storage.connection import Connection
from storage.database import DatabaseBusy
from storage.engine import Engine, open_engine
from storage.locks import Claim, Refusal, claim_row, finish_call
from storage.policy import default_policy
from storage.rows import ITEM, RowKey
from storage.sessions import end_session, start_session

T = TypeVar("T")


def _retrying(action: Callable[[], T]) -> T:
    """As the app's Database.call (tui/database_work.py): after a busy error, wait and retry."""
    while True:
        try:
            return action()
        except DatabaseBusy:
            time.sleep(0.5)


def _times() -> tuple[float, float]:
    """Now on the clock every process shares (monotonic), and this process's processor time."""
    return time.monotonic(), time.process_time()


def _report(
    out: str,
    started: tuple[float, float],
    ended: tuple[float, float],
    wins: list[int],
    claims: list[tuple[float, bool]],
    finishes: list[float],
) -> None:
    Path(out).write_text(
        json.dumps(
            {
                "started": started[0],
                "ended": ended[0],
                "processor": ended[1] - started[1],
                "wins": wins,
                "claims": claims,
                "finishes": finishes,
            }
        ),
        encoding="utf-8",
    )


def ringround_worker(
    location: str, operator: str, ids: list[int], seed: int, start: Barrier, out: str
) -> None:
    engine = open_engine(location)
    _ringround_rows(engine, engine.connect(), operator, ids, seed, start, out)


def _ringround_rows(
    engine: Engine,
    conn: Connection,
    operator: str,
    ids: list[int],
    seed: int,
    start: Barrier,
    out: str,
) -> None:
    """:func:`ringround_worker`'s work on a connection already made."""
    policy = default_policy()
    session = _retrying(lambda: start_session(conn, operator, engine.now()))
    order = random.Random(seed).sample(ids, len(ids))
    wins: list[int] = []
    claims: list[tuple[float, bool]] = []  # seconds, won
    finishes: list[float] = []  # seconds
    start.wait(timeout=120)
    started = _times()

    def claim(key: RowKey) -> Claim | Refusal:
        return claim_row(conn, policy, session, key, engine.now())

    def finish(won: Claim) -> None:
        finish_call(conn, policy, session, won, "confirmed", "", engine.now())

    for source_id in order:
        began = time.perf_counter()
        result = _retrying(partial(claim, RowKey(ITEM, source_id)))
        claims.append((time.perf_counter() - began, isinstance(result, Claim)))
        if isinstance(result, Claim):
            began = time.perf_counter()
            _retrying(partial(finish, result))
            finishes.append(time.perf_counter() - began)
            wins.append(source_id)
    ended = _times()
    _retrying(lambda: end_session(conn, session, engine.now()))
    conn.close()
    _report(out, started, ended, wins, claims, finishes)


def _bare_connection(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=5.0)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def _bare(conn: sqlite3.Connection, action: Callable[[], T]) -> T:
    """One transaction: BEGIN IMMEDIATE, the action, COMMIT; busy errors try again."""
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            time.sleep(0.5)
            continue
        try:
            result = action()
            conn.execute("COMMIT")
            return result
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def bare_worker(
    path: str, operator: str, ids: list[int], seed: int, start: Barrier, out: str
) -> None:
    conn = _bare_connection(path)
    now = int(time.time())
    session = _bare(
        conn,
        lambda: conn.execute(
            "INSERT INTO sessions (operator, pid, host, tty, started_at, heartbeat_at)"
            " VALUES (?, ?, ?, '', ?, ?) RETURNING id",
            (operator, os.getpid(), socket.gethostname(), now, now),
        ).fetchone()[0],
    )
    order = random.Random(seed).sample(ids, len(ids))
    wins: list[int] = []
    claims: list[tuple[float, bool]] = []  # seconds, won
    finishes: list[float] = []  # seconds

    def claim(source_id: int) -> tuple[int, int] | None:
        now = int(time.time())
        row = conn.execute(
            "SELECT i.client_id, i.processed_at IS NULL AND l.kind IS NULL FROM call_list_items i"
            " LEFT JOIN locks l ON l.kind = 'item' AND l.source_id = i.id WHERE i.id = ?",
            (source_id,),
        ).fetchone()
        if not row[1]:
            return None
        epoch = conn.execute(
            "INSERT INTO call_rows (kind, source_id, client_id, epoch) VALUES ('item', ?, ?, 1)"
            " ON CONFLICT DO UPDATE SET epoch = epoch + 1 RETURNING epoch",
            (source_id, row[0]),
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO locks (kind, source_id, client_id, session_id, operator, since, epoch)"
            " VALUES ('item', ?, ?, ?, ?, ?, ?)",
            (source_id, row[0], session, operator, now, epoch),
        )
        # The audit entry, chained to the one before (the same few statements as the app's).
        audit(conn, now, operator, session, "claim", RowKey(ITEM, source_id), row[0])
        return row[0], epoch

    def finish(source_id: int, client_id: int, epoch: int) -> None:
        now = int(time.time())
        since = conn.execute(
            "DELETE FROM locks WHERE kind = 'item' AND source_id = ? AND session_id = ?"
            " AND epoch = ? RETURNING since",
            (source_id, session, epoch),
        ).fetchone()
        assert since is not None, "lost a lock nobody else could take"
        conn.execute(
            "INSERT INTO attempts (kind, source_id, client_id, operator, session_id, started_at,"
            " ended_at, mode, outcome) VALUES ('item', ?, ?, ?, ?, ?, ?, 'manual', 'confirmed')",
            (source_id, client_id, operator, session, since[0], now),
        )
        conn.execute(
            "UPDATE call_rows SET last_attempt_at = ?, closed_at = ?, closed_reason = 'confirmed'"
            " WHERE kind = 'item' AND source_id = ?",
            (now, now, source_id),
        )
        conn.execute("UPDATE call_list_items SET processed_at = ? WHERE id = ?", (now, source_id))
        audit(conn, now, operator, session, "release", RowKey(ITEM, source_id), client_id)

    start.wait(timeout=120)
    started = _times()
    for source_id in order:
        began = time.perf_counter()
        won = _bare(conn, partial(claim, source_id))
        claims.append((time.perf_counter() - began, won is not None))
        if won is not None:
            client_id, epoch = won
            began = time.perf_counter()
            _bare(conn, partial(finish, source_id, client_id, epoch))
            finishes.append(time.perf_counter() - began)
            wins.append(source_id)
    ended = _times()
    conn.close()
    _report(out, started, ended, wins, claims, finishes)


BARE_TABLE = "bare_rows"
BARE_ROWS = f"CREATE TABLE {BARE_TABLE} (id BIGINT PRIMARY KEY, claimed_by TEXT, done_at BIGINT)"


def bare_postgres_worker(
    url: str, operator: str, ids: list[int], seed: int, start: Barrier, out: str
) -> None:
    """PostgreSQL's physical limit: one-row UPDATE transactions, the same work's shape.

    Each worker goes through the rows in the same shuffled order as ringround's
    would, on a table of ``bare_rows`` (:data:`BARE_ROWS`, one row per list
    row): a claim is one autocommitted UPDATE of that row, where nobody
    claimed it yet; a won claim is followed by a finish, one autocommitted
    UPDATE of the same row. psycopg as it comes (server-side prepared
    statements after a few runs), one connection per worker.
    """
    import psycopg

    conn = psycopg.connect(url, autocommit=True)
    order = random.Random(seed).sample(ids, len(ids))
    wins: list[int] = []
    claims: list[tuple[float, bool]] = []  # seconds, won
    finishes: list[float] = []  # seconds

    start.wait(timeout=120)
    started = _times()
    for source_id in order:
        began = time.perf_counter()
        won = conn.execute(
            f"UPDATE {BARE_TABLE} SET claimed_by = %s WHERE id = %s AND claimed_by IS NULL",
            (operator, source_id),
        ).rowcount
        claims.append((time.perf_counter() - began, won == 1))
        if won == 1:
            began = time.perf_counter()
            conn.execute(
                f"UPDATE {BARE_TABLE} SET done_at = %s WHERE id = %s", (int(time.time()), source_id)
            )
            finishes.append(time.perf_counter() - began)
            wins.append(source_id)
    ended = _times()
    conn.close()
    _report(out, started, ended, wins, claims, finishes)


def record_postgres(url: str, ids: list[int], recording: str) -> None:
    """Run :func:`ringround_worker`'s work alone on ``url``, writing down what it sent.

    Every text the connection sends the server, parameters written in, is
    kept; they are cut into transactions after each ``COMMIT`` (a claim's
    plain read goes with its write, a prepared statement's ``PREPARE`` with
    the write it precedes), which must give the session's start, a claim and a
    finish for each row, and the session's end. ``recording`` (JSON) holds
    them for :func:`replayed_postgres_worker`.
    """
    import psycopg

    from storage.postgres_connection import PostgresConnection

    sent: list[str] = []

    class Recording(psycopg.ClientCursor[Any]):
        def execute(self, query: Any, params: Any = None, **options: Any) -> Recording:
            sent.append(self.mogrify(query, params) if params else str(query))
            super().execute(query, params, **options)
            return self

    engine = open_engine(url)
    conn = engine.connect()
    assert isinstance(conn, PostgresConnection), url
    conn.raw.cursor_factory = Recording
    alone = multiprocessing.get_context("spawn").Barrier(1)
    _ringround_rows(engine, conn, "op0", ids, 0, alone, f"{recording}.report")
    Path(f"{recording}.report").unlink()
    transactions = _transactions(sent)
    if len(transactions) != 2 * len(ids) + 2:
        raise AssertionError(
            f"recorded {len(transactions)} transactions for {len(ids)} rows, not 2 per row + 2"
        )
    order = random.Random(0).sample(ids, len(ids))
    rows = [[source_id, *transactions[1 + 2 * n : 3 + 2 * n]] for n, source_id in enumerate(order)]
    Path(recording).write_text(
        json.dumps({"start": transactions[0], "rows": rows, "end": transactions[-1]}),
        encoding="utf-8",
    )


def _transactions(sent: list[str]) -> list[str]:
    """The texts sent, joined into one message per transaction (each ends with its COMMIT)."""
    transactions: list[str] = []
    pending: list[str] = []
    for text in sent:
        pending.append(text)
        if text.rstrip().endswith("COMMIT"):
            transactions.append("; ".join(pending))
            pending = []
    if pending:
        raise AssertionError(f"sent outside any transaction at the end: {pending}")
    return transactions


def replayed_postgres_worker(
    recording: str, url: str, operator: str, ids: list[int], seed: int, start: Barrier, out: str
) -> None:
    """The ceiling of ringround's statements on PostgreSQL: them, and no application logic.

    On a fresh copy of the database :func:`record_postgres` ran on, this sends
    what it recorded, the same rows in the same order, one message per claim
    and one per finish: the fewest round trips any client could make of those
    statements, with no Python around them but psycopg's. One process only
    (``operator``, ``ids`` and ``seed`` are the recording's: its session's
    id, epochs and times are written into the statements).
    """
    import psycopg

    recorded = json.loads(Path(recording).read_text(encoding="utf-8"))
    conn = psycopg.connect(url, autocommit=True, cursor_factory=psycopg.ClientCursor)
    conn.execute(recorded["start"])
    wins: list[int] = []
    claims: list[tuple[float, bool]] = []  # seconds, won
    finishes: list[float] = []  # seconds
    start.wait(timeout=120)
    started = _times()
    for source_id, claim, finish in recorded["rows"]:
        began = time.perf_counter()
        conn.execute(claim)
        claims.append((time.perf_counter() - began, True))
        began = time.perf_counter()
        conn.execute(finish)
        finishes.append(time.perf_counter() - began)
        wins.append(source_id)
    ended = _times()
    conn.execute(recorded["end"])
    conn.close()
    _report(out, started, ended, wins, claims, finishes)
