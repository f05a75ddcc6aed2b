"""``ringround backup DEST``: a consistent, checked copy taken while operators keep saving.

The load is a separate process saving a client with two phone numbers per
transaction, as fast as it can, and printing each number once committed.
Backups taken meanwhile (the real console command) must restore to databases
that pass ``integrity_check`` and ``ringround check`` and hold exactly the
clients 1…M for some M at least the last one committed before the backup
started: one snapshot, no half transaction, nothing committed earlier lost.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import pytest

from cli.main import main
from storage import backup as backup_module
from storage.backup import BackupFailed, BadDestination, backup_database
from storage.database import NotADatabase, open_database
from storage.engine import write
from tests.command_env import command_env
from tests.stored_clinic import StoredClinic
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]

WRITER = r"""
import sys
from storage.database import open_database
from storage.engine import write

conn = open_database(sys.argv[1])
number = 0
while True:
    number += 1
    with write(conn):
        client = conn.execute("INSERT INTO clients (name) VALUES (?) RETURNING id",
                              (f"load {number}",)).fetchone()[0]
        conn.executemany(
            "INSERT INTO phones (client_id, position, number, digits) VALUES (?, ?, ?, ?)",
            [(client, 1, f"+7 {number}", f"7{number}"), (client, 2, f"+8 {number}", f"8{number}")])
    print(number, flush=True)
"""


def ringround(*args: str) -> subprocess.CompletedProcess[str]:
    beside = Path(sys.executable).parent / "ringround"
    command = [str(beside)] if beside.exists() else [sys.executable, "-m", "tui"]
    return subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=command_env(),
        timeout=120,
        check=False,
    )


class Load:
    """The writer process and the last number it reported as committed."""

    def __init__(self, db: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.committed = 0
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.committed = int(line)

    def wait_for(self, count: int) -> None:
        """Until the load has committed ``count`` transactions (it must not end before)."""

        def done() -> bool:
            assert self.process.poll() is None, self.process.stderr.read()  # type: ignore[union-attr]
            return self.committed >= count

        wait_until(
            done,
            f"{count} transactions of the load",
            details=lambda: f"it committed {self.committed}",
        )

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.reader.join(timeout=10)


def loaded_clients(path: Path) -> list[int]:
    """Numbers of the load's clients in ``path``; each must have both its phone numbers."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT c.name, count(p.client_id) FROM clients c LEFT JOIN phones p"
            " ON p.client_id = c.id WHERE c.name LIKE 'load %' GROUP BY c.id"
        ).fetchall()
    finally:
        conn.close()
    assert all(phones == 2 for _, phones in rows), "a transaction was copied in half"
    return sorted(int(name.split()[1]) for name, _ in rows)


def restore(copy: Path, folder: Path) -> Path:
    """What deploy.md says to do: put the backup file in place as the database."""
    folder.mkdir()
    restored = folder / "clinic.db"
    shutil.copyfile(copy, restored)
    return restored


@pytest.fixture
def live(tmp_path: Path) -> Path:
    """A clinic database with some bulk, so that a copy takes more than an instant."""
    path = tmp_path / "live" / "clinic.db"
    path.parent.mkdir()
    conn = open_database(path, create=True)
    try:
        with write(conn):
            conn.executemany(
                "INSERT INTO clients (name, notes) VALUES (?, ?)",
                [(f"Client {n}", "x" * 200) for n in range(20_000)],
            )
    finally:
        conn.close()
    os.chmod(path, 0o660)
    return path


