"""Liveness, staleness and fencing on PostgreSQL follow the database server's clock.

Operators of a chain work on several application servers whose clocks may be
wrong by minutes. Each step here runs in a process whose own clock is set ten
minutes fast or slow (tests/skewed_workers.py), far more than the policy's
alive_for and stale_after below, so that judging by the application's clock
would get every answer wrong: a live operator's lock would be removed, a stale
one never offered. The answers must be the ones the server's clock gives.

SQLite has no such test: every session of an SQLite database runs on the one
computer that holds the file, whose clock is the one clock (docs/design.md).
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from storage.connection import Connection
from storage.engine import open_engine
from storage.policy import default_policy
from storage.rows import APPOINTMENT, RowKey
from tests import skewed_workers
from tests.stored_clinic import NOW, StoredClinic

SPAWN = multiprocessing.get_context("spawn")
JOIN_TIMEOUT = 120
MINUTES = 60
FAST = 10 * MINUTES  # an application server whose clock is ten minutes ahead
SLOW = -10 * MINUTES  # and one whose clock is ten minutes behind
# Short enough that a ten-minute error would flip every judgement (checked below).
POLICY = dataclasses.replace(default_policy(), stale_after=5 * MINUTES, alive_for=60)


@pytest.fixture
def clinic_on_server(postgres_clinic_url: str) -> Iterator[StoredClinic]:
    conn = open_engine(postgres_clinic_url).connect()
    yield StoredClinic(conn, postgres_clinic_url)
    conn.close()


@pytest.fixture
def row(clinic_on_server: StoredClinic) -> RowKey:
    client = clinic_on_server.add_client("Иванова Анна")
    return RowKey(APPOINTMENT, clinic_on_server.add_appointment(client, NOW + 86400))


def step(tmp_path: Path, function: Callable[..., None], *args: Any, **kwargs: Any) -> Any:
    """Run one operator's step in a process of its own; what it reported."""
    out = tmp_path / f"step-{len(list(tmp_path.glob('step-*')))}.json"
    process = SPAWN.Process(target=function, args=(*args, str(out)), kwargs=kwargs)
    process.start()
    process.join(JOIN_TIMEOUT)
    if process.is_alive():
        process.kill()
        process.join()
    assert process.exitcode == 0, f"{function.__name__} failed"
    return json.loads(out.read_text(encoding="utf-8"))


def server_now(conn: Connection) -> int:
    return int(conn.execute("SELECT extract(epoch FROM clock_timestamp())").fetchone()[0])


def assert_on_server_time(report: dict[str, Any], skew: int, server: int) -> None:
    """The step's engine told the server's time although its own clock was ``skew`` off."""
    assert abs(report["own_clock"] - report["engine_now"] - skew) <= 5
    assert abs(report["engine_now"] - server) <= 60  # the step ran within the last minute


def test_a_fast_clock_neither_buries_a_live_operator_nor_calls_her_lock_stale(
    tmp_path: Path, postgres_clinic_url: str, clinic_on_server: StoredClinic, row: RowKey
) -> None:
    """Anna's server runs ten minutes slow, Boris's ten minutes fast. By Boris's clock her
    heartbeat is eleven minutes old (gone) and her lock ten (stale): by the server's, both
    are seconds old, so her lock stays hers and Boris is told it is locked."""
    assert FAST > POLICY.stale_after > POLICY.alive_for  # the skews flip every judgement
    assert POLICY.stale_after < -SLOW
    anna = step(tmp_path, skewed_workers.claim, postgres_clinic_url, POLICY, "anna", row, SLOW)
    boris = step(tmp_path, skewed_workers.look, postgres_clinic_url, POLICY, "boris", row, FAST)
    server = server_now(clinic_on_server.conn)
    assert_on_server_time(anna, SLOW, server)
    assert_on_server_time(boris, FAST, server)

    assert boris["removed"] is None
    lock = boris["lock"]
    assert lock is not None
    assert (lock["operator"], lock["alive"], lock["stale"]) == ("anna", True, False)
    assert boris["claim"] is None and boris["refusal"] == "locked"
    assert boris["swept"] == 0
    # Anna's times were written on the server's clock, not on her own slow one.
    since, heartbeat_at = clinic_on_server.conn.execute(
        "SELECT l.since, s.heartbeat_at FROM locks l JOIN sessions s ON s.id = l.session_id"
    ).fetchone()
    assert abs(since - server) <= 60 and abs(heartbeat_at - server) <= 60
    # And she saves her call: the lock was never taken from her.
    saved = step(
        tmp_path,
        skewed_workers.finish,
        postgres_clinic_url,
        POLICY,
        "anna",
        anna["session"],
        anna["claim"],
        FAST,  # her next step runs on a server ten minutes fast: no matter
    )
    assert saved == {"saved": True, "said": ""}
    assert clinic_on_server.scalar("SELECT count(*) FROM attempts WHERE operator = 'anna'") == 1
    assert clinic_on_server.scalar("SELECT count(*) FROM locks") == 0


