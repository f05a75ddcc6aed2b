"""A user who may read the clinic's database but not write it (an auditor, a report script).

Such a user used to leave -wal and -shm files of their own beside the
database, with the database's read-only mode, which then stopped the real
operators. Now commands that only read (export, check, locks) read strictly
read-only and commands that write refuse with one sentence — and in both
cases no file appears beside the database and none changes its owner.

Run as a real throw-away Unix user (tests/unix_users.py): as root, chmod
stops nothing.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from storage.database import open_database
from storage.engine import write
from tests.clinic_fixtures import build_desk
from tests.command_env import command_env
from tests.unix_users import User, need_root_tools, reachable, run, temporary_users


@dataclass(frozen=True)
class Reader:
    user: User
    command: Path
    folder: Path  # writable by everybody, as a careless folder could be
    db: Path  # owned by root, mode 0644: readable, not writable, by the reader

    def ringround(self, *args: str) -> tuple[int, str, str]:
        result = run(
            "runuser",
            "-u",
            self.user.name,
            "--",
            str(self.command),
            *args,
            "--db",
            str(self.db),
            check=False,
            env=command_env(),
        )
        assert "Traceback" not in result.stderr, result.stderr
        return result.returncode, result.stdout, result.stderr

    def beside(self) -> dict[str, tuple[int, int]]:
        """The files in the database's folder: name -> (owner, mode)."""
        return {p.name: (p.stat().st_uid, p.stat().st_mode & 0o7777) for p in self.folder.iterdir()}


@pytest.fixture
def reader() -> Iterator[Reader]:
    need_root_tools()
    top = Path(tempfile.mkdtemp(prefix="rr-reader-"))  # under /tmp, which all may enter
    try:
        os.chmod(top, 0o777)
        build_desk(top)
        db = top / "clinic.db"
        conn = open_database(db)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()  # the last connection: SQLite removes -wal and -shm
        os.chmod(db, 0o644)
        assert sorted(p.name for p in top.iterdir()) == ["clinic.db"]
        with (
            temporary_users("rrreaders", ("rrreader",)) as (_, users),
            reachable(users[0]) as command,
        ):
            yield Reader(users[0], command, top, db)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_export_reads_an_unused_database_without_making_files(reader: Reader) -> None:
    before = reader.beside()
    code, out, err = reader.ringround("export", "clients")
    assert code == 0, err
    assert out.splitlines()[0].startswith("id,name,phones")
    assert "Иванова Мария Петровна" in out
    code, out, err = reader.ringround("locks", "--json")
    assert code == 0, err
    assert out.strip() == "[]"
    assert reader.beside() == before


def test_export_reads_a_database_in_use_through_the_operators_files(reader: Reader) -> None:
    operator = open_database(reader.db)  # an operator at work: -wal and -shm exist
    try:
        with write(operator):  # a save still in the -wal, not yet in the file itself
            operator.execute("UPDATE clients SET name = 'Новое Имя' WHERE external_id = 'C-smith'")
        before = reader.beside()
        assert {"clinic.db-wal", "clinic.db-shm"} <= set(before)
        code, out, err = reader.ringround("export", "clients")
        assert code == 0, err
        assert "Новое Имя" in out and "John Smith" not in out
        assert reader.beside() == before  # same files, same owners, same modes
    finally:
        operator.close()


def test_a_writing_command_refuses_without_making_files(reader: Reader) -> None:
    csv = Path(tempfile.mkdtemp(prefix="rr-reader-csv-")) / "clients.csv"
    try:
        csv.parent.chmod(0o755)
        csv.write_text("name,phones\nНовый Клиент,+7 916 000-00-01\n", encoding="utf-8")
        csv.chmod(0o644)
        before = reader.beside()
        code, out, err = reader.ringround("import", "clients", str(csv))
        assert code == 1, (out, err)
        assert err.count("\n") == 1 and str(reader.db) in err
        assert "read-only for you" in err and "operators' group" in err
        assert reader.beside() == before
    finally:
        shutil.rmtree(csv.parent)
    conn = sqlite3.connect(f"file:{reader.db}?mode=ro", uri=True)
    try:
        assert conn.execute(
            "SELECT count(*) FROM clients WHERE name = 'Новый Клиент'"
        ).fetchone() == (0,)
    finally:
        conn.close()


