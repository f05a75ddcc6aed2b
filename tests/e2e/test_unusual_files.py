"""Damaged and unusual files: every writing command refuses a damaged database as the app
does, a folder an operator may not write is named as such, ``check`` sees a full disk, and
new database files are shared with the operators' group whatever the umask.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from storage.backup import backup_database
from storage.database import open_database
from tests.command_env import command_env
from tests.command_line import call, supervisors_policy
from tests.e2e.test_faults_bad_files import PAGE, Snapshot, closed_clinic
from tests.pty_app import ringround_argv
from tests.tiny_disk import fill, tiny_disk
from tests.unix_users import need_root_tools, reachable, run, temporary_users

# -- a damaged database: no writing command writes to it -----------------------------------------


@pytest.fixture(scope="module")
def good_clinic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return closed_clinic(tmp_path_factory.mktemp("good"))


def damaged_copy(good: Path, folder: Path) -> Path:
    """The clinic with the pages of three of its tables overwritten.

    Only data pages are hit, never the schema's (where those lie depends on the
    order the migrations made the tables in), so the file still opens and the
    damage is for the integrity check to find.
    """
    with closing(sqlite3.connect(f"file:{good}?mode=ro", uri=True)) as reader:
        pages = [
            int(row[0])
            for row in reader.execute(
                "SELECT pageno FROM dbstat WHERE name IN ('clients', 'phones', 'call_rows')"
            )
        ]
    assert pages
    path = folder / "clinic.db"
    shutil.copyfile(good, path)
    rng = random.Random(len(pages))
    with open(path, "r+b") as damaged:  # no connection is open on the copy
        for page in pages:
            damaged.seek((page - 1) * PAGE)
            damaged.write(rng.randbytes(PAGE))
    return path


WRITING_COMMANDS = {
    "import": ["import", "clients", "{csv}"],
    "import dry run": ["import", "clients", "{csv}", "--dry-run"],
    "lists create": ["lists", "create", "Recall", "{csv}", "--policy", "{boss}"],
    "lists close": ["lists", "close", "Recall", "--policy", "{boss}"],
    "lists reopen": ["lists", "reopen", "Recall", "--policy", "{boss}"],
    "lists delete": ["lists", "delete", "Recall", "--policy", "{boss}"],
    "locks release": ["locks", "--release", "appointment:1", "--policy", "{boss}"],
    "demo": ["demo", "--no-run"],
    "demo fresh": ["demo", "--no-run", "--fresh"],
}


@pytest.mark.parametrize("command", WRITING_COMMANDS)
def test_writing_commands_refuse_a_damaged_database(
    good_clinic: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    path = damaged_copy(good_clinic, tmp_path)
    file = tmp_path / "clients.csv"
    file.write_text("client_id,name\n1,Анна\n", encoding="utf-8")
    from storage.roles import login_name

    boss = supervisors_policy(tmp_path, [login_name()], "boss.toml")
    before = Snapshot.of(path)
    args = [arg.format(csv=file, boss=boss) for arg in WRITING_COMMANDS[command]]
    code, out, err = call(capsys, *args, "--db", path)
    assert (code, out) == (2, ""), err
    assert err == (
        f"ringround: The database {path} is damaged, so nothing was changed in it; "
        "stop every ringround, run 'ringround check --full' and restore the latest "
        "backup.\n"
    )
    after = Snapshot.of(path)
    assert (after.digest, after.size) == (before.digest, before.size)


def test_the_check_the_refusal_names_finds_the_damage(
    good_clinic: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The admin does what the sentence says: a plain check reads too little of the file to
    see this damage and says all is well, so the sentence names the one that reads it all."""
    path = damaged_copy(good_clinic, tmp_path)
    code, _, err = call(capsys, "demo", "--no-run", "--db", path)
    assert code == 2 and "run 'ringround check --full'" in err
    code, out, _ = call(capsys, "check", "--full", "--db", path)
    assert code == 1, out
    assert f"PROBLEM  {path} is damaged (integrity check: " in out


# -- a folder the operator may not write -----------------------------------------------------------


