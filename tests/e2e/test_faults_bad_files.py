"""Faults: a read-only database, a garbage file, a database with overwritten pages.

Each time the real ``ringround`` command is started on the file in a
pseudo-terminal (tests/pty_app.py), as an operator would. It must stop before
writing anything (a damaged file is found by the integrity check, which runs
beside the first paint), with one sentence and a non-zero exit code (2 for a
file that is not a usable database, 1 for one it may not write), no
traceback — and leave the file exactly as it was (same bytes, same mtime,
nothing deleted).
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from storage.database import open_database
from tests.clinic_fixtures import build_desk
from tests.command_line import call
from tests.pty_app import PtyApp, ringround_argv, visible
from tests.tiny_disk import tiny_disk

PAGE = 4096
LEAVE_SCREEN = b"\x1b[?1049l"  # back from the alternate screen to the shell's
OLD = 1_600_000_000  # an mtime no run of the test can produce by writing


@dataclass(frozen=True)
class Snapshot:
    digest: str
    mtime_ns: int
    size: int
    names: frozenset[str]

    @classmethod
    def of(cls, path: Path) -> Snapshot:
        info = os.stat(path)  # nothing of ours runs on the file now: reading it is safe
        return cls(
            hashlib.sha256(path.read_bytes()).hexdigest(),
            info.st_mtime_ns,
            info.st_size,
            frozenset(p.name for p in path.parent.iterdir()),
        )


def start_on(path: Path) -> tuple[int, list[str]]:
    """Run ``ringround --db path`` on a pty; (exit code, the lines it wrote)."""
    app = PtyApp([*ringround_argv(), "--db", str(path)])
    try:
        try:
            code = app.wait_exit(30)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"ringround started on {path.name}:\n{app.text()}") from None
        app.wait_until(lambda: app.closed, "the end of the output")
        output = app.output()
        # The integrity check runs beside the first paint (on a big file the list picker
        # shows first): what counts is what stays on the terminal after the screen is left.
        left = output.rfind(LEAVE_SCREEN)
        lines = [
            line.strip()
            for line in visible(output[left:] if left >= 0 else output).splitlines()
            if line.strip()
        ]
    finally:
        app.close()
    return code, lines


def assert_refused(path: Path, code: int, *words: str) -> None:
    """Started on ``path``, ringround says one sentence with one of ``words`` and exits."""
    before = Snapshot.of(path)
    exit_code, lines = start_on(path)
    assert exit_code == code, (exit_code, lines)
    assert len(lines) == 1, lines
    (line,) = lines
    assert line.startswith("ringround: ") and line.endswith("."), line
    assert "Traceback" not in line and any(word in line for word in words), line
    assert str(path) in line, line
    after = Snapshot.of(path)
    assert (after.digest, after.mtime_ns, after.size) == (
        before.digest,
        before.mtime_ns,
        before.size,
    ), "the file was rewritten"
    assert before.names <= after.names, f"deleted: {before.names - after.names}"


def closed_clinic(folder: Path) -> Path:
    """The fixed clinic, checkpointed and closed: the whole database in one file."""
    folder.mkdir(parents=True, exist_ok=True)
    desk = build_desk(folder)
    conn = open_database(desk.path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    assert not Path(f"{desk.path}-wal").exists()
    os.utime(desk.path, (OLD, OLD))
    return desk.path


def test_a_garbage_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "clinic.db"
    path.write_bytes(random.Random(8).randbytes(20 * PAGE))
    os.utime(path, (OLD, OLD))
    assert_refused(path, 2, "is damaged or is not a ringround database")


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_overwritten_pages_are_refused_and_left_alone(tmp_path: Path, where: str) -> None:
    good = closed_clinic(tmp_path / "good")
    pages = good.stat().st_size // PAGE
    first = {"start": 2, "middle": pages // 2, "end": pages - 3}[where]
    path = tmp_path / "clinic.db"
    shutil.copyfile(good, path)
    rng = random.Random(first)
    with open(path, "r+b") as damaged:  # no connection is open on the copy
        for page in range(first, first + 3):
            damaged.seek((page - 1) * PAGE)
            damaged.write(rng.randbytes(PAGE))
    os.utime(path, (OLD, OLD))
    assert_refused(path, 2, "is damaged")


def root_only() -> None:
    if os.geteuid() != 0:
        pytest.skip("as root chmod does not stop writes: chattr +i and a read-only mount need root")


def test_an_immutable_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    root_only()
    path = closed_clinic(tmp_path)
    subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        assert_refused(path, 1, "read-only")
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.fixture
def read_only_mount(tmp_path: Path) -> Iterator[Path]:
    root_only()
    with tiny_disk(tmp_path / "disk", "8m") as disk:
        path = closed_clinic(disk)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        yield path


def test_a_database_on_a_read_only_mount_is_refused_and_left_alone(
    read_only_mount: Path,
) -> None:
    assert_refused(read_only_mount, 1, "read-only", "may not write")


def test_commands_name_a_read_only_mount_not_the_operators_group(
    read_only_mount: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No group membership helps on a disk mounted read-only: the sentence says what does."""
    file = tmp_path / "clients.csv"
    file.write_text("name\nАнна\n", encoding="utf-8")
    for args in (["import", "clients", str(file)], ["demo", "--no-run"]):
        code, out, err = call(capsys, *args, "--db", read_only_mount)
        assert (code, out) == (1, ""), err
        assert err == (
            f"ringround: {read_only_mount} is on a file system mounted read-only, so nothing "
            "can be saved; remount it read-write or move the database to a writable disk.\n"
        )
    code, out, err = call(capsys, "export", "clients", "--db", read_only_mount)
    assert code == 0, err  # reading needs no writing


def test_an_export_into_a_folder_that_takes_no_files_names_the_folder(
    read_only_mount: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not the name of the hidden file the export would have been written to first, with
    the system's English words."""
    folder = read_only_mount.parent
    for name in ("calls.csv", "calls.xlsx"):
        code, out, err = call(
            capsys, "export", "calls", "--db", read_only_mount, "-o", folder / name
        )
        assert (code, out) == (1, ""), err
        assert err == (
            f"ringround: You may not create files in {folder}; choose a folder you may write, "
            "or ask the administrator.\n"
        )


def test_a_new_database_on_a_read_only_disk_is_refused_in_one_sentence(
    read_only_mount: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """copy and import make a new database file, and remove what they made when they fail:
    on a read-only disk that removal failed too, and its error replaced the sentence."""
    folder = read_only_mount.parent
    source = closed_clinic(tmp_path / "source")
    file = tmp_path / "clients.csv"
    file.write_text("name\nАнна\n", encoding="utf-8")
    new = folder / "new.db"
    for args in (["copy", str(source), str(new)], ["import", "clients", str(file), "--db", new]):
        code, out, err = call(capsys, *args)
        assert (code, out) == (1, ""), err
        assert err.startswith(f"ringround: You may not make files in {folder}, so the database "), (
            err
        )
        assert err.endswith(" cannot be made there.\n") and err.count("\n") == 1, err
