"""The PostgreSQL server restarts mid-shift: nothing lost, nothing doubled, everyone goes on.

Four operator processes (tests/race_worker.py, ``work_through_restarts``)
claim and confirm the rows of one list while the test restarts the server
twice (``pg_ctl restart -m fast``, as an administrator would), which ends
every connection. A step cut off by a restart either completed or said that
nothing was saved (cut off during its COMMIT, that the server will tell; cut off
before its write, that the server does not answer),
and was done again once the server answered; each worker connected again
by itself and went on. Afterwards every row is done exactly once.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable
from functools import partial
from pathlib import Path

from storage.connection import Connection
from storage.database import DatabaseUnreachable
from storage.engine import open_engine
from storage.rows import ITEM
from tests import race_worker
from tests.stored_clinic import NOW, StoredClinic
from tests.waiting import wait_until

SPAWN = multiprocessing.get_context("spawn")
WORKERS = 4
ROWS = 2000
RESTARTS = 2
JOIN_TIMEOUT = 600


def done_by(conn: Connection, operators: list[str]) -> dict[str, int] | None:
    """Rows saved so far, per operator; None while the server is away."""
    try:
        counts = dict(conn.execute("SELECT operator, count(*) FROM attempts GROUP BY operator"))
    except DatabaseUnreachable:
        return None
    return {operator: int(counts.get(operator, 0)) for operator in operators}


def done_in_all(conn: Connection, operators: list[str], total: int) -> bool:
    counts = done_by(conn, operators)
    return counts is not None and sum(counts.values()) >= total


def saving_again(conn: Connection, before: dict[str, int]) -> bool:
    """Every operator saved a row since ``before``."""
    counts = done_by(conn, list(before))
    return counts is not None and all(counts[op] > done for op, done in before.items())


def test_a_server_restart_mid_shift_loses_nothing_and_doubles_nothing(
    postgres_clinic_url: str, restart_server: Callable[[], None], tmp_path: Path
) -> None:
    conn = open_engine(postgres_clinic_url).connect()
    _, rows = StoredClinic(conn, postgres_clinic_url).add_clients_on_list(ROWS)
    operators = [f"operator{n}" for n in range(WORKERS)]

    ready = [SPAWN.Event() for _ in operators]
    outs = [tmp_path / f"{operator}.json" for operator in operators]
    workers = [
        SPAWN.Process(
            target=race_worker.work_through_restarts,
            args=(postgres_clinic_url, operator, n, NOW, ready[n], str(outs[n])),
        )
        for n, operator in enumerate(operators)
    ]
    for worker in workers:
        worker.start()
    try:
        for event in ready:
            assert event.wait(60), "a worker did not start"
        for restart in range(1, RESTARTS + 1):
            wait_until(
                partial(done_in_all, conn, operators, restart * ROWS // 5),
                f"a fifth of the rows done before restart {restart}",
            )
            restart_server()
            before = wait_until(partial(done_by, conn, operators), "the server to answer again")
            # Every worker found the server again by itself and goes on saving.
            wait_until(
                partial(saving_again, conn, before),
                f"every worker saving again after restart {restart}",
                details=partial(str, before),
            )
        for worker in workers:
            worker.join(JOIN_TIMEOUT)
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
                worker.join()
    assert [worker.exitcode for worker in workers] == [0] * WORKERS

    reports = [json.loads(out.read_text(encoding="utf-8")) for out in outs]
    wins = [row for report in reports for row in report["wins"]]
    assert len(wins) == len(set(wins)), "a row was confirmed twice"
    assert sorted(wins) == sorted(rows), "a row was lost"
    # What the workers were told when the server went away: one sentence each time.
    allowed = {
        f"The database server {postgres_clinic_url} does not answer; nothing was saved.",
        f"The database server {postgres_clinic_url} does not answer.",  # cut off reading
        f"The connection to the database server {postgres_clinic_url} broke while saving; "
        "nothing was saved.",
    }
    said = [sentence for report in reports for sentence in report["said"]]
    assert said, "no worker was ever cut off: the restarts came between statements"
    assert set(said) <= allowed, set(said) - allowed

    def one(sql: str) -> int:
        return int(conn.execute(sql).fetchone()[0])

    assert one("SELECT count(*) FROM locks") == 0
    attempts = conn.execute("SELECT source_id, session_id FROM attempts WHERE kind = ?", (ITEM,))
    assert sorted(source_id for source_id, _ in attempts) == sorted(rows)  # once each
    assert one("SELECT count(*) FROM call_list_items WHERE processed_at IS NOT NULL") == ROWS
    assert one("SELECT count(*) FROM call_rows WHERE closed_reason = 'confirmed'") == ROWS
    # Each row claimed once: a claim cut off and tried again was either undone or given back.
    assert one("SELECT count(*) FROM call_rows WHERE epoch != 1") == 0
    assert one("SELECT count(*) FROM audit WHERE event = 'claim'") == ROWS
    assert one("SELECT count(*) FROM audit WHERE event = 'release'") == ROWS
    assert one("SELECT count(*) FROM sessions WHERE ended_at IS NULL") == 0
    conn.close()
