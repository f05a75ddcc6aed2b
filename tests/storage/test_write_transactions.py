"""Every write runs inside ``BEGIN IMMEDIATE`` … ``COMMIT``/``ROLLBACK`` (docs/sqlite.md).

A deferred transaction that reads and then writes fails with
SQLITE_BUSY_SNAPSHOT when another operator committed in between, and the
busy timeout does not help there; so no write may ever run outside an
immediate transaction, and no plain ``BEGIN`` may ever be sent.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from storage.clients import update_client
from storage.connection import Connection
from storage.database import DatabaseBusy, StorageError, open_database
from storage.engine import write
from storage.errors import NotAllowed
from storage.locks import (
    Claim,
    LockLost,
    abort_call,
    claim_row,
    finish_call,
    inspect_row,
    remove_stale_locks,
)
from storage.policy import default_policy
from storage.rows import ITEM, RowKey
from storage.sessions import end_session, heartbeat, start_session
from tests.stored_clinic import NOW, StoredClinic, release_held

WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.IGNORECASE)
WRITING_PRAGMA = re.compile(r"^\s*PRAGMA\s+(user_version|application_id)\s*=", re.IGNORECASE)
BEGIN = re.compile(r"^\s*BEGIN\b", re.IGNORECASE)
END = re.compile(r"^\s*(COMMIT|END|ROLLBACK)\b(?!\s+TO)", re.IGNORECASE)


def check_transactions(statements: list[str]) -> dict[str, int]:
    """Fail on any write outside BEGIN IMMEDIATE … COMMIT/ROLLBACK; count what was seen."""
    inside = False
    seen = {"begin": 0, "commit": 0, "rollback": 0, "writes": 0}
    for statement in statements:
        if BEGIN.match(statement):
            assert statement.strip().upper() == "BEGIN IMMEDIATE", statement
            assert not inside, f"nested {statement!r}"
            inside = True
            seen["begin"] += 1
        elif END.match(statement):
            assert inside, f"{statement!r} without a transaction"
            inside = False
            seen["rollback" if "ROLLBACK" in statement.upper() else "commit"] += 1
        elif WRITE.match(statement) or WRITING_PRAGMA.match(statement):
            assert inside, f"write outside BEGIN IMMEDIATE: {statement}"
            seen["writes"] += 1
    assert not inside, "a transaction was left open"
    return seen


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement run on every connection opened from now on."""
    statements: list[str] = []
    connect: Callable[..., sqlite3.Connection] = sqlite3.connect

    def tracing_connect(*args: object, **kwargs: object) -> sqlite3.Connection:
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(sqlite3, "connect", tracing_connect)
    return statements


def test_full_scenario_writes_only_inside_begin_immediate(
    tmp_path: Path, traced: list[str]
) -> None:
    policy = default_policy()
    conn = open_database(tmp_path / "clinic.db", create=True)  # the migration too
    try:
        clinic = StoredClinic(conn, tmp_path / "clinic.db")
        _, items = clinic.add_clients_on_list(7)
        rows = [RowKey(ITEM, item) for item in items]
        client = int(
            str(clinic.scalar("SELECT client_id FROM call_list_items WHERE id = ?", (items[0],)))
        )
        alice = start_session(conn, "alice", NOW)
        bob = start_session(conn, "bob", NOW)
        gone = start_session(conn, "gone", NOW)
        root = start_session(conn, "root", NOW, supervisor=True)
        heartbeat(conn, alice, NOW + 20)

        claims = {}
        for key in rows[:5]:
            result = claim_row(conn, policy, alice, key, NOW)
            assert isinstance(result, Claim)
            claims[key] = result
        assert isinstance(claim_row(conn, policy, gone, rows[5], NOW), Claim)
        assert isinstance(claim_row(conn, policy, alice, rows[0], NOW), Claim)  # already hers
        finish_call(conn, policy, alice, claims[rows[0]], "no-answer", "nobody", NOW + 60)
        assert abort_call(conn, policy, alice, rows[1], NOW + 70)
        assert release_held(conn, root, rows[2], NOW + 80) == "alice"
        with pytest.raises(NotAllowed):
            abort_call(conn, policy, bob, rows[3], NOW + 90)

        later = NOW + policy.stale_after
        heartbeat(conn, alice, later)
        offer = inspect_row(conn, policy, bob, rows[3], later)  # stale, owner alive: noted
        assert offer.lock is not None and offer.lock.offers_takeover
        removed = inspect_row(conn, policy, bob, rows[5], later)  # stale, owner gone: removed
        assert removed.removed_stale_lock == "gone"
        taken = claim_row(conn, policy, bob, rows[3], later, take_over=offer.lock)
        assert isinstance(taken, Claim)
        with pytest.raises(LockLost):
            finish_call(conn, policy, alice, claims[rows[3]], "confirmed", "", later + 1)
        finish_call(
            conn, policy, bob, taken, "call-back", "after six", later + 2, callback_at=later + 3600
        )
        fresh = claim_row(conn, policy, bob, rows[6], later + 3)
        assert isinstance(fresh, Claim)
        finish_call(conn, policy, bob, fresh, "do-not-call", "", later + 4)
        update_client(
            conn,
            policy,
            bob,
            client,
            {"notes": "asked for evenings", "phones": ["+7 916 100-00-01"]},
            later + 5,
        )
        end_session(conn, alice, later + 6)
        assert remove_stale_locks(conn, policy, bob, later + policy.stale_after) == 1  # rows[4]
        end_session(conn, bob, later + policy.stale_after + 1)

        events = {row[0] for row in conn.execute("SELECT event FROM audit")}
        assert events == {
            "claim",
            "release",
            "abort",
            "release-by-supervisor",
            "stale-noted",
            "auto-removal",
            "takeover",
            "card-edit",
        }
        assert conn.execute("SELECT count(*) FROM locks").fetchone()[0] == 0
    finally:
        conn.close()

    assert any(s.lstrip().startswith("CREATE TABLE clients") for s in traced)
    seen = check_transactions(traced)
    assert seen["rollback"] >= 2  # LockLost and NotAllowed were rolled back
    assert seen["begin"] == seen["commit"] + seen["rollback"]
    assert seen["writes"] > 40
    assert not any(
        s.strip().upper().startswith(("BEGIN DEFERRED", "BEGIN TRANSACTION")) for s in traced
    )