def test_backups_during_a_write_load_restore_to_sound_databases(live: Path, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    load = Load(live)
    taken: list[tuple[Path, int]] = []
    try:
        load.wait_for(50)
        for number in range(3):
            before = load.committed
            target = backups / f"clinic-{number}.db"
            result = ringround("backup", "--db", str(live), str(target))
            assert result.returncode == 0, result.stderr
            assert result.stdout.startswith(f"Backed up {live} to {target} (")
            assert "integrity check ok" in result.stdout
            taken.append((target, before))
            load.wait_for(load.committed + 20)  # the load went on during and after the copy
    finally:
        load.stop()
    final = load.committed
    assert sorted(os.listdir(backups)) == [f"clinic-{n}.db" for n in range(3)]  # no leftovers
    for number, (copy, before) in enumerate(taken):
        restored = restore(copy, tmp_path / f"restored-{number}")
        numbers = loaded_clients(restored)
        assert numbers == list(range(1, len(numbers) + 1)), "not one snapshot"
        assert before <= len(numbers) <= final
        conn = open_database(restored)  # what the app does on start
        try:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert conn.execute(
                "SELECT count(*) FROM clients WHERE name NOT LIKE 'load %'"
            ).fetchone() == (20_000,)
        finally:
            conn.close()
        checked = ringround("check", "--db", str(restored))
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "PROBLEM" not in checked.stdout
    # The live database went on undamaged too.
    assert loaded_clients(live) == list(range(1, len(loaded_clients(live)) + 1))
    assert len(loaded_clients(live)) >= final


def test_a_folder_gets_a_dated_file_with_no_access_for_others(live: Path, tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    made = backup_database(live, folder, moment=datetime(2025, 3, 12, 22, 30, 5))
    assert made.destination == str(folder / "clinic-2025-03-12-223005.db")
    assert os.listdir(folder) == ["clinic-2025-03-12-223005.db"]
    mode = stat.S_IMODE(os.stat(made.destination).st_mode)
    assert mode == 0o660  # the operators' group may restore it as it is; others nothing
    assert made.size == os.stat(made.destination).st_size > 0
    os.chmod(live, 0o644)
    previous = os.umask(0o077)
    try:
        again = backup_database(live, folder, moment=datetime(2025, 3, 13, 22, 30, 5))
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(again.destination).st_mode) == 0o660


def test_an_existing_backup_is_replaced_whole(live: Path, tmp_path: Path) -> None:
    target = tmp_path / "clinic-monday.db"
    backup_database(live, target)
    conn = open_database(live)
    try:
        StoredClinic(conn, live).add_client("Added after the first backup")
    finally:
        conn.close()
    backup_database(live, target)
    copy = sqlite3.connect(target)
    try:
        assert copy.execute(
            "SELECT count(*) FROM clients WHERE name = ?", ("Added after the first backup",)
        ).fetchone() == (1,)
    finally:
        copy.close()
    assert sorted(os.listdir(tmp_path)) == ["clinic-monday.db", "live"]


@pytest.mark.parametrize("where", ["itself", "wal", "shm", "link", "missing-folder"])
def test_refused_destinations_change_nothing(
    live: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    conn = open_database(live)  # keeps the -wal and -shm files there
    try:
        before = sorted(os.listdir(live.parent))
        if where == "link":
            os.link(live, tmp_path / "hard-link.db")
        target = {
            "itself": live,
            "wal": Path(f"{live}-wal"),
            "shm": Path(f"{live}-shm"),
            "link": tmp_path / "hard-link.db",
            "missing-folder": tmp_path / "no" / "x.db",
        }[where]
        with pytest.raises(BadDestination):
            backup_database(live, target)
        code = main(["backup", "--db", str(live), str(target)])
        _, err = capsys.readouterr()
        assert code == 2
        assert err.startswith("ringround: ") and err.count("\n") == 1 and "Traceback" not in err
        assert sorted(os.listdir(live.parent)) == before
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()


@pytest.mark.parametrize("name", ["policy.toml", "clients.csv"])
def test_a_file_that_is_not_a_database_is_never_overwritten(
    live: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """A slip of the hand (the policy, an import file as DEST) must not destroy that file."""
    kept = tmp_path / name
    kept.write_text("[database]\npath = '/var/lib/ringround/clinic.db'\n", encoding="utf-8")
    with pytest.raises(BadDestination):
        backup_database(live, kept)
    code = main(["backup", "--db", str(live), str(kept)])
    _, err = capsys.readouterr()
    assert (code, err) == (
        2,
        f"ringround: {kept} exists and is not a database backup; nothing was written to it: "
        "give a new file name or a folder for the backup.\n",
    )
    assert kept.read_text(encoding="utf-8") == "[database]\npath = '/var/lib/ringround/clinic.db'\n"
    assert sorted(os.listdir(tmp_path)) == sorted(["live", name])


def test_a_folder_on_a_read_only_disk_is_named_as_such(live: Path, tmp_path: Path) -> None:
    """Even root may not write there: the sentence says why, not "ask the administrator"."""
    if os.geteuid() != 0:
        pytest.skip("mounting a file system needs root")
    point = tmp_path / "mnt"
    point.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(point)],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        with pytest.raises(BackupFailed) as refused:
            backup_database(live, point / "clinic-Mon.db")
        assert str(refused.value) == (
            f"The folder {point} for the backup is on a disk mounted read-only; remount it "
            "read-write or choose another folder."
        )
        assert os.listdir(point) == []
    finally:
        subprocess.run(["umount", str(point)], check=False)


def test_not_a_database_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notes = tmp_path / "notes.db"
    notes.write_bytes(b"minutes of the staff meeting\n" * 100)
    with pytest.raises(NotADatabase):
        backup_database(notes, tmp_path / "copy.db")
    assert main(["backup", "--db", str(notes), str(tmp_path / "copy.db")]) == 2
    assert "not a ringround database" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["notes.db"]


@pytest.mark.parametrize(
    "location", ["postgresql://clinic@db1.clinic.lan/ringround", "postgres://clinic:secret@db1/r"]
)
def test_a_postgresql_database_is_sent_to_the_servers_tools(
    location: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not "There is no database at postgresql:/clinic@db1..." (the URL taken for a file)."""
    assert main(["backup", "--db", location, str(tmp_path / "copy.db")]) == 2
    err = capsys.readouterr().err
    assert err == (
        "ringround: The database is on a PostgreSQL server: back it up with the server's "
        "own tools (pg_basebackup, pg_dump; docs/deploy-postgresql.md, step 7), or copy "
        "it into an SQLite file with 'ringround copy'.\n"
    )
    assert os.listdir(tmp_path) == []


def test_a_copy_failing_its_check_leaves_the_old_backup(
    live: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "copy.db"
    backup_database(live, target)
    old = target.read_bytes()
    monkeypatch.setattr(backup_module, "_integrity", lambda path: "*** in database main ***")
    with pytest.raises(BackupFailed, match="failed SQLite's integrity check"):
        backup_database(live, target)
    assert main(["backup", "--db", str(live), str(target)]) == 1
    err = capsys.readouterr().err
    assert "integrity check" in err and err.count("\n") == 1
    assert target.read_bytes() == old
    assert sorted(os.listdir(tmp_path)) == ["copy.db", "live"]  # no temporary file left
