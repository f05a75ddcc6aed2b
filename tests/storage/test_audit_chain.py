"""The audit trail as a hash chain: written by the lock protocol, verified by ``check``.

Each way of tampering with the stored entries (altering, deleting, reordering,
cutting the newest) is found and named; the chain stays one line when several
processes write at once; migration 3 chains the entries of an older file.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from cli.main import main
from storage.audit import GENESIS, Entry, audit, entry_hash, verify_chain
from storage.connection import Connection
from storage.database import DatabaseBusy, open_database
from storage.demo import make_demo
from storage.engine import open_engine, write
from storage.locks import Claim, abort_call, claim_row, finish_call
from storage.policy import Policy
from storage.rows import APPOINTMENT, RowKey
from storage.schema import APPLICATION_ID, MIGRATIONS, _statements
from tests.stored_clinic import NOW, StoredClinic


def _describe(entry: Entry) -> str:
    return f"{entry.id} ({entry.operator}, {entry.event})"


def _problem(conn: Connection) -> str | None:
    return verify_chain(conn, _describe).problem


@contextmanager
def _raw(location: str) -> Iterator[Connection]:
    """A connection whose statements commit one by one, outside the app's write
    transactions: what someone with write access to the database would use."""
    conn = open_engine(location).connect()
    try:
        yield conn
    finally:
        conn.close()


def _connect(location: str) -> Connection:
    return open_engine(location).connect()


def _forget_ids_after(raw: Connection, last: int) -> None:
    """Make the database forget it ever gave audit ids above ``last`` (a thorough cover-up)."""
    if isinstance(raw, sqlite3.Connection):
        raw.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'audit'", (last,))
    else:
        raw.execute("SELECT setval(pg_get_serial_sequence('audit', 'id'), ?)", (last,))


@pytest.fixture
def worked(clinic: StoredClinic, policy: Policy) -> str:
    """A clinic where alice claimed, finished and aborted calls: a trail of 8 entries."""
    session = clinic.session("alice")
    for n in range(4):
        client = clinic.add_client(f"Client {n}")
        key = RowKey(APPOINTMENT, clinic.add_appointment(client, NOW + 86400))
        claim = claim_row(clinic.conn, policy, session, key, NOW + n)
        assert isinstance(claim, Claim)
        if n % 2:
            finish_call(clinic.conn, policy, session, claim, "confirmed", "ok", NOW + n)
        else:
            assert abort_call(clinic.conn, policy, session, key, NOW + n)
    assert clinic.scalar("SELECT count(*) FROM audit") == 8
    return clinic.location


def test_the_protocol_writes_an_unbroken_chain(worked: str) -> None:
    conn = _connect(worked)
    report = verify_chain(conn, _describe)
    assert report.problem is None
    assert report.entries == 8
    assert report.head is not None and report.head.id == 8
    first = conn.execute("SELECT prev_hash FROM audit WHERE id = 1").fetchone()[0]
    assert first == GENESIS
    links = conn.execute(
        "SELECT a.prev_hash = b.hash FROM audit a JOIN audit b ON b.id = a.id - 1"
    ).fetchall()
    assert links == [(1,)] * 7
    conn.close()


def test_entries_in_any_script_chain_alike_on_every_engine(
    clinic: StoredClinic, policy: Policy
) -> None:
    """PostgreSQL hashes an entry in SQL, SQLite in Python: the verifier accepts both."""
    session = clinic.session("Алёна 👩‍⚕️ O'Neil")
    client = clinic.add_client("Ёлкина «Мария» 100% ?")
    key = RowKey(APPOINTMENT, clinic.add_appointment(client, NOW + 86400))
    claim = claim_row(clinic.conn, policy, session, key, NOW)
    assert isinstance(claim, Claim)
    finish_call(clinic.conn, policy, session, claim, "confirmed", "в 10% ? 'да'", NOW + 1)
    with write(clinic.conn):
        audit(
            clinic.conn, NOW + 2, session.operator, session.id, "card-edit", key, client, note="ß∑"
        )
    report = verify_chain(clinic.conn, _describe)
    assert report.problem is None
    assert report.entries == 3
    rows = clinic.conn.execute(
        "SELECT at, operator, session_id, event, kind, source_id, client_id, detail, prev_hash,"
        " hash FROM audit ORDER BY id"
    ).fetchall()
    prev = GENESIS
    for row in rows:
        assert row[8] == prev
        assert row[9] == entry_hash(prev, tuple(row[:8]))
        prev = row[9]


def test_an_altered_entry_is_named(worked: str) -> None:
    with _raw(worked) as raw:
        raw.execute("UPDATE audit SET operator = 'mallory' WHERE id = 3")
    conn = _connect(worked)
    assert _problem(conn) == ("audit entry 3 (mallory, claim) was changed after it was written")
    conn.close()


def test_a_deleted_entry_is_named(worked: str) -> None:
    with _raw(worked) as raw:
        raw.execute("DELETE FROM audit WHERE id = 4")
    conn = _connect(worked)
    assert _problem(conn) == "audit entry 4 is missing (deleted)"
    conn.close()


def test_deleted_first_entries_are_named(worked: str) -> None:
    with _raw(worked) as raw:
        raw.execute("DELETE FROM audit WHERE id <= 2")
    conn = _connect(worked)
    assert _problem(conn) == "audit entries 1 to 2 are missing (deleted)"
    conn.close()


def test_deleted_newest_entries_are_named(worked: str) -> None:
    """The likeliest cover-up: removing one's own latest entries. The database remembers
    the highest id it gave (SQLite's AUTOINCREMENT, PostgreSQL's identity sequence). On
    PostgreSQL ids no entry holds may also come from a crash or a failed save: a warning
    (test_a_save_that_failed_is_not_taken_for_deleted_entries)."""
    with _raw(worked) as raw:
        raw.execute("DELETE FROM audit WHERE id >= 7")
    conn = _connect(worked)
    report = verify_chain(conn, _describe)
    if "://" in worked:
        assert (report.problem, report.unheld) == (None, (7, 8))
    else:
        assert (report.problem, report.unheld) == (
            "audit entries 7 to 8 are missing (deleted)",
            None,
        )
    assert report.entries == 6
    conn.close()


def test_a_save_that_failed_is_not_taken_for_deleted_entries(
    engine_location: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """PostgreSQL's id sequences never go back: a save that failed after writing its audit
    entry left an id that no entry holds (so does a server crash, or a switch to the
    standby: up to 32 ids the server had set aside), and check said "The audit trail was
    tampered with: audit entry 2 is missing (deleted)". SQLite's count rolls back with the
    save. On PostgreSQL such ids are a warning that says both what they may mean."""
    conn = _connect(engine_location)
    try:
        with write(conn):
            audit(conn, NOW, "alice", None, "card-edit", field="notes")
        with pytest.raises(RuntimeError), write(conn):
            audit(conn, NOW + 1, "alice", None, "card-edit", field="email")
            conn.execute("SELECT 1")  # the entry goes to the server (it may wait for this)
            raise RuntimeError("the save failed")
        report = verify_chain(conn, _describe)
        assert (report.problem, report.entries) == (None, 1)
    finally:
        conn.close()
    assert main(["check", "--db", engine_location]) == 0
    out = capsys.readouterr().out
    assert "tampered" not in out
    assert "ok       The audit trail is intact: 1 entry; the newest, 1 (" in out
    warning = (
        "warning  Audit id 2 was given out but holds no entry: PostgreSQL skips ids after a "
        "server crash or a switch to the standby, and for saves that did not complete; if "
        "none of that happened, the newest entry was deleted: compare with the entry noted "
        "last (--audit-entry, docs/audit.md)."
    )
    assert (warning in out.splitlines()) == ("://" in engine_location)


def test_reordered_entries_are_named(worked: str) -> None:
    """Entries 3 and 4 swap places, each keeping its own hashes (ids swapped)."""
    with _raw(worked) as raw:
        raw.execute("UPDATE audit SET id = -1 WHERE id = 3")
        raw.execute("UPDATE audit SET id = 3 WHERE id = 4")
        raw.execute("UPDATE audit SET id = 4 WHERE id = -1")
    conn = _connect(worked)
    assert _problem(conn) == (
        "audit entry 3 (alice, release) does not follow entry 2: entries were reordered, or one "
        "was rewritten or removed and the rest renumbered"
    )
    conn.close()


def test_a_rewritten_entry_with_a_fresh_hash_breaks_the_next_link(worked: str) -> None:
    """Whoever recomputes an entry's hash must recompute every later one too (docs/audit.md)."""
    conn = _connect(worked)
    prev, at, session, event, kind, source, client, detail = conn.execute(
        "SELECT prev_hash, at, session_id, event, kind, source_id, client_id, detail"
        " FROM audit WHERE id = 3"
    ).fetchone()
    conn.close()
    forged = entry_hash(prev, (at, "mallory", session, event, kind, source, client, detail))
    with _raw(worked) as raw:
        raw.execute("UPDATE audit SET operator = 'mallory', hash = ? WHERE id = 3", (forged,))
    conn = _connect(worked)
    problem = _problem(conn)
    assert problem is not None and problem.startswith(
        "audit entry 4 (alice, release) does not follow entry 3"
    )
    conn.close()


