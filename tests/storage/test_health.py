"""``ringround check`` findings: each problem found, worded with its fix, nothing changed."""

from __future__ import annotations

import dataclasses
import os
import shutil
import sqlite3
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import health
from storage.database import open_database
from storage.demo import make_demo
from storage.health import OK, PROBLEM, WARNING, Finding, check, exit_status
from storage.policy import Policy, load_policy
from tests.stored_clinic import NOW


def levels(findings: list[Finding]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {OK: [], WARNING: [], PROBLEM: []}
    for finding in findings:
        result[finding.level].append(finding.text)
    return result


def _demo(path: Path, policy: Policy) -> None:
    conn = open_database(path, create=True)
    make_demo(conn, policy, clients=20, now=NOW)
    conn.close()


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder set up as docs/deploy.md asks: group-writable, setgid, with a group-writable db.

    Made right in the system's temporary folder: pytest's own tmp_path is closed
    to other users (mode 700), which the check rightly reports.
    """
    folder = Path(tempfile.mkdtemp(prefix="rr-shared-"))
    os.chmod(folder, 0o2770)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_healthy_database(
    shared_folder: Path, policy: Policy, group_umask: None, tmp_path: Path
) -> None:
    path = shared_folder / "clinic.db"
    _demo(path, policy)
    os.chmod(path, 0o660)
    log = tmp_path / "log" / "ringround.log"  # the log where this user may write it
    log.parent.mkdir()
    policy = dataclasses.replace(
        policy, log=dataclasses.replace(policy.log, to="file", file=str(log))
    )
    findings = check(path, policy)
    found = levels(findings)
    assert found[PROBLEM] == [] and found[WARNING] == [], findings
    assert exit_status(findings) == 0
    text = " ".join(found[OK])
    for expected in (
        "policy (built-in defaults) is valid",
        "local file system",
        "ringround database",
        "WAL mode",
        "integrity check",
        "You can save",
    ):
        assert expected in text
    assert sorted(os.listdir(shared_folder)) == ["clinic.db"]  # no -wal/-shm left behind


def test_missing_and_folder_are_bad_input(tmp_path: Path, policy: Policy) -> None:
    for path in (tmp_path / "nothing.db", tmp_path):
        findings = check(path, policy)
        assert exit_status(findings) == 2
        assert findings[-1].level == PROBLEM and "--db" in findings[-1].text


def test_garbage_is_left_exactly_as_it_was(tmp_path: Path, policy: Policy) -> None:
    path = tmp_path / "garbage.db"
    content = b"These are the minutes of the staff meeting.\n" * 200
    path.write_bytes(content)
    findings = check(path, policy)
    assert exit_status(findings) == 2
    assert "not a ringround database" in findings[-1].text
    assert path.read_bytes() == content
    assert sorted(os.listdir(tmp_path)) == ["garbage.db"]


def test_another_programs_sqlite_file(tmp_path: Path, policy: Policy) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (text)")
    conn.commit()
    conn.close()
    findings = check(path, policy)
    assert exit_status(findings) == 2
    assert "another program" in findings[-1].text


def test_not_in_wal_mode_is_reported_and_left_alone(tmp_path: Path, policy: Policy) -> None:
    path = tmp_path / "clinic.db"
    _demo(path, policy)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    findings = check(path, policy)
    assert exit_status(findings) == 1
    assert any("delete journal mode instead of WAL" in t for t in levels(findings)[PROBLEM])
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    conn.close()


def test_damage_is_found(tmp_path: Path, policy: Policy) -> None:
    path = tmp_path / "clinic.db"
    _demo(path, policy)
    conn = sqlite3.connect(path)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.close()
    # No connection is open in this process now (see docs/sqlite.md): overwrite a page.
    with open(path, "r+b") as handle:
        handle.seek(page_size * (pages // 2))
        handle.write(b"\xff" * page_size)
    assert not levels(check(path, policy))[PROBLEM]  # pages are read only with full=True
    findings = check(path, policy, full=True)
    assert exit_status(findings) in (1, 2)
    assert any("damaged" in t for t in levels(findings)[PROBLEM]), findings


def test_missing_parts_of_the_schema_are_named(tmp_path: Path, policy: Policy) -> None:
    path = tmp_path / "clinic.db"
    _demo(path, policy)
    healthy = check(path, policy)
    assert (
        f"{path} has every table, column, index and trigger of its format." in levels(healthy)[OK]
    )
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE row_notes")  # named alone, not with its columns and index
    conn.execute("ALTER TABLE call_lists DROP COLUMN closed_at")
    for index in ("phones_by_digits", "tasks_by_kind", "tasks_by_client", "items_by_list"):
        conn.execute(f"DROP INDEX {index}")
    conn.commit()
    conn.close()
    findings = check(path, policy)
    assert exit_status(findings) == 1
    assert levels(findings)[PROBLEM] == [
        f"{path} lacks parts of its format (index phones_by_digits, index tasks_by_client, "
        "index tasks_by_kind, column call_lists.closed_at, index items_by_list and 1 more): "
        "another program or a person changed it; stop every ringround and restore the "
        "latest backup."
    ]
    conn = sqlite3.connect(path)  # the check changed nothing
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert "row_notes" not in tables and "phones_by_digits" not in tables


def test_network_file_system(
    tmp_path: Path, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "clinic.db"
    _demo(path, policy)
    monkeypatch.setattr(health, "file_system_type", lambda folder: "nfs4")
    findings = check(path, policy)
    assert exit_status(findings) == 1
    assert any(
        "network file system (nfs4)" in t and "server's own disk" in t
        for t in levels(findings)[PROBLEM]
    )


def test_unwritable_file_and_folder(
    shared_folder: Path, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As root, chmod does not stop writes: pretend the OS refuses them instead.
    path = shared_folder / "clinic.db"
    _demo(path, policy)
    os.chmod(path, 0o660)
    real_access = os.access

    def access(target: str | os.PathLike[str], mode: int) -> bool:
        return not mode & os.W_OK and real_access(target, mode)

    monkeypatch.setattr(os, "access", access)
    problems = levels(check(path, policy))[PROBLEM]
    assert any("may not write" in t and "chmod g+rw" in t for t in problems), problems
    assert any("may not create files in" in t and "chmod g+rwx" in t for t in problems), problems
    assert exit_status(check(path, policy)) == 1


def test_group_permissions_are_warnings(tmp_path: Path, policy: Policy) -> None:
    folder = tmp_path / "private"
    folder.mkdir()
    os.chmod(folder, 0o755)
    path = folder / "clinic.db"
    _demo(path, policy)
    os.chmod(path, 0o644)
    findings = check(path, policy)
    warnings = levels(findings)[WARNING]
    assert any("not writable by its group" in t and f"chmod g+rw {path}" in t for t in warnings), (
        warnings
    )
    assert any(f"chmod g+rwx {folder}" in t for t in warnings), warnings
    assert exit_status(findings) == 0  # warnings do not fail the check

    os.chmod(folder, 0o775)  # group-writable but without setgid
    assert any(f"chmod g+s {folder}" in t for t in levels(check(path, policy))[WARNING])


def test_telephony_secret_must_be_readable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text(
        f'[telephony]\nenabled = true\nsecret_file = "{tmp_path}/none"\n', encoding="utf-8"
    )
    policy = load_policy(policy_file)
    path = tmp_path / "clinic.db"
    _demo(path, policy)
    problems = levels(check(path, policy))[PROBLEM]
    assert any("PBX password file" in t for t in problems)


@pytest.fixture
def read_only_mount(tmp_path: Path) -> Iterator[Path]:
    """A small tmpfs that the test can switch to read-only (root with mount rights only)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a file system needs root")
    point = tmp_path / "mnt"
    point.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(point)],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=False)


def test_a_read_only_disk(read_only_mount: Path, policy: Policy) -> None:
    path = read_only_mount / "clinic.db"
    _demo(path, policy)
    os.chmod(read_only_mount, 0o2770)
    os.chmod(path, 0o660)
    assert exit_status(check(path, policy)) == 0
    subprocess.run(["mount", "-o", "remount,ro", str(read_only_mount)], check=True)
    findings = check(path, policy)
    assert exit_status(findings) == 1
    problems = levels(findings)[PROBLEM]
    assert [t for t in problems if "mounted read-only" in t and "remount it read-write" in t]
    assert len(problems) == 1, problems
    assert not any("chmod" in f.text for f in findings), findings  # chmod cannot help there
    assert stat.S_ISREG(os.stat(path).st_mode)
