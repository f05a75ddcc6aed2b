"""kill -9 of operator processes at random moments: nothing half-saved, orphans cleaned up.

On both engines (tests/conftest.py): on SQLite a killed writer leaves its
transaction in the file's journal, on PostgreSQL the server rolls back the
transaction of a connection that vanished.

Workers (tests/race_worker.py) claim and finish rows in a loop, pausing while
they hold a lock, and are SIGKILLed at random moments, round after round. The
fake clock moves ten hours between rounds, so every lock a killed worker left
is stale and its session gone by the next round (C11 then removes it when a
row is touched). After each round the database must tell one consistent story.
"""

from __future__ import annotations

import multiprocessing
import random
import signal
import time

from storage.connection import Connection
from storage.engine import open_engine
from storage.locks import inspect_row, remove_stale_locks
from storage.policy import Policy, default_policy
from storage.rows import ITEM, RowKey
from storage.sessions import start_session
from tests import race_worker
from tests.database_contents import intact
from tests.stored_clinic import NOW, StoredClinic

SPAWN = multiprocessing.get_context("spawn")
ROUNDS = 20
WORKERS = 4
ROWS = 4000
ROUND_GAP = 10 * 3600  # longer than any retry delay, stale_after and alive_for
FAILED = tuple(code for code, _ in race_worker.KILL_OUTCOMES if code != "confirmed")


def one(conn: Connection, sql: str) -> int:
    return int(conn.execute(sql).fetchone()[0])


def check_consistent(conn: Connection, policy: Policy) -> None:
    """What must hold however the writers died."""
    assert intact(conn)
    # Never a lock on a closed row, or on a row whose closing attempt is saved.
    assert (
        one(
            conn,
            "SELECT count(*) FROM locks l JOIN call_rows r USING (kind, source_id)"
            " WHERE r.closed_at IS NOT NULL",
        )
        == 0
    )
    assert (
        one(
            conn,
            "SELECT count(*) FROM locks l JOIN attempts a USING (kind, source_id)"
            " WHERE a.outcome = 'confirmed'",
        )
        == 0
    )
    # Every lock is the row's latest claim.
    assert (
        one(
            conn,
            "SELECT count(*) FROM locks l JOIN call_rows r USING (kind, source_id)"
            " WHERE l.epoch != r.epoch",
        )
        == 0
    )
    # Each row: done <=> exactly one confirming attempt <=> closed as confirmed.
    marks = ",".join("?" * len(FAILED))
    rows = conn.execute(
        "SELECT i.id, i.processed_at IS NOT NULL, r.closed_reason,"
        " coalesce(r.failed_attempts, 0), coalesce(r.epoch, 0),"
        " (SELECT count(*) FROM attempts a WHERE a.kind = 'item' AND a.source_id = i.id"
        "  AND a.outcome = 'confirmed'),"
        f" (SELECT count(*) FROM attempts a WHERE a.kind = 'item' AND a.source_id = i.id"
        f"  AND a.outcome IN ({marks})),"
        " (SELECT count(*) FROM attempts a WHERE a.kind = 'item' AND a.source_id = i.id),"
        " (SELECT outcome FROM attempts a WHERE a.kind = 'item' AND a.source_id = i.id"
        "  ORDER BY id DESC LIMIT 1)"
        " FROM call_list_items i LEFT JOIN call_rows r ON r.kind = 'item' AND r.source_id = i.id",
        FAILED,
    ).fetchall()
    for item, done, reason, failed, epoch, confirmed, failures, total, last in rows:
        assert confirmed in (0, 1), item
        assert bool(done) == (confirmed == 1) == (reason == "confirmed"), item
        if confirmed:
            assert last == "confirmed", item  # nothing was saved after the row closed
        assert failed == failures, item
        assert total == confirmed + failures, item
        assert (reason == "unreachable") == (failed >= policy.max_attempts), item
        assert epoch >= total, item  # every attempt followed a claim
    # Each saved outcome was one transaction: the attempt and its release audit.
    assert one(conn, "SELECT count(*) FROM attempts") == one(
        conn, "SELECT count(*) FROM audit WHERE event = 'release'"
    )
    # Each claim bumped the epoch and was audited in the same transaction; each lock
    # ended by a finish or an auto-removal, or is still there.
    claims = one(conn, "SELECT count(*) FROM audit WHERE event = 'claim'")
    assert claims == one(conn, "SELECT coalesce(sum(epoch), 0) FROM call_rows")
    assert claims == (
        one(conn, "SELECT count(*) FROM audit WHERE event = 'release'")
        + one(conn, "SELECT count(*) FROM audit WHERE event = 'auto-removal'")
        + one(conn, "SELECT count(*) FROM locks")
    )
    assert one(conn, "SELECT count(*) FROM audit WHERE event = 'takeover'") == 0