@pytest.fixture
def closed_folder() -> Iterator[tuple[Path, Path, list[str]]]:
    """(database, a CSV file, ``runuser`` words): a real operator who may write the database
    file but not its folder (the group has r-x there)."""
    need_root_tools()
    with temporary_users("rr-folder-ops", ("rr_folder_op",)) as (gid, users):
        user = users[0]
        top = Path(tempfile.mkdtemp(prefix="rr-folder-"))  # under /tmp, which all may enter
        try:
            os.chmod(top, 0o755)
            folder = top / "ringround"
            folder.mkdir()
            os.chown(folder, -1, gid)
            db = folder / "clinic.db"
            open_database(db, create=True).close()
            os.chown(db, -1, gid)
            os.chmod(folder, 0o2750)  # the group may read the folder, not make files in it
            file = top / "clients.csv"
            file.write_text("name\nАнна\n", encoding="utf-8")
            os.chmod(file, 0o644)
            with reachable(user) as command:
                yield db, file, ["runuser", "-u", user.name, "--", str(command)]
        finally:
            shutil.rmtree(top, ignore_errors=True)


def test_a_folder_the_operator_may_not_write_is_named(
    closed_folder: tuple[Path, Path, list[str]],
) -> None:
    db, file, as_operator = closed_folder
    env = command_env()
    for args in (["export", "clients"], ["import", "clients", str(file)], ["lists"], ["locks"]):
        result = run(*as_operator, *args, "--db", str(db), check=False, env=env)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert result.stderr == (
            f"ringround: You may not write the folder of {db} or its -wal and -shm files; ask "
            "the administrator to add you to the operators' group (see docs/deploy.md).\n"
        ), args
    result = run(*as_operator, "check", "--db", str(db), check=False, env=env)
    assert result.returncode == 1
    assert "damaged" not in result.stdout
    assert f"may not create files in {db.parent}" in result.stdout


# -- check on a full disk ------------------------------------------------------------------------


def test_check_reports_a_full_disk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with tiny_disk(tmp_path / "disk", "70m") as disk:  # just over the "nearly full" mark
        os.chmod(disk, 0o2770)
        db = disk / "clinic.db"
        assert call(capsys, "demo", "--no-run", "--clients", "20", "--db", db)[0] == 0
        code, out, _ = call(capsys, "check", "--db", db)
        assert code == 0, out
        assert f"ok       The disk holding {db} has " in out
        filler = fill(disk)
        code, out, _ = call(capsys, "check", "--db", db)
        assert code == 1, out
        assert (
            f"PROBLEM  The disk holding {db} is full (0.0 MB free), so operators cannot "
            "save calls; free some space on it (old backups, logs) before work goes on.\n"
        ) in out
        assert "You can save" not in out and "damaged" not in out
        filler.unlink()
        with open(filler, "wb") as some:  # leave 4 MB: not full, nearly
            some.write(b"\0" * (os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize - 4_000_000))
        code, out, _ = call(capsys, "check", "--db", db)
        assert code == 0, out
        assert f"warning  The disk holding {db} is nearly full (" in out
        assert f"ok       You can save to {db}." in out


