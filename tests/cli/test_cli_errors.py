"""One error family (storage/errors.py): each member's sentence and exit code on the command line.

Every subclass of RingroundError that storage/ and telephony/ define is raised
from inside a real command (``backup``, its work replaced), and the command
line must say its one sentence and exit with its code: 2 for bad input, 1
otherwise. Anything outside the family is a bug, said as one, and logged with
its traceback. A few real situations run the installed ``ringround`` in a
process of its own.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import storage
import telephony
from cli.main import main
from storage.admin_log import LogTarget, configure
from storage.call_lists import NoSuchList
from storage.copying import CopyDiffers
from storage.errors import EXIT_BAD_INPUT, EXIT_FAILURE, RingroundError
from storage.imports.problems import BadFile, Problem
from storage.locks import LockLost
from tests.command_env import command_env

SENTENCE = "The sentence for staff."
OFF = LogTarget("off", "/dev/log", "/var/log/ringround/ringround.log", 10, 5)

# Members whose constructor takes more than the sentence.
MADE: dict[str, Callable[[], RingroundError]] = {
    "BadFile": lambda: BadFile("clients.csv", [Problem(line=3, column="", reason="broken")]),
    "NoSuchList": lambda: NoSuchList("Flu jabs"),
    "LockLost": lambda: LockLost("alice"),
    "CopyDiffers": lambda: CopyDiffers(SENTENCE, []),
}

# What each member names, and so the code it must exit with.
BAD_INPUT = {
    "BadInput",
    "BadPhone",
    "PolicyError",
    "OperatorNotAllowed",
    "BadFile",
    "NoSuchList",
    "NotARow",
    "NotADatabase",
    "NetworkFileSystem",
    "BadDestination",
    "DemoError",
    "CallBackNotInFuture",
    "NotLocked",
    "NotEmpty",
    "NothingToCopy",
}


def _members() -> list[type[RingroundError]]:
    for package in (storage, telephony):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            importlib.import_module(module.name)
    found: list[type[RingroundError]] = []
    todo: list[type[RingroundError]] = [RingroundError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return sorted(set(found), key=lambda cls: cls.__name__)


MEMBERS = _members()


@pytest.fixture
def policy_file(tmp_path: Path) -> Iterator[Path]:
    log = tmp_path / "ringround.log"
    policy = tmp_path / "policy.toml"
    policy.write_text(f'[log]\nto = "file"\nfile = "{log}"\n', encoding="utf-8")
    yield policy
    configure(OFF)


def _backup_raising(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    import storage.backup

    def broken(*args: object) -> None:
        raise error

    monkeypatch.setattr(storage.backup, "backup_database", broken)
    monkeypatch.delenv("RINGROUND_DEBUG", raising=False)


def _backup(tmp_path: Path, policy: Path) -> int:
    return main(
        [
            "backup",
            str(tmp_path / "copy.db"),
            "--policy",
            str(policy),
            "--db",
            str(tmp_path / "clinic.db"),
        ]
    )


def test_the_family_is_found_whole() -> None:
    names = {cls.__name__ for cls in MEMBERS}
    assert {
        "RingroundError",
        "StorageError",
        "PolicyError",
        "TelephonyError",
        "LockLost",
        "NotAllowed",
        "ListInUse",
        "BadFile",
    } <= names
    assert names >= BAD_INPUT  # a name in BAD_INPUT that no longer exists fails here


@pytest.mark.parametrize("member", MEMBERS, ids=lambda cls: cls.__name__)
def test_each_member_says_its_sentence_with_its_exit_code(
    member: type[RingroundError],
    tmp_path: Path,
    policy_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    error = MADE[member.__name__]() if member.__name__ in MADE else member(SENTENCE)
    expected = EXIT_BAD_INPUT if member.__name__ in BAD_INPUT else EXIT_FAILURE
    assert error.exit_code == expected
    _backup_raising(monkeypatch, error)
    assert _backup(tmp_path, policy_file) == expected
    err = capsys.readouterr().err
    said = str(error) if str(error).endswith(".") else f"{error}."
    assert err == f"ringround: {said}\n"
    assert not (tmp_path / "ringround.log").exists()  # not a crash: nothing for the admin


@pytest.mark.parametrize(
    "error",
    [ValueError("invalid literal for int()"), LookupError("no such thing"), KeyError("column")],
    ids=lambda error: type(error).__name__,
)
def test_an_error_outside_the_family_is_shown_as_a_bug_and_logged(
    error: Exception,
    tmp_path: Path,
    policy_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _backup_raising(monkeypatch, error)
    assert _backup(tmp_path, policy_file) == EXIT_FAILURE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    kind = type(error).__name__
    assert err.startswith(f"ringround: ringround stopped because of a bug ({kind}: ")
    assert "the administrator's log" in err and "Not saved" not in err
    (line,) = (tmp_path / "ringround.log").read_text(encoding="utf-8").splitlines()
    assert ": crash operator=" in line and f'error="{type(error).__name__}: ' in line
    assert 'traceback="Traceback (most recent call last):' in line


def test_interrupted_is_one_sentence(
    tmp_path: Path,
    policy_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _backup_raising(monkeypatch, KeyboardInterrupt())
    assert _backup(tmp_path, policy_file) == 130
    # Click ends the line the terminal's ^C was echoed on, then the one sentence.
    assert capsys.readouterr().err.lstrip("\n") == "ringround: Interrupted.\n"
    assert not (tmp_path / "ringround.log").exists()


# -- real situations, in a process of their own -------------------------------------------------


def _ringround(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = command_env({"LC_ALL": "C.UTF-8", "LANGUAGE": "en", "HOME": str(cwd)})
    script = Path(sys.executable).with_name("ringround")
    return subprocess.run(
        [str(script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_real_members_from_a_real_process(tmp_path: Path) -> None:
    bad_policy = tmp_path / "bad.toml"
    bad_policy.write_text("[locks]\nstale_after = -1\n", encoding="utf-8")
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("shopping list\n", encoding="utf-8")
    assert _ringround("--no-run", cwd=tmp_path).returncode == 2  # click's usage: bad input
    made = _ringround("demo", "--no-run", "--clients", "10", "--db", "clinic.db", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    cases = [
        (("policy", "--policy", str(bad_policy)), 2, "stale_after"),  # PolicyError
        (("locks", "--db", str(not_a_db)), 2, "not a ringround database"),  # NotADatabase
        (("locks", "--release", "nonsense", "--db", "clinic.db"), 2, "is not a row"),  # NotARow
        (("locks", "--release", "task:999", "--db", "clinic.db"), 2, "is not locked"),  # NotLocked
        (("backup", "clinic.db", "--db", "clinic.db"), 2, "clinic.db"),  # BadDestination
    ]
    for args, code, words in cases:
        done = _ringround(*args, cwd=tmp_path)
        assert done.returncode == code, (args, done.stderr)
        assert done.stdout == "" and done.stderr.count("\n") == 1, (args, done.stderr)
        assert done.stderr.startswith("ringround: ") and words in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", [("export", "clients"), ("locks",), ("locks", "--json")])
def test_a_closed_standard_output_is_said_not_taken_for_a_bug(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    """Started with ``>&-`` (a careless cron line): nothing can be written, which is said;
    not 'stopped because of a bug (AttributeError ...)', nor a silent exit 0."""
    made = _ringround("demo", "--no-run", "--clients", "10", "--db", "clinic.db", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("RINGROUND_DB", "RINGROUND_DEBUG")}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("ringround")), *command, "--db", "clinic.db"],
        cwd=tmp_path,
        env={**env, "LC_ALL": "C.UTF-8", "LANGUAGE": "en", "HOME": str(tmp_path)},
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=lambda: os.close(1),
    )
    assert done.returncode == 1
    assert done.stderr == (
        "ringround: Standard output is closed, so there is nowhere to write what this "
        "command says; run it with its output going to a terminal, a file or a pipe.\n"
    )


@pytest.mark.parametrize("package", ["cli", "tui"])
def test_python_dash_m_runs_the_command(package: str, tmp_path: Path) -> None:
    """``python -m cli`` (and ``python -m tui``, as older scripts call it) is ringround."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            package,
            "locks",
            "--release",
            "nonsense",
            "--db",
            str(tmp_path / "none.db"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "LANGUAGE": "en", "LC_ALL": "C.UTF-8"},
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("ringround: ") and done.stderr.count("\n") == 1


def test_output_to_a_full_disk_is_said_in_our_words(tmp_path: Path) -> None:
    """Standard output on a full disk (/dev/full always is): not the system's English
    "No space left on device" in a sentence about a system error."""
    made = _ringround("demo", "--no-run", "--clients", "10", "--db", "clinic.db", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    env = command_env({"LC_ALL": "C.UTF-8", "LANGUAGE": "en", "HOME": str(tmp_path)})
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [str(Path(sys.executable).with_name("ringround")), "export", "clients"],
            cwd=tmp_path,
            env={**env, "RINGROUND_DB": "clinic.db"},
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 1
    assert done.stderr == (
        "ringround: A disk ringround writes to is full, so not everything was written; "
        "free some space on it and try again.\n"
    )