def kill_round(location: str, rows: list[int], now: int, rng: random.Random) -> None:
    """Start the workers, let them work, and SIGKILL each at its own random moment."""
    ready = [SPAWN.Event() for _ in range(WORKERS)]
    workers = [
        SPAWN.Process(
            target=race_worker.work_until_killed,
            args=(location, f"op-{now}-{n}", rows, rng.randrange(2**32), now, ready[n]),
        )
        for n in range(WORKERS)
    ]
    for worker in workers:
        worker.start()
    try:
        for event in ready:
            assert event.wait(60), "a worker did not start"
        started = time.monotonic()
        for delay, worker in sorted(
            ((rng.uniform(0, 0.2), w) for w in workers), key=lambda pair: pair[0]
        ):
            time.sleep(max(0.0, started + delay - time.monotonic()))
            assert worker.is_alive(), f"worker died by itself (exit code {worker.exitcode})"
            worker.kill()
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
            worker.join(30)
    assert [w.exitcode for w in workers] == [-signal.SIGKILL] * WORKERS


def test_writers_killed_at_random_moments(engine_location: str) -> None:
    policy = default_policy()
    conn = open_engine(engine_location).connect()
    try:
        _, rows = StoredClinic(conn, engine_location).add_clients_on_list(ROWS)
        rng = random.Random(20250312)
        orphans_seen = 0
        now = NOW
        for round_ in range(ROUNDS):
            now = NOW + round_ * ROUND_GAP
            kill_round(engine_location, rows, now, rng)
            check_consistent(conn, policy)
            orphans_seen += one(conn, "SELECT count(*) FROM locks")
        done = one(conn, "SELECT count(*) FROM call_list_items WHERE processed_at IS NOT NULL")
        assert done > 0
        assert orphans_seen > 0, "no kill ever landed while a lock was held"
        assert done < ROWS, "the workers ran out of rows: the kills came too late"

        # Locks of earlier rounds that no worker touched again are stale, their
        # sessions gone: the sweep at the last round's time takes exactly those.
        older = one(conn, f"SELECT count(*) FROM locks WHERE since < {now}")
        sweeper = start_session(conn, "sweeper", now)
        assert remove_stale_locks(conn, policy, sweeper, now) == older
        # The locks the last round left behind are fresh: nothing may happen yet.
        orphans = conn.execute("SELECT kind, source_id, operator FROM locks").fetchall()
        assert (
            orphans
            == conn.execute(
                "SELECT kind, source_id, operator FROM locks WHERE since = ?", (now,)
            ).fetchall()
        )
        almost = now + policy.stale_after - 1
        assert remove_stale_locks(conn, policy, sweeper, almost) == 0
        assert one(conn, "SELECT count(*) FROM locks") == len(orphans)

        # Past stale_after and alive_for: activation removes some, the sweep the rest.
        later = now + max(policy.stale_after, policy.alive_for) + 1
        sweeper = start_session(conn, "sweeper", later)
        inspected = orphans[: len(orphans) // 2]
        for kind, source_id, operator in inspected:
            state = inspect_row(conn, policy, sweeper, RowKey(kind, source_id), later)
            assert state.removed_stale_lock == operator
            assert state.lock is None
        assert remove_stale_locks(conn, policy, sweeper, later) == len(orphans) - len(inspected)
        assert one(conn, "SELECT count(*) FROM locks") == 0
        check_consistent(conn, policy)
        # Every row that is not closed can be called again (once retry delays are over).
        open_rows = [
            r[0]
            for r in conn.execute(
                "SELECT i.id FROM call_list_items i LEFT JOIN call_rows r"
                " ON r.kind = 'item' AND r.source_id = i.id WHERE r.closed_at IS NULL"
            )
        ]
        assert len(open_rows) == ROWS - one(
            conn, "SELECT count(*) FROM call_rows WHERE closed_at IS NOT NULL"
        )
        for source_id in open_rows[:50]:
            state = inspect_row(conn, policy, sweeper, RowKey(ITEM, source_id), now + ROUND_GAP)
            assert state.lock is None and state.refusal is None
    finally:
        conn.close()
