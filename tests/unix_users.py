"""Throw-away Unix users for tests that need another user than root (permissions, SSH).

As root, ``chmod`` stops nothing, so tests that check what an operator may do
create real users (``useradd``), put them in a group of their own, run
commands as them with ``runuser`` and remove them at the end. Users made here
carry MARK in their GECOS field; a leftover of an interrupted run is removed,
a user of the same name made by anyone else makes the test skip.

The users must be able to run this Python: when it lives in a folder closed
to other users (pyenv under /root, mode 700), :func:`reachable` adds search
permission (o+x, never read) to the folders on the way for the test's
duration and restores their modes afterwards.
"""

from __future__ import annotations

import contextlib
import fcntl
import grp
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MARK = "ringround test user"
LOCK_FILE = "/tmp/ringround-test-users.lock"


def run(
    *command: str, check: bool = True, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False, env=env
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} failed ({result.returncode}): "
            f"{result.stderr.strip() or result.stdout.strip()}"
        )
    return result


def ringround_command() -> Path:
    """The console command installed beside this Python (a venv's bin/), else on PATH."""
    beside = Path(sys.executable).parent / "ringround"
    if beside.exists():
        return beside
    found = shutil.which("ringround")
    if found is None:
        pytest.skip("the ringround console command is not installed (pip install -e .)")
    return Path(found)


def need_root_tools(*tools: str) -> None:
    if sys.platform != "linux":
        pytest.skip("this test needs Linux")
    if os.geteuid() != 0:
        pytest.skip("this test creates Unix users, which needs root")
    for tool in ("useradd", "userdel", "groupadd", "groupdel", "runuser", *tools):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is missing on this machine")


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int  # the user's own primary group
    home: Path


def processes_of(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.append(int(entry))
    return pids


def _remove_user(name: str) -> None:
    """Remove a user made here, after ending what still runs as that user (by process id)."""
    try:
        uid = pwd.getpwnam(name).pw_uid
    except KeyError:
        return
    deadline = time.monotonic() + 5
    while processes_of(uid) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in processes_of(uid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    run("userdel", "--remove", "--force", name, check=False)


@contextlib.contextmanager
def _machine_lock(timeout: float = 300) -> Iterator[None]:
    """One test at a time per machine may make users or open folders (other pytest runs wait)."""
    with open(LOCK_FILE, "a+b") as handle:  # a file of its own, never a database
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"another test run held {LOCK_FILE} for {timeout:g} s"
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def temporary_users(group: str, names: tuple[str, ...]) -> Iterator[tuple[int, list[User]]]:
    """The group (its id) and users in it, each with a home; all removed at the end.

    Holds a machine-wide lock meanwhile: a concurrent pytest run (another
    developer's, on the same machine) waits instead of removing these users.
    """
    with _machine_lock(), _users(group, names) as made:
        yield made


@contextlib.contextmanager
def _users(group: str, names: tuple[str, ...]) -> Iterator[tuple[int, list[User]]]:
    for name in names:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_gecos != MARK:
            pytest.skip(f"the user {name} exists and was not made by a test")
        _remove_user(name)  # left over from an interrupted run
    with contextlib.suppress(KeyError):
        grp.getgrnam(group)
        run("groupdel", group, check=False)
    run("groupadd", group)
    made: list[str] = []
    try:
        for name in names:
            # "*" rather than useradd's "!": sshd without PAM refuses a locked account.
            run(
                "useradd",
                "--create-home",
                "--shell",
                "/bin/sh",
                "--groups",
                group,
                "--comment",
                MARK,
                "--password",
                "*",
                name,
            )
            made.append(name)
        users = [
            User(e.pw_name, e.pw_uid, e.pw_gid, Path(e.pw_dir))
            for e in (pwd.getpwnam(name) for name in names)
        ]
        yield grp.getgrnam(group).gr_gid, users
    finally:
        for name in made:
            _remove_user(name)
        run("groupdel", group, check=False)


def _closed_folders(paths: list[Path]) -> list[Path]:
    """Folders on the way to ``paths`` (and those that are folders) without o+x."""
    closed: list[Path] = []
    for path in paths:
        real = Path(os.path.realpath(path))
        for folder in [*reversed(real.parents), *([real] if real.is_dir() else [])]:
            if not os.stat(folder).st_mode & stat.S_IXOTH and folder not in closed:
                closed.append(folder)
    return closed


@contextlib.contextmanager
def reachable(user: User) -> Iterator[Path]:
    """This installation's ringround command, runnable by ``user`` until the block ends.

    Use it inside :func:`temporary_users`, whose lock keeps two test runs from
    changing and restoring the same folders' modes at once.
    """
    command = ringround_command()
    needed = [command, Path(sys.executable), Path(sys.prefix), Path(sys.base_prefix), ROOT]
    modes = {folder: stat.S_IMODE(os.stat(folder).st_mode) for folder in _closed_folders(needed)}
    try:
        for folder, mode in modes.items():
            os.chmod(folder, mode | stat.S_IXOTH)
        tried = run("runuser", "-u", user.name, "--", str(command), "--version", check=False)
        assert tried.returncode == 0, (
            f"{user.name} cannot run {command} even with search permission on "
            f"{[str(f) for f in modes]}: {tried.stderr.strip()}"
        )
        yield command
    finally:
        for folder, mode in modes.items():
            os.chmod(folder, mode)