def test_a_folder_closed_to_the_user_is_one_sentence_for_every_command(reader: Reader) -> None:
    """Not (yet) in the operators' group: the database's folder (2770) cannot even be entered.

    A new member's group counts only from their next login (docs/deploy.md), so
    this is what a new operator meets; it must read as the read-only refusal does,
    not as the system's bare "Permission denied".
    """
    csv = Path(tempfile.mkdtemp(prefix="rr-reader-csv-")) / "clients.csv"
    try:
        csv.parent.chmod(0o755)
        csv.write_text("name,phones\nНовый Клиент,+7 916 000-00-01\n", encoding="utf-8")
        csv.chmod(0o644)
        os.chmod(reader.folder, 0o2770)  # root's group, which the reader is not in
        for command in ((), ("export", "clients"), ("locks",), ("import", "clients", str(csv))):
            code, out, err = reader.ringround(*command)
            assert (code, out) == (1, ""), (command, err)
            assert err == (
                f"ringround: You may not open the database {reader.db}: its folder is closed "
                "to you; ask the administrator to add you to the operators' group (see "
                "docs/deploy.md).\n"
            ), command
    finally:
        shutil.rmtree(csv.parent)
    assert sorted(p.name for p in reader.folder.iterdir()) == ["clinic.db"]


def test_working_files_another_user_left_closed_are_named(reader: Reader) -> None:
    """The database is writable, but an operator's -wal and -shm are not (a umask of 022).

    The refusal names the file that stops the save and who can mend it, instead of
    calling the (writable) database read-only.
    """
    os.chmod(reader.db, 0o666)
    csv = Path(tempfile.mkdtemp(prefix="rr-reader-csv-")) / "clients.csv"
    operator = open_database(reader.db)  # keeps -wal and -shm there
    try:
        csv.parent.chmod(0o755)
        csv.write_text("name,phones\nНовый Клиент,+7 916 000-00-01\n", encoding="utf-8")
        csv.chmod(0o644)
        for companion in ("-wal", "-shm"):
            os.chmod(f"{reader.db}{companion}", 0o644)  # readable, as the group's are
        code, out, err = reader.ringround("import", "clients", str(csv))
        assert (code, out) == (1, ""), err
        assert err == (
            f"ringround: You may not write {reader.db}-wal, a working file of the database, so "
            "nothing can be saved; ask the administrator to run ringround check, which names "
            "the fix.\n"
        )
        code, out, err = reader.ringround("check")
        assert code == 1, err
        assert (
            f"PROBLEM  You cannot save to {reader.db}: you may not write its working file "
            f"{reader.db}-wal; run chmod g+rw {reader.db}-wal.\n"
        ) in out
        assert "read-only for you" not in out  # the database itself is writable
    finally:
        operator.close()
        shutil.rmtree(csv.parent)


def test_a_dry_run_of_an_import_only_reads(reader: Reader) -> None:
    """--dry-run saves nothing, so a user who may only read the database may run it (an
    admin checking tonight's file against the clinic), and it makes no file beside it."""
    csv = Path(tempfile.mkdtemp(prefix="rr-reader-csv-")) / "clients.csv"
    try:
        csv.parent.chmod(0o755)
        csv.write_text("name,phones\nНовый Клиент,+7 916 000-00-01\n", encoding="utf-8")
        csv.chmod(0o644)
        before = reader.beside()
        code, out, err = reader.ringround("import", "clients", str(csv), "--dry-run")
        assert (code, err) == (0, ""), err
        assert out.startswith(f"Dry run of {csv} (1 rows): would add 1, update 0, ")
        assert reader.beside() == before
    finally:
        shutil.rmtree(csv.parent)


def test_check_names_the_problem_without_making_files(reader: Reader) -> None:
    before = reader.beside()
    code, out, err = reader.ringround("check", "--full")
    assert code == 1, (out, err)
    problems = [line for line in out.splitlines() if line.startswith("PROBLEM")]
    assert len(problems) == 1 and f"may not write {reader.db}" in problems[0], out
    assert "passed SQLite's integrity check" in out
    assert reader.beside() == before


def test_a_backup_user_copies_the_database_without_making_files(reader: Reader) -> None:
    """A nightly backup under a login of its own that may only read the database."""
    target = Path(tempfile.mkdtemp(prefix="rr-reader-backup-"))
    try:
        os.chown(target, reader.user.uid, reader.user.gid)
        before = reader.beside()
        code, out, err = reader.ringround("backup", str(target / "copy.db"))
        assert code == 0, (out, err)
        assert reader.beside() == before
        copy = open_database(target / "copy.db", reading=True)
        try:
            assert copy.execute("SELECT count(*) FROM clients").fetchone() == (5,)
        finally:
            copy.close()
    finally:
        shutil.rmtree(target)
