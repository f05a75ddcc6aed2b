"""Opening the clinic database: the right settings, and every wrong file left untouched."""

from __future__ import annotations

import io
import os
import sqlite3
from pathlib import Path

import pytest

import storage.database
from storage.connection import Connection
from storage.database import (
    NETWORK_FILE_SYSTEMS,
    DatabaseBusy,
    DiskFull,
    NetworkFileSystem,
    NotADatabase,
    ReadOnlyDatabase,
    StorageError,
    describe,
    file_system_type,
    open_database,
)
from storage.engine import write
from storage.errors import EXIT_BAD_INPUT, BadInput
from storage.schema import APPLICATION_ID, MIGRATIONS


def snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), os.stat(path).st_mtime_ns


def assert_untouched(path: Path, before: tuple[bytes, int]) -> None:
    assert snapshot(path) == before
    assert not Path(f"{path}-wal").exists()
    assert not Path(f"{path}-shm").exists()
    assert not Path(f"{path}-journal").exists()


def old_mtime(path: Path) -> None:
    """Set the mtime in the past, so that any write would show in st_mtime_ns."""
    os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))


@pytest.mark.parametrize("create", [False, True])
def test_garbage_file_is_refused_and_left_alone(tmp_path: Path, create: bool) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"Dear diary, today I called 40 patients.\n" * 200)
    old_mtime(path)
    before = snapshot(path)
    with pytest.raises(NotADatabase) as caught:
        open_database(path, create=create)
    assert str(path) in str(caught.value)
    assert caught.value.exit_code == EXIT_BAD_INPUT
    assert_untouched(path, before)


def test_file_with_an_sqlite_header_and_garbage_after_it_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.db"
    path.write_bytes(b"SQLite format 3\x00" + os.urandom(4096 * 3))
    old_mtime(path)
    before = snapshot(path)
    with pytest.raises(NotADatabase):
        open_database(path)
    assert_untouched(path, before)


def test_other_sqlite_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "accounts.sqlite"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    other.execute("INSERT INTO invoices (total) VALUES (12.5)")
    other.commit()
    other.close()
    old_mtime(path)
    before = snapshot(path)
    for create in (False, True):
        with pytest.raises(NotADatabase, match="not a ringround database") as caught:
            open_database(path, create=create)
        assert str(path) in str(caught.value)
    assert_untouched(path, before)


def test_sqlite_file_of_another_application_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    other = sqlite3.connect(path)
    other.execute("PRAGMA application_id = 42")
    other.close()
    old_mtime(path)
    before = snapshot(path)
    with pytest.raises(NotADatabase):
        open_database(path, create=True)
    assert_untouched(path, before)


def test_empty_file_is_refused_without_create(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    old_mtime(path)
    before = snapshot(path)
    with pytest.raises(NotADatabase, match="empty"):
        open_database(path)
    assert_untouched(path, before)


def test_missing_file_is_refused_unless_create(tmp_path: Path) -> None:
    path = tmp_path / "clinic.db"
    with pytest.raises(NotADatabase, match="no database") as caught:
        open_database(path)
    assert str(path) in str(caught.value)
    assert list(tmp_path.iterdir()) == []
    conn = open_database(path, create=True)
    try:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    finally:
        conn.close()
    again = open_database(path)  # now an existing ringround database
    again.close()


def test_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NotADatabase, match="folder"):
        open_database(tmp_path, create=True)


def test_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="does not exist"):
        open_database(tmp_path / "no" / "such" / "clinic.db", create=True)
    assert not (tmp_path / "no").exists()


