"""Many operator processes on one database: no row is ever claimed twice.

Each worker is a separate process (multiprocessing, spawn) with its own
connection and session; see tests/race_worker.py. Every race runs on both
engines: an SQLite file and a PostgreSQL database (tests/conftest.py).
"""

from __future__ import annotations

import json
import multiprocessing
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from storage.connection import Connection
from storage.engine import open_engine
from storage.locks import Claim, Refusal, claim_row
from storage.policy import default_policy
from storage.rows import ITEM, RowKey
from tests import race_worker
from tests.database_contents import intact
from tests.stored_clinic import NOW, StoredClinic

SPAWN = multiprocessing.get_context("spawn")
JOIN_TIMEOUT = 120


def make_rows(location: str, count: int) -> list[int]:
    conn = open_engine(location).connect()
    try:
        _, items = StoredClinic(conn, location).add_clients_on_list(count)
    finally:
        conn.close()
    return items


def run_workers(targets: list[tuple[object, ...]], function: Callable[..., None]) -> None:
    processes = [SPAWN.Process(target=function, args=args) for args in targets]
    for process in processes:
        process.start()
    for process in processes:
        process.join(JOIN_TIMEOUT)
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join()
    assert [p.exitcode for p in processes] == [0] * len(processes)


def check_database(location: str, rows: list[int], wins: list[int]) -> None:
    conn = open_engine(location).connect()
    try:
        assert intact(conn)
        assert conn.execute("SELECT count(*) FROM locks").fetchone()[0] == 0
        attempts = conn.execute(
            "SELECT source_id, operator, comment FROM attempts WHERE kind = ?", (ITEM,)
        ).fetchall()
        assert len(attempts) == len(rows) == len(wins)
        assert sorted(a[0] for a in attempts) == sorted(rows)
        assert all(a[1] == a[2] for a in attempts)  # each saved by the one who claimed it
        processed = conn.execute(
            "SELECT count(*) FROM call_list_items WHERE processed_at IS NOT NULL"
        ).fetchone()[0]
        assert processed == len(rows)
        closed = conn.execute(
            "SELECT count(*) FROM call_rows WHERE closed_reason = 'confirmed' AND epoch = 1"
        ).fetchone()[0]
        assert closed == len(rows)  # every row was claimed exactly once
        claims = conn.execute("SELECT count(*) FROM audit WHERE event = 'claim'").fetchone()[0]
        assert claims == len(rows)
    finally:
        conn.close()


def race(location: str, tmp_path: Path, workers: int, count: int) -> list[dict[str, Any]]:
    """Let ``workers`` processes go through ``count`` rows; return what each one reports.

    Whether the rows end up shared out depends on the scheduler (a fast
    worker may finish a short list before the others wake), so only the
    long race below checks that; contention on every single row is proven
    by the barrier test.
    """
    rows = make_rows(location, count)
    outs = [tmp_path / f"worker-{n}.json" for n in range(workers)]
    start = SPAWN.Barrier(workers)
    run_workers(
        [(location, f"operator{n}", rows, n, NOW, start, str(out)) for n, out in enumerate(outs)],
        race_worker.claim_and_finish,
    )
    results = [json.loads(out.read_text(encoding="utf-8")) for out in outs]
    wins = [row for result in results for row in result["wins"]]
    assert len(wins) == len(set(wins)), "a row was claimed twice"
    assert sorted(wins) == sorted(rows)
    refusals: Counter[str] = Counter()
    for result in results:
        refusals.update(result["refusals"])
        assert len(result["wins"]) + sum(result["refusals"].values()) == count
    assert set(refusals) <= {"locked", "closed"}
    assert sum(refusals.values()) == (workers - 1) * count
    check_database(location, rows, wins)
    return results


def test_eight_processes_confirm_400_rows_without_double_claims(
    engine_location: str, tmp_path: Path
) -> None:
    results = race(engine_location, tmp_path, workers=8, count=400)
    # 400 rows take far longer than waking eight processes: the rows were shared out.
    assert sum(1 for result in results if result["wins"]) > 1


@pytest.mark.parametrize("workers", [1, 2, 4, 8, 16])
def test_n_processes_race_on_one_list(engine_location: str, tmp_path: Path, workers: int) -> None:
    race(engine_location, tmp_path, workers=workers, count=60)


