"""B7 in storage: who is online, what each operator holds, release; supervisors only."""

from __future__ import annotations

import dataclasses
import json

import pytest

from storage.engine import write
from storage.errors import NotAllowed
from storage.locks import Claim, claim_row
from storage.policy import Policy
from storage.rows import APPOINTMENT, ITEM, TASK, RowKey
from storage.sessions import end_session, heartbeat
from storage.supervision import (
    held_locks,
    online_sessions,
    overview,
    release_held_lock,
)
from tests.stored_clinic import NOW, StoredClinic, clinic_time

TOMORROW = clinic_time(2025, 3, 13, 10)
MINUTE = 60


@pytest.fixture
def rows(clinic: StoredClinic) -> list[RowKey]:
    anna = clinic.add_client("Anna")
    boris = clinic.add_client("Boris")
    vera = clinic.add_client("Vera")
    visit = clinic.add_appointment(anna, TOMORROW, service="Hygiene")
    _, (item,) = clinic.add_call_list("Flu", [boris])
    task = clinic.add_task(vera, "recall", NOW - 60, title="Implant check")
    return [RowKey(APPOINTMENT, visit), RowKey(ITEM, item), RowKey(TASK, task)]


def test_operators_may_not_supervise(
    clinic: StoredClinic, policy: Policy, rows: list[RowKey]
) -> None:
    alice = clinic.session("alice")
    bob = clinic.session("bob")
    claimed = claim_row(clinic.conn, policy, bob, rows[0], NOW)
    assert isinstance(claimed, Claim)
    root = clinic.session("root", supervisor=True)
    [lock] = held_locks(clinic.conn, policy, root, NOW)
    for look in (online_sessions, held_locks, overview):
        with pytest.raises(NotAllowed, match="supervisor"):
            look(clinic.conn, policy, alice, NOW)
    with pytest.raises(NotAllowed, match="alice is not one"):
        release_held_lock(clinic.conn, alice, lock, NOW)
    assert clinic.scalar("SELECT count(*) FROM locks") == 1
    assert clinic.scalar("SELECT count(*) FROM audit WHERE event LIKE 'release%'") == 0


def test_who_is_online(clinic: StoredClinic, policy: Policy, rows: list[RowKey]) -> None:
    alice = clinic.session("alice", NOW - 30 * MINUTE)
    bob = clinic.session("bob", NOW - 10 * MINUTE)
    gone = clinic.session("carol", NOW - 60 * MINUTE)  # killed: stopped beating long ago
    left = clinic.session("dave", NOW - 5 * MINUTE)
    end_session(clinic.conn, left, NOW - MINUTE)  # a clean exit
    root = clinic.session("root", NOW, supervisor=True)
    for session in (alice, bob):
        heartbeat(clinic.conn, session, NOW - 10)
    for key, session in zip(rows, (alice, alice, gone), strict=True):
        assert isinstance(claim_row(clinic.conn, policy, session, key, NOW - 20 * MINUTE), Claim)
    online = online_sessions(clinic.conn, policy, root, NOW)
    assert [(s.operator, s.started_at, s.heartbeat_at, s.locks) for s in online] == [
        ("alice", NOW - 30 * MINUTE, NOW - 10, 2),
        ("bob", NOW - 10 * MINUTE, NOW - 10, 0),
        ("root", NOW, NOW, 0),
    ]
    assert all(s.pid > 0 and s.host for s in online)


def test_what_each_operator_holds(clinic: StoredClinic, policy: Policy, rows: list[RowKey]) -> None:
    alice = clinic.session("alice", NOW - 30 * MINUTE)
    gone = clinic.session("carol", NOW - 60 * MINUTE)
    root = clinic.session("root", NOW, supervisor=True)
    heartbeat(clinic.conn, alice, NOW)
    claim_row(clinic.conn, policy, alice, rows[2], NOW - 20 * MINUTE)
    claim_row(clinic.conn, policy, alice, rows[0], NOW - 5 * MINUTE)
    claim_row(clinic.conn, policy, gone, rows[1], NOW - 50 * MINUTE)
    locks = held_locks(clinic.conn, policy, root, NOW)
    assert [
        (
            lock.operator,
            lock.key,
            lock.client,
            lock.list_name,
            lock.subject,
            lock.starts_at,
            lock.since,
            lock.alive,
            lock.stale,
        )
        for lock in locks
    ] == [
        ("alice", rows[2], "Vera", "recall", "Implant check", None, NOW - 20 * MINUTE, True, True),
        ("alice", rows[0], "Anna", "", "Hygiene", TOMORROW, NOW - 5 * MINUTE, True, False),
        ("carol", rows[1], "Boris", "Flu", "", None, NOW - 50 * MINUTE, False, True),
    ]
    seen = overview(clinic.conn, policy, root, NOW)
    assert seen.locks == tuple(locks)
    assert [s.operator for s in seen.sessions] == ["alice", "root"]


def test_release_of_a_held_lock_is_audited(
    clinic: StoredClinic, policy: Policy, rows: list[RowKey]
) -> None:
    bob = clinic.session("bob")
    root = clinic.session("root", supervisor=True)
    claim_row(clinic.conn, policy, bob, rows[0], NOW)
    [lock] = held_locks(clinic.conn, policy, root, NOW)
    assert release_held_lock(clinic.conn, root, lock, NOW + 60)
    assert clinic.scalar("SELECT count(*) FROM locks") == 0
    event, operator, session_id, detail = clinic.conn.execute(
        "SELECT event, operator, session_id, detail FROM audit ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert (event, operator, session_id) == ("release-by-supervisor", "root", root.id)
    assert json.loads(detail) == {"holder": "bob", "holder_session": bob.id}


def test_a_lock_that_changed_meanwhile_is_not_released(
    clinic: StoredClinic, policy: Policy, rows: list[RowKey]
) -> None:
    bob = clinic.session("bob")
    root = clinic.session("root", supervisor=True)
    claim_row(clinic.conn, policy, bob, rows[0], NOW)
    [seen] = held_locks(clinic.conn, policy, root, NOW)
    # bob aborts and claims the row again: a new claim, not the one the supervisor saw.
    with write(clinic.conn):
        clinic.conn.execute("DELETE FROM locks")
    assert isinstance(claim_row(clinic.conn, policy, bob, rows[0], NOW + 30), Claim)
    assert not release_held_lock(clinic.conn, root, seen, NOW + 60)
    assert clinic.scalar("SELECT count(*) FROM locks") == 1
    gone = dataclasses.replace(seen, key=rows[1])
    assert not release_held_lock(clinic.conn, root, gone, NOW + 60)  # no lock on that row