def test_connection_settings(db_path: Path) -> None:
    conn = open_database(db_path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == storage.database.BUSY_TIMEOUT_MS
        assert conn.isolation_level is None  # transactions are explicit
        assert conn.execute("SELECT fold('ИВАНОВ Straße')").fetchone()[0] == "иванов strasse"
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        assert {
            "clients",
            "phones",
            "appointments",
            "tasks",
            "call_lists",
            "call_list_items",
            "sessions",
            "call_rows",
            "locks",
            "attempts",
            "row_notes",
            "audit",
        } <= tables
    finally:
        conn.close()


def test_foreign_keys_are_enforced(conn: Connection) -> None:
    with pytest.raises(StorageError), write(conn):
        conn.execute(
            "INSERT INTO appointments (client_id, starts_at, status) VALUES (999, 0, 'unconfirmed')"
        )
    assert conn.execute("SELECT count(*) FROM appointments").fetchone()[0] == 0


def test_database_from_a_newer_version_is_refused(db_path: Path) -> None:
    conn = open_database(db_path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(NotADatabase, match="newer") as caught:
        open_database(db_path)
    assert str(db_path) in str(caught.value)
    check = sqlite3.connect(db_path)
    try:  # nothing was migrated back or rewritten
        assert check.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) + 1
    finally:
        check.close()


def test_opening_twice_does_not_migrate_again(db_path: Path) -> None:
    first = open_database(db_path)
    second = open_database(db_path)
    try:
        tables = first.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        assert second.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == tables
    finally:
        first.close()
        second.close()


def test_network_file_system_is_refused_before_creating_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Path] = []

    def nfs(path: Path) -> str:
        seen.append(path)
        return "nfs4"

    monkeypatch.setattr(storage.database, "file_system_type", nfs)
    path = tmp_path / "clinic.db"
    with pytest.raises(NetworkFileSystem, match="nfs4") as caught:
        open_database(path, create=True)
    assert caught.value.exit_code == EXIT_BAD_INPUT
    assert str(path) in str(caught.value)
    assert seen == [tmp_path.resolve()]
    assert list(tmp_path.iterdir()) == []  # nothing was created


def test_network_file_system_refuses_an_existing_database(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage.database, "file_system_type", lambda path: "fuse.sshfs")
    with pytest.raises(NetworkFileSystem):
        open_database(db_path)


def test_local_file_system_is_not_a_network_one(tmp_path: Path) -> None:
    kind = file_system_type(tmp_path)
    assert kind != "unknown"
    assert kind not in NETWORK_FILE_SYSTEMS


def test_file_system_type_picks_the_longest_mount_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mounts = (
        "/dev/vda1 / ext4 rw 0 0\n"
        "server:/export /srv/clinic nfs4 rw 0 0\n"
        "server:/other /srv/clinic\\040data nfs rw 0 0\n"
        "tmpfs /srv/clinicx tmpfs rw 0 0\n"
        "garbage\n"
    )

    def fake_open(name: str, *args: object, **kwargs: object) -> io.StringIO:
        assert name == "/proc/mounts"
        return io.StringIO(mounts)

    monkeypatch.setattr(storage.database, "open", fake_open, raising=False)
    assert file_system_type(Path("/srv/clinic/db/clinic.db")) == "nfs4"
    assert file_system_type(Path("/srv/clinic")) == "nfs4"
    assert file_system_type(Path("/srv/clinic data/x.db")) == "nfs"
    assert file_system_type(Path("/srv/clinicx/x.db")) == "tmpfs"
    assert file_system_type(Path("/srv/clinicdb/x.db")) == "ext4"


def test_file_system_type_without_proc_mounts(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_proc(name: str, *args: object, **kwargs: object) -> io.StringIO:
        raise FileNotFoundError(name)

    monkeypatch.setattr(storage.database, "open", no_proc, raising=False)
    assert file_system_type(Path("/srv/clinic.db")) == "unknown"


def test_unreadable_database_is_refused(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulated, because the tests may run as root, who may read any file.
    asked: list[tuple[Path, int]] = []

    def no_read(path: Path, mode: int) -> bool:
        asked.append((Path(path), mode))
        return False

    monkeypatch.setattr(os, "access", no_read)
    with pytest.raises(ReadOnlyDatabase, match="permission denied") as caught:
        open_database(db_path)
    assert asked == [(db_path, os.R_OK)]
    assert str(db_path) in str(caught.value)


def test_read_only_connection_refuses_writes_with_a_clear_error(db_path: Path) -> None:
    conn = open_database(db_path)
    try:
        conn.execute("PRAGMA query_only = ON")
        with pytest.raises(ReadOnlyDatabase, match="read-only"), storage.database.write(conn):
            conn.execute("INSERT INTO clients (name) VALUES ('X')")
        assert not conn.in_transaction
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("database is locked", DatabaseBusy),
        ("database or disk is full", DiskFull),
        ("attempt to write a readonly database", ReadOnlyDatabase),
        ("file is not a database", NotADatabase),
        ("database disk image is malformed", NotADatabase),
        ("no such table: x", StorageError),
    ],
)
def test_describe_turns_sqlite_errors_into_sentences(message: str, kind: type) -> None:
    error = describe(sqlite3.OperationalError(message), "/srv/clinic.db")
    assert type(error) is kind
    assert "/srv/clinic.db" in str(error)