def test_processes_released_together_have_exactly_one_winner(
    engine_location: str, tmp_path: Path
) -> None:
    workers, rounds = 8, 30
    rows = make_rows(engine_location, rounds)
    barrier = SPAWN.Barrier(workers)
    outs = [tmp_path / f"worker-{n}.json" for n in range(workers)]
    run_workers(
        [
            (engine_location, f"operator{n}", rows, barrier, NOW, str(out))
            for n, out in enumerate(outs)
        ],
        race_worker.claim_together,
    )
    by_row: dict[int, list[tuple[str, str | None]]] = {row: [] for row in rows}
    for out in outs:
        for source_id, result, holder in json.loads(out.read_text(encoding="utf-8")):
            by_row[source_id].append((result, holder))
    conn = open_engine(engine_location).connect()
    try:
        holders = dict(conn.execute("SELECT source_id, operator FROM locks").fetchall())
        assert intact(conn)
        epochs = {row[0] for row in conn.execute("SELECT epoch FROM call_rows")}
    finally:
        conn.close()
    assert epochs == {1}
    for row, results in by_row.items():
        assert len(results) == workers
        winners = [holder for result, holder in results if result == "won"]
        assert len(winners) == 1, f"row {row}: {results}"
        # Everyone else was told who holds it.
        assert sorted(results) == sorted(
            [("won", winners[0])] + [("locked", winners[0])] * (workers - 1)
        )
        assert holders[row] == winners[0]
    # Not always the same process: the race is real.
    assert len(set(holders.values())) > 1


def test_same_operator_in_two_live_apps_does_not_pass_her_lock_silently(
    conn: Connection, clinic: StoredClinic
) -> None:
    """One operator's two live apps (windows) never share a row without a yes: the second
    app's plain claim is refused as "open in your other window" (C9 is for gone sessions)."""
    policy = default_policy()
    _, (item,) = clinic.add_clients_on_list(1)
    first, second = clinic.session("alice"), clinic.session("alice")
    a = claim_row(conn, policy, first, RowKey(ITEM, item), NOW)
    b = claim_row(conn, policy, second, RowKey(ITEM, item), NOW)
    assert isinstance(a, Claim) and isinstance(b, Refusal)
    assert b.reason == "locked" and b.lock is not None and b.lock.mine_elsewhere


def test_two_windows_of_one_operator_never_share_a_call(
    engine_location: str, tmp_path: Path
) -> None:
    """Two processes, one operator: c without a yes takes nothing from the live window; a
    confirmed take-over racing that window's save ends with exactly one of them."""
    db = engine_location
    rows = make_rows(db, 30)
    barrier = SPAWN.Barrier(2)
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    processes = [
        SPAWN.Process(
            target=race_worker.first_window, args=(db, "alice", rows, barrier, NOW, str(first))
        ),
        SPAWN.Process(
            target=race_worker.second_window,
            args=(db, "alice", rows, barrier, NOW, str(second)),
        ),
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(JOIN_TIMEOUT)
        if process.is_alive():
            process.kill()
            process.join()
    assert [p.exitcode for p in processes] == [0, 0]
    done = json.loads(first.read_text("utf-8"))
    saved = {row: (what, text) for row, what, text in done["results"]}
    seen = json.loads(second.read_text("utf-8"))
    # Without a yes, every row stays the first window's, and is seen as open there.
    assert seen["unasked"] == [[row, "locked", True] for row in rows]
    raced = dict(seen["raced"])
    conn = open_engine(db).connect()
    try:
        attempts = dict(conn.execute("SELECT source_id, session_id FROM attempts").fetchall())
        locks = dict(conn.execute("SELECT source_id, session_id FROM locks").fetchall())
        takeovers = conn.execute("SELECT count(*) FROM audit WHERE event = 'takeover'").fetchone()[
            0
        ]
    finally:
        conn.close()
    for row in rows:  # exactly one of the two windows has the call
        if saved[row][0] == "saved":
            assert raced[row] in ("closed", "locked") and row not in locks
            assert attempts[row] == done["session"]
        else:
            assert saved[row][1] == (
                "This call was taken over in another window of yours; nothing was saved here."
            )
            assert raced[row] == "won" and row not in attempts
            assert locks[row] == seen["session"]
    assert takeovers == sum(1 for row in rows if raced[row] == "won")