def test_a_slow_clock_still_sees_a_stale_lock_and_the_take_over_fences_the_old_holder(
    tmp_path: Path, postgres_clinic_url: str, clinic_on_server: StoredClinic, row: RowKey
) -> None:
    """Anna (ten minutes fast) claims; by the server's clock her lock then ages past
    stale_after while she stays alive. Boris (ten minutes slow) would think it was claimed
    in his future: by the server's clock it is stale, he is offered it and takes it over,
    and Anna's late save records nothing."""
    anna = step(tmp_path, skewed_workers.claim, postgres_clinic_url, POLICY, "anna", row, FAST)
    conn = clinic_on_server.conn
    aged = POLICY.stale_after + MINUTES
    conn.execute("UPDATE locks SET since = since - ?", (aged,))  # claimed six minutes ago
    boris = step(
        tmp_path,
        skewed_workers.look,
        postgres_clinic_url,
        POLICY,
        "boris",
        row,
        SLOW,
        take_over=True,
    )
    server = server_now(conn)
    assert_on_server_time(boris, SLOW, server)
    assert boris["own_clock"] < anna["claim"]["since"] - aged  # his clock: not even claimed yet

    lock = boris["lock"]
    assert lock is not None
    assert (lock["operator"], lock["alive"], lock["stale"]) == ("anna", True, True)
    assert boris["claim"] is not None and boris["claim"]["epoch"] == anna["claim"]["epoch"] + 1
    late = step(
        tmp_path,
        skewed_workers.finish,
        postgres_clinic_url,
        POLICY,
        "anna",
        anna["session"],
        anna["claim"],
        FAST,
    )
    assert late == {
        "saved": False,
        "said": "Your lock on this row was taken over by boris; nothing was saved.",
    }
    assert clinic_on_server.scalar("SELECT count(*) FROM attempts") == 0
    holder = conn.execute("SELECT operator, epoch FROM locks").fetchall()
    assert holder == [("boris", anna["claim"]["epoch"] + 1)]
    assert clinic_on_server.scalar("SELECT count(*) FROM audit WHERE event = 'takeover'") == 1


def test_a_slow_clock_still_sees_an_operator_gone(
    tmp_path: Path, postgres_clinic_url: str, clinic_on_server: StoredClinic, row: RowKey
) -> None:
    """Anna's app stopped beating two minutes ago by the server's clock and her lock is
    stale: Boris's slow clock would put both in his future; the server's removes her lock
    (C11) when he activates the row, and he claims it."""
    anna = step(tmp_path, skewed_workers.claim, postgres_clinic_url, POLICY, "anna", row, FAST)
    conn = clinic_on_server.conn
    conn.execute("UPDATE locks SET since = since - ?", (POLICY.stale_after + MINUTES,))
    conn.execute(
        "UPDATE sessions SET heartbeat_at = heartbeat_at - ? WHERE id = ?",
        (POLICY.alive_for + MINUTES, anna["session"]),
    )
    boris = step(tmp_path, skewed_workers.look, postgres_clinic_url, POLICY, "boris", row, SLOW)
    assert_on_server_time(boris, SLOW, server_now(conn))
    assert boris["removed"] == "anna"
    assert boris["claim"] is not None and boris["refusal"] is None
    assert clinic_on_server.scalar("SELECT operator FROM locks") == "boris"
    assert clinic_on_server.scalar("SELECT count(*) FROM audit WHERE event = 'auto-removal'") == 1