def test_the_checker_catches_what_it_should() -> None:
    with pytest.raises(AssertionError, match="outside"):
        check_transactions(["INSERT INTO x VALUES (1)"])
    with pytest.raises(AssertionError):
        check_transactions(["BEGIN", "INSERT INTO x VALUES (1)", "COMMIT"])
    with pytest.raises(AssertionError):
        check_transactions(["BEGIN DEFERRED", "COMMIT"])
    with pytest.raises(AssertionError, match="open"):
        check_transactions(["BEGIN IMMEDIATE", "UPDATE x SET a = 1"])
    assert check_transactions(["SELECT 1", "BEGIN IMMEDIATE", "  delete from x", "ROLLBACK"]) == {
        "begin": 1,
        "commit": 0,
        "rollback": 1,
        "writes": 1,
    }


def test_write_commits_on_success_and_rolls_back_on_error(conn: Connection) -> None:
    with write(conn):
        conn.execute("INSERT INTO clients (name) VALUES ('kept')")
    with pytest.raises(KeyError), write(conn):
        conn.execute("INSERT INTO clients (name) VALUES ('lost')")
        raise KeyError("the block failed")
    assert not conn.in_transaction
    assert [r[0] for r in conn.execute("SELECT name FROM clients")] == ["kept"]


def test_database_errors_leave_write_as_storage_errors(conn: Connection) -> None:
    with pytest.raises(StorageError), write(conn):
        conn.execute("INSERT INTO clients (name) VALUES ('lost')")
        conn.execute("INSERT INTO nowhere VALUES (1)")
    assert not conn.in_transaction
    assert conn.execute("SELECT count(*) FROM clients").fetchone()[0] == 0


def test_write_reports_busy_when_another_process_holds_the_write_lock(db_path: Path) -> None:
    holder = open_database(db_path)
    waiter = open_database(db_path)
    try:
        waiter.execute("PRAGMA busy_timeout = 50")  # keep the test fast
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(DatabaseBusy, match="busy"), write(waiter):
            waiter.execute("INSERT INTO clients (name) VALUES ('lost')")
        assert not waiter.in_transaction
        holder.execute("ROLLBACK")
        with write(waiter):  # free again: works at once
            waiter.execute("INSERT INTO clients (name) VALUES ('saved')")
        assert holder.execute("SELECT name FROM clients").fetchall() == [("saved",)]
    finally:
        holder.close()
        waiter.close()


def test_immediate_transactions_do_not_fail_with_busy_snapshot(db_path: Path) -> None:
    """The failure BEGIN IMMEDIATE exists to avoid: read, another commits, then write."""
    first, second = open_database(db_path), open_database(db_path)
    try:
        first.execute("BEGIN")  # deferred: what write() must never do
        first.execute("SELECT count(*) FROM clients").fetchone()
        with write(second):
            second.execute("INSERT INTO clients (name) VALUES ('other operator')")
        with pytest.raises(sqlite3.OperationalError) as caught:
            first.execute("INSERT INTO clients (name) VALUES ('me')")
        assert caught.value.sqlite_errorcode == 517  # SQLITE_BUSY_SNAPSHOT
        first.execute("ROLLBACK")
        with write(first):  # the same work through write() succeeds
            first.execute("INSERT INTO clients (name) VALUES ('me')")
        assert first.execute("SELECT count(*) FROM clients").fetchone()[0] == 2
    finally:
        first.close()
        second.close()