def test_commands_on_a_full_disk_say_so_not_damaged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A closed database on a full disk cannot be opened (SQLite must make its -shm file):
    that is a full disk, not a damaged file to restore from a backup."""
    with tiny_disk(tmp_path / "disk", "8m") as disk:
        db = closed_clinic(disk)
        file = tmp_path / "clients.csv"
        file.write_text("name\nАнна\n", encoding="utf-8")
        filler = fill(disk)
        before = Snapshot.of(db)
        for args in (["export", "clients"], ["locks"], ["import", "clients", str(file)]):
            code, out, err = call(capsys, *args, "--db", db)
            assert (code, out) == (1, ""), (args, err)
            assert err == (
                f"ringround: {db} cannot be opened while its disk is full; free some space "
                "on it (old backups, logs), then try again.\n"
            ), args
        after = Snapshot.of(db)
        assert (after.digest, after.size) == (before.digest, before.size)
        filler.unlink()
        code, out, err = call(capsys, "export", "clients", "--db", db)
        assert code == 0, err
        assert out.startswith("id,name,phones,")


@pytest.mark.parametrize("name", ["clients.csv", "clients.xlsx"])
def test_an_export_to_a_full_disk_says_so_and_leaves_no_file(tmp_path: Path, name: str) -> None:
    """A real process: what it leaves on standard error is all an admin sees, including
    what Python prints while it ends (an unclosed workbook's complaint)."""
    db = closed_clinic(tmp_path / "clinic")
    with tiny_disk(tmp_path / "disk", "1m") as disk:
        fill(disk)
        output = disk / name
        done = subprocess.run(
            [*ringround_argv(), "export", "clients", "--db", str(db), "-o", str(output)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert (done.returncode, done.stdout) == (1, ""), done.stderr
        assert done.stderr == (
            f"ringround: The disk holding {output} is full; nothing was saved.\n"
        )
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]


# -- new database files: mode 0660 and the folder's group, whatever the umask ----------------------


@pytest.fixture
def other_group_folder(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A folder whose group is not ours (nor setgid), and umask 077 (the worst case)."""
    if os.geteuid() != 0:
        others = [g for g in os.getgroups() if g != os.getegid()]
        if not others:
            pytest.skip("giving a file another group needs root or a second group")
        gid = others[0]
    else:
        gid = 4242
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chown(folder, -1, gid)
    os.chmod(folder, 0o770)
    before = os.umask(0o077)
    try:
        yield folder, gid
    finally:
        os.umask(before)


def shared(path: Path, gid: int) -> bool:
    info = os.stat(path)
    return stat.S_IMODE(info.st_mode) == 0o660 and info.st_gid == gid


def test_new_database_files_are_shared_with_the_group(
    other_group_folder: tuple[Path, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, gid = other_group_folder
    demo = folder / "demo.db"
    assert call(capsys, "demo", "--no-run", "--clients", "10", "--db", demo)[0] == 0
    assert shared(demo, gid)
    file = tmp_path / "clients.csv"
    file.write_text("name\nАнна\n", encoding="utf-8")
    imported = folder / "imported.db"
    assert call(capsys, "import", "clients", file, "--db", imported)[0] == 0
    assert shared(imported, gid)
    made = backup_database(demo, folder / "backup.db")
    assert shared(Path(made.destination), gid)
    conn = open_database(folder / "open.db", create=True)  # -wal and -shm while it is open
    try:
        conn.execute("INSERT INTO call_lists (name, created_at, created_by) VALUES ('x', 1, 'a')")
        for name in ("open.db", "open.db-wal", "open.db-shm"):
            assert shared(folder / name, gid), name
    finally:
        conn.close()
    assert sorted(p.name for p in folder.iterdir()) == [
        "backup.db",
        "demo.db",
        "imported.db",
        "open.db",
    ]


@pytest.mark.parametrize("command", ["demo", "import", "copy"])
def test_a_new_database_in_a_folder_we_may_not_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """The sentence names the database asked for (an import named the hidden file it makes
    first, '.demo.db.import-4711')."""
    clients = tmp_path / "clients.csv"
    clients.write_text("name\nАнна\n", encoding="utf-8")
    source = tmp_path / "source.db"
    assert call(capsys, "import", "clients", clients, "--db", source)[0] == 0
    if os.geteuid() == 0:
        folder = tmp_path / "closed"
        folder.mkdir()
        subprocess.run(["chattr", "+i", str(folder)], check=True)
    else:
        folder = tmp_path / "closed"
        folder.mkdir(mode=0o555)
    try:
        new = str(folder / "demo.db")
        args = {
            "demo": ["demo", "--no-run", "--db", new],
            "import": ["import", "clients", str(clients), "--db", new],
            "copy": ["copy", str(source), new],
        }[command]
        code, out, err = call(capsys, *args)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
    assert (code, out) == (1, "")
    assert err == (
        f"ringround: You may not make files in {folder}, so the database "
        f"{folder / 'demo.db'} cannot be made there.\n"
    )