def test_check_names_each_tampering(
    worked: str, policy: Policy, capsys: pytest.CaptureFixture[str]
) -> None:
    """`ringround check` prints the break with the entry's time and exits 1."""
    assert main(["check", "--db", worked]) in (0, 1)  # the test folder's mode may warn
    intact = capsys.readouterr().out
    assert "ok       The audit trail is intact: 8 entries; the newest, 8 (2025-03-12" in intact
    with _raw(worked) as raw:
        raw.execute("DELETE FROM audit WHERE id = 2")
    assert main(["check", "--db", worked]) == 1
    out = capsys.readouterr().out
    assert (
        "PROBLEM  The audit trail was tampered with: audit entry 2 is missing (deleted); the "
        "1 entry before that is intact."
    ) in out
    with _raw(worked) as raw:
        raw.execute("UPDATE audit SET event = 'release' WHERE id = 1")
    assert main(["check", "--db", worked]) == 1
    assert (
        "PROBLEM  The audit trail was tampered with: audit entry 1 (2025-03-12 10:00, alice, "
        "release) was changed after it was written"
    ) in capsys.readouterr().out


def test_check_escapes_control_characters_in_names(
    worked: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with _raw(worked) as raw:
        raw.execute("UPDATE audit SET operator = 'eve\x1b[2J\nok' WHERE id = 1")
    assert main(["check", "--db", worked]) == 1
    problems = [line for line in capsys.readouterr().out.splitlines() if line.startswith("PROBLEM")]
    assert any("eve\\x1b[2J\\x0aok, claim" in line for line in problems), problems
    assert not any("\x1b" in line for line in problems)


def test_a_new_demo_starts_a_new_trail(conn: Connection, policy: Policy) -> None:
    make_demo(conn, policy, clients=20, now=NOW)
    make_demo(conn, policy, clients=20, now=NOW + 86400, replace=True)
    report = verify_chain(conn, _describe)
    assert report.problem is None
    assert conn.execute("SELECT min(id) FROM audit").fetchone()[0] == 1


def test_audit_refuses_to_write_outside_a_transaction(conn: Connection) -> None:
    with pytest.raises(RuntimeError, match="inside a write transaction"):
        audit(conn, NOW, "alice", None, "claim")


def test_migration_chains_an_older_trail(tmp_path: Path) -> None:
    """A file in format 2 (before the chain) keeps its entries and ids, now chained."""
    path = tmp_path / "old.db"
    old = sqlite3.connect(path, isolation_level=None)
    for step in MIGRATIONS[:2]:
        assert isinstance(step, str)
        for statement in _statements(step):
            old.execute(statement)
    old.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    old.execute("PRAGMA user_version = 2")
    old.executemany(
        "INSERT INTO audit (id, at, operator, session_id, event, detail) VALUES (?, ?, ?, ?, ?, ?)",
        [(n, NOW + n, f"op{n}", None, "card-edit", '{"field": "notes"}') for n in (1, 2, 5)],
    )
    old.close()
    conn = open_database(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("SELECT id, operator FROM audit ORDER BY id").fetchall() == [
        (1, "op1"),
        (2, "op2"),
        (5, "op5"),
    ]
    # Ids missing before the chain existed are not a break: the chain links what was there.
    report = verify_chain(conn, _describe)
    assert report.problem is None and report.entries == 3
    with write(conn):
        audit(conn, NOW + 9, "alice", None, "claim")
    assert conn.execute("SELECT max(id) FROM audit").fetchone()[0] == 6
    assert _problem(conn) is None
    conn.close()


# -- several processes at once -------------------------------------------------------------

ENTRIES_EACH = 60


def _writer(location: str, operator: str, start: Barrier) -> None:
    """One operator's process: append entries one transaction at a time, retrying busy."""
    conn = _connect(location)
    start.wait(timeout=120)
    for n in range(ENTRIES_EACH):
        while True:
            try:
                with write(conn):
                    audit(conn, NOW + n, operator, None, "probe", n=n)
                break
            except DatabaseBusy:
                time.sleep(0.01)
    conn.close()


def test_concurrent_writers_keep_one_chain(engine_location: str) -> None:
    processes = 4
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(processes)
    workers = [
        context.Process(target=_writer, args=(engine_location, f"op{n}", start))
        for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
        assert worker.exitcode == 0
    conn = _connect(engine_location)
    report = verify_chain(conn, _describe)
    assert report.problem is None
    assert report.entries == processes * ENTRIES_EACH
    counts = conn.execute("SELECT operator, count(*) FROM audit GROUP BY operator").fetchall()
    assert sorted(counts) == [(f"op{n}", ENTRIES_EACH) for n in range(processes)]
    conn.close()


def test_check_compares_a_noted_entry(
    worked: str, policy: Policy, capsys: pytest.CaptureFixture[str]
) -> None:
    """The head a check printed, kept off the server, shows a tail rewritten consistently."""
    main(["check", "--db", worked])
    printed = capsys.readouterr().out
    noted = printed.split("'ringround check --audit-entry ")[1].split("'")[0]
    entry, digest = noted.split(":")
    assert entry == "8" and len(digest) == 64
    main(["check", "--db", worked, "--audit-entry", noted])
    assert "ok       Audit entry 8 still has the hash you noted" in capsys.readouterr().out

    # Someone with the code rewrites entry 5 and recomputes every hash after it: the chain
    # itself is whole again, but the noted entry's hash is not what it was.
    conn = _connect(worked)
    rows = conn.execute(
        "SELECT id, at, operator, session_id, event, kind, source_id, client_id,"
        " detail, prev_hash FROM audit WHERE id >= 5 ORDER BY id"
    ).fetchall()
    conn.close()
    with _raw(worked) as raw:
        prev = rows[0][9]
        for row in rows:
            content = (row[1], "mallory" if row[0] == 5 else row[2], *row[3:9])
            digest_now = entry_hash(prev, content)
            raw.execute(
                "UPDATE audit SET operator = ?, prev_hash = ?, hash = ? WHERE id = ?",
                (content[1], prev, digest_now, row[0]),
            )
            prev = digest_now
    assert main(["check", "--db", worked, "--audit-entry", noted]) == 1
    out = capsys.readouterr().out
    assert "ok       The audit trail is intact: 8 entries" in out
    assert (
        "PROBLEM  Audit entry 8 no longer has the hash you noted: the trail was rewritten at "
        "or before that entry"
    ) in out

    with _raw(worked) as raw:
        raw.execute("DELETE FROM audit WHERE id = 8")
        _forget_ids_after(raw, 7)
    assert main(["check", "--db", worked, "--audit-entry", noted]) == 1
    assert "PROBLEM  Audit entry 8, whose hash you noted, is gone" in capsys.readouterr().out


def test_check_refuses_a_malformed_noted_entry(
    worked: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--db", worked, "--audit-entry", "8:abc"]) == 2
    err = capsys.readouterr().err
    assert "expected ID:HASH as an earlier check printed it" in err
    assert err.count("\n") == 1
