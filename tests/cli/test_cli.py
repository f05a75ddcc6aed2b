"""The ``ringround`` command line: a contract for scripts (README, "Commands").

Most tests call ``cli.main.main`` in-process; those about the installed console
command, tracebacks, pipes and the environment run it as a real process.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

import tui.app
from cli import launch, start
from cli.main import main
from storage.database import open_database
from storage.demo import make_demo
from storage.locks import Claim, claim_row
from storage.policy import Policy, default_policy, load_policy
from storage.roles import OperatorNotAllowed, is_supervisor, login_name, operator_name, user_groups
from storage.rows import RowKey
from storage.sessions import start_session
from storage.worklists import confirmation_days, work_lists
from tests.command_env import command_env, no_server_policy_here
from tests.database_contents import contents_at
from tests.stored_clinic import NOW, StoredClinic, clinic_time
from tui.i18n import set_language

ME = login_name()
SPEC_APPOINTMENT_COLUMNS = ["id", "client_id", "client", "starts_at", "doctor", "service", "status"]


def ringround_command() -> str:
    found = shutil.which("ringround") or str(Path(sys.executable).parent / "ringround")
    if not os.path.exists(found):
        pytest.skip("the ringround console command is not installed (pip install -e .)")
    return found


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ringround_command(), *args],
        capture_output=True,
        text=True,
        env=command_env(env),
        cwd=cwd,
        timeout=120,
        check=False,
    )


def call(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_sentence(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("ringround: ") and lines[0].endswith("."), err
    return lines[0]


def policy_file(tmp_path: Path, text: str, name: str = "policy.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def demo_db(tmp_path: Path) -> Path:
    path = tmp_path / "demo.db"
    conn = open_database(path, create=True)
    make_demo(conn, default_policy(), clients=60, now=int(time.time()))
    conn.close()
    return path


class AppCalls:
    """Stands in for tui.app.run_app and records how it was called."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Policy, str, bool]] = []
        self.notices: list[str] = []

    def __call__(
        self, db_path: str, policy: Policy, operator: str, supervisor: bool, *, notice: str = ""
    ) -> int:
        self.calls.append((db_path, policy, operator, supervisor))
        self.notices.append(notice)
        return 0


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> AppCalls:
    fake = AppCalls()
    monkeypatch.setattr(tui.app, "run_app", fake)
    monkeypatch.setattr(start, "has_terminal", lambda: True)  # as if typed in a terminal
    return fake


# -- demo -------------------------------------------------------------------------------------


def test_demo_then_check_as_a_real_command(tmp_path: Path) -> None:
    made = run("demo", "--no-run", "--db", "x.db", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("Wrote a demo clinic to x.db: 300 clients, ")
    assert "Open it with: ringround --db x.db" in made.stdout
    checked = run("check", "--db", "x.db", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "PROBLEM" not in checked.stdout
    assert checked.stderr == ""


def test_demo_default_file_and_reuse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = call(capsys, "demo", "--no-run")
    assert code == 0 and "ringround-demo.db" in out
    before = contents_at(tmp_path / "ringround-demo.db")
    code, out, err = call(capsys, "demo", "--no-run")
    assert (code, err) == (0, "")
    assert out.startswith("Reusing the demo clinic in ringround-demo.db (300 clients, made today")
    assert contents_at(tmp_path / "ringround-demo.db") == before


@pytest.mark.usefixtures("no_policy_anywhere")
def test_demo_starts_the_app_on_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], app: AppCalls
) -> None:
    path = tmp_path / "d.db"
    code, out, _ = call(capsys, "demo", "--db", str(path), "--clients", "20")
    assert code == 0
    [(db, policy, operator, supervisor)] = app.calls
    assert (db, policy.source, operator) == (str(path), "built-in defaults", ME)
    assert supervisor == (ME == "root")  # the default supervisors are ["root"]
    # What the demo holds is said on the app's first screen, not printed behind it.
    assert out == "" and app.notices[0].startswith(f"Wrote a demo clinic to {path}: 20 clients")
    code, out, _ = call(capsys, "demo", "--db", str(path))  # the second run starts it too
    assert code == 0 and out == "" and len(app.calls) == 2
    assert app.notices[1].startswith(f"Reusing the demo clinic in {path} (20 clients")


def test_demo_other_size_needs_fresh(demo_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = call(capsys, "demo", "--no-run", "--db", str(demo_db), "--clients", "80")
    assert code == 2 and out == ""
    assert "already holds a demo clinic with 60 clients" in one_sentence(err)
    assert "--fresh" in err
    code, out, _ = call(
        capsys, "demo", "--no-run", "--db", str(demo_db), "--clients", "80", "--fresh"
    )
    assert code == 0 and out.startswith(f"Replaced the demo clinic in {demo_db}: 80 clients")


def test_a_demo_speaks_the_language_of_the_screens(tmp_path: Path) -> None:
    """With language = "ru" the demo's lists, services and tasks are Russian,
    also when an English demo is already there (it is rebuilt, same size and seed)."""
    english = run("demo", "--no-run", "--db", "d.db", "--clients", "30", cwd=tmp_path)
    assert english.returncode == 0, english.stderr
    names = "SELECT name FROM call_lists ORDER BY name"
    assert [name for (name,) in sqlite3.connect(tmp_path / "d.db").execute(names)] == [
        "Flu vaccination reminder",
        "Hygiene recall, 6 months",
    ]
    policy = policy_file(tmp_path, 'language = "ru"\n', "ru.toml")
    russian = run("demo", "--no-run", "--db", "d.db", "--policy", str(policy), cwd=tmp_path)
    assert russian.returncode == 0, russian.stderr
    assert russian.stdout.startswith(
        "Демонстрационная клиника в d.db была на другом языке; она пересоздана на языке "
        "экрана: 30 клиентов"
    )
    conn = sqlite3.connect(tmp_path / "d.db")
    try:
        assert [name for (name,) in conn.execute(names)] == [
            "Напоминание о прививке от гриппа",
            "Профгигиена: прошло 6 месяцев",
        ]
        services = {service for (service,) in conn.execute("SELECT service FROM appointments")}
        assert services and all(not service.isascii() for service in services)
        titles = {title for (title,) in conn.execute("SELECT title FROM tasks")}
        assert titles and all(not title.isascii() for title in titles)
    finally:
        conn.close()
    again = run("demo", "--no-run", "--db", "d.db", "--policy", str(policy), cwd=tmp_path)
    assert again.stdout.startswith("Открываю демонстрационную клинику в d.db (30 клиентов")
    assert "пересоздана" not in again.stdout  # already Russian: reused as it is


def test_a_demo_from_an_earlier_day_is_rebuilt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "old.db"
    conn = open_database(path, create=True)
    make_demo(conn, default_policy(), clients=40, seed=5, now=NOW)  # March 2025
    conn.close()
    code, out, _ = call(capsys, "demo", "--no-run", "--db", str(path))
    assert code == 0 and "was from Wed 12 Mar; rebuilt it for today: 40 clients" in out
    conn = open_database(path)
    me = start_session(conn, "tester", int(time.time()))
    assert work_lists(conn, default_policy(), me, int(time.time()))[0].pending > 0
    conn.close()


def test_demo_never_touches_a_clinic_database(
    clinic: StoredClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    clinic.add_client("Real Patient")
    before = contents_at(clinic.location)
    for extra in ((), ("--fresh",)):
        code, _, err = call(capsys, "demo", "--no-run", "--db", clinic.location, *extra)
        assert code == 2
        assert "already holds clinic data" in one_sentence(err)
    assert contents_at(clinic.location) == before


def test_demo_with_100000_clients(tmp_path: Path) -> None:
    """The demo is made at full size (how long it takes is for the benchmarks)."""
    made = run("demo", "--clients", "100000", "--no-run", "--db", "big.db", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "100,000 clients" in made.stdout
    exported = run("export", "clients", "--db", "big.db", cwd=tmp_path)
    assert exported.returncode == 0
    assert exported.stdout.count("\n") >= 100_001


# -- the app ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_policy_anywhere")
def test_the_app_gets_database_policy_and_operator(
    tmp_path: Path, demo_db: Path, capsys: pytest.CaptureFixture[str], app: AppCalls
) -> None:
    policy = policy_file(
        tmp_path, f'[database]\npath = "{demo_db}"\n[security]\nsupervisors = ["{ME}"]\n'
    )
    assert call(capsys, "--policy", str(policy))[0] == 0
    assert call(capsys, "--db", str(demo_db))[0] == 0
    (db1, policy1, op1, sup1), (db2, policy2, op2, sup2) = app.calls
    assert (db1, policy1.source, op1, sup1) == (str(demo_db), str(policy), ME, True)
    assert (db2, policy2.source, op2, sup2) == (str(demo_db), "built-in defaults", ME, ME == "root")


def test_the_app_is_not_started_without_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], app: AppCalls
) -> None:
    code, _, err = call(capsys, "--db", str(tmp_path / "none.db"))
    assert code == 2 and "There is no database at" in one_sentence(err)
    assert app.calls == []


@pytest.mark.parametrize("stdin_is_terminal", [False, True])
def test_the_app_refuses_to_start_without_a_terminal(
    demo_db: Path, stdin_is_terminal: bool
) -> None:
    """ssh host command, sftp and scp give pipes: no app, no session row, exit 2."""
    before = contents_at(demo_db)
    if stdin_is_terminal:  # a terminal for input, output to a pipe: still no app
        master, slave = os.openpty()
        try:
            result = subprocess.run(
                [ringround_command(), "--db", str(demo_db)],
                stdin=slave,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        finally:
            os.close(slave)
            os.close(master)
    else:
        result = run("--db", str(demo_db))
    assert result.returncode == 2, result.stderr
    assert "The app needs a terminal" in one_sentence(result.stderr)
    assert result.stdout == ""
    assert contents_at(demo_db) == before  # no session written
    # Commands work without one.
    checked = run("export", "clients", "--db", str(demo_db))
    assert checked.returncode == 0 and checked.stdout.startswith("id,"), checked.stderr


def test_the_demo_without_a_terminal_is_refused_before_it_is_written(tmp_path: Path) -> None:
    result = run("demo", "--db", "d.db", cwd=tmp_path)
    assert result.returncode == 2
    assert "needs a terminal" in one_sentence(result.stderr)
    assert not (tmp_path / "d.db").exists()
    made = run("demo", "--no-run", "--db", "d.db", cwd=tmp_path)  # --no-run needs none
    assert made.returncode == 0, made.stderr


@pytest.mark.usefixtures("no_policy_anywhere")
def test_operator_override_only_where_allowed(
    tmp_path: Path, demo_db: Path, capsys: pytest.CaptureFixture[str], app: AppCalls
) -> None:
    code, _, err = call(capsys, "--db", str(demo_db), "--operator", "bob")
    assert code == 2
    # It said "so you work as your login name", but nothing runs: the command stops.
    assert one_sentence(err) == (
        "ringround: The policy (built-in defaults) does not allow --operator; leave it out to "
        f"work as your login name, {ME}, or set [security] allow_operator_override = true."
    )
    assert app.calls == []
    allowed = policy_file(
        tmp_path, '[security]\nallow_operator_override = true\nsupervisors = ["bob"]\n'
    )
    assert call(capsys, "--db", str(demo_db), "--policy", str(allowed), "--operator", "bob")[0] == 0
    assert [(c[2], c[3]) for c in app.calls] == [("bob", True)]
    # Naming oneself is always allowed.
    assert call(capsys, "--db", str(demo_db), "--operator", ME)[0] == 0


def test_the_refused_operator_override_names_the_policy_in_russian(demo_db: Path) -> None:
    """«Политика (built-in defaults) не разрешает --operator»: the source was left in English."""
    no_server_policy_here()  # no policy file anywhere: the built-in defaults
    result = run(
        "--db",
        str(demo_db),
        "--operator",
        "bob",
        env={"LANG": "ru_RU.UTF-8", "LC_ALL": "", "RINGROUND_POLICY": ""},
    )
    assert result.returncode == 2
    assert one_sentence(result.stderr).startswith(
        "ringround: Политика (встроенные настройки по умолчанию) не разрешает --operator;"
    ), result.stderr


@pytest.mark.parametrize("option", ["--db", "--policy", "--operator"])
@pytest.mark.parametrize("before_the_command", [True, False])
def test_an_empty_option_is_refused_not_taken_as_left_out(
    tmp_path: Path,
    clinic: StoredClinic,
    capsys: pytest.CaptureFixture[str],
    option: str,
    before_the_command: bool,
) -> None:
    """``--db "$CLINIC"`` with the variable unset must not fall back to the policy's
    database (or the defaults, or the login): the script meant another one."""
    key = _lock(clinic)
    policy = policy_file(
        tmp_path,
        f"[database]\npath = {json.dumps(clinic.location)}\n"
        f"[security]\nallow_operator_override = true\nsupervisors = [{json.dumps(ME)}]\n",
    )
    given = {"--db": clinic.location, "--policy": str(policy), "--operator": "bob"}
    given[option] = ""
    options = [part for pair in given.items() for part in pair]
    command = ["locks", "--release", str(key)]
    args = [*options, *command] if before_the_command else [*command, *options]
    code, out, err = call(capsys, *args)
    assert (code, out) == (2, "")
    assert f"{option} is empty" in one_sentence(err)
    assert clinic.conn.execute("SELECT count(*) FROM locks").fetchone()[0] == 1  # still held


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        (["backup", "--db", "{db}", ""], "DEST is empty; give the file or folder for the backup."),
        (["copy", "", "new.db"], "FROM is empty; give the database to copy from."),
        (["copy", "{db}", " "], "TO is empty; give the new database to copy into."),
        (["import", "clients", "", "--db", "{db}"], "FILE is empty; give the file to import."),
        (
            ["export", "clients", "-o", "", "--db", "{db}"],
            "--output is empty; give the file to write, or leave -o out.",
        ),
        (["lists", "create", "", "c.csv", "--db", "{db}"], "NAME is empty; give the list's name."),
        (["lists", "create", "Flu", "", "--db", "{db}"], "FILE is empty; give the file to import."),
        (["lists", "delete", "", "--db", "{db}"], "NAME is empty; give the list's name."),
    ],
)
def test_an_empty_argument_is_refused_by_its_name(
    tmp_path: Path,
    demo_db: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    sentence: str,
) -> None:
    """``backup "$DEST"`` with the variable unset wrote a backup into the current folder;
    ``copy "" new.db`` said ". is a folder", ``import clients ""`` "There is no file .":
    each names the empty argument now, and nothing is written."""
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    code, out, err = call(capsys, *(str(demo_db) if arg == "{db}" else arg for arg in args))
    assert (code, out, err) == (2, "", f"ringround: {sentence}\n")
    assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.parametrize(
    "args",
    [
        ["export", "clients", "--db", "{long}.db"],
        ["export", "clients", "--db", "{demo}", "-o", "{long}.csv"],
        ["import", "clients", "{long}.csv", "--db", "{demo}"],
        ["import", "clients", "{demo}", "--db", "{long}.db"],
        ["backup", "--db", "{demo}", "{long}.db"],
        ["copy", "{demo}", "{long}.db"],
        ["demo", "--no-run", "--db", "{long}.db"],
    ],
    ids=["export --db", "export -o", "import FILE", "import --db", "backup", "copy", "demo"],
)
def test_a_name_too_long_for_the_file_system_is_bad_input(
    tmp_path: Path, demo_db: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    """A file name of 300 characters: 'ringround could not use ...: File name too long' with
    exit 1 (the export and the backup naming a hidden file of their own) - the name given
    is the problem, so exit 2 and that name."""
    long = tmp_path / ("n" * 300)
    given = [arg.format(long=long, demo=demo_db) for arg in args]
    named = next(arg for arg in given if arg.startswith(str(long)))
    code, out, err = call(capsys, *given)
    assert (code, out) == (2, "")
    assert err == (
        f"ringround: The name {named} is longer than the file system allows; give a shorter one.\n"
    )
    assert sorted(os.listdir(tmp_path)) == ["demo.db"]


@pytest.mark.parametrize("command", ["export", "backup"])
def test_a_long_name_the_file_system_allows_is_written(
    tmp_path: Path, demo_db: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """A name of 250 characters fits (255 is the most), but the hidden file written first
    was named after it with 14 more: 'The name .../.nnn….csv.x1y2z3.tmp is longer than the
    file system allows', or for a backup that no file could be made in the folder."""
    name = tmp_path / ("n" * 250 + (".csv" if command == "export" else ".db"))
    args = {
        "export": ["export", "clients", "--db", str(demo_db), "-o", str(name)],
        "backup": ["backup", "--db", str(demo_db), str(name)],
    }[command]
    code, _, err = call(capsys, *args)
    assert (code, err) == (0, "")
    assert sorted(os.listdir(tmp_path)) == sorted(["demo.db", name.name])


@pytest.mark.parametrize(
    "args",
    [
        ["import", "clients", "{demo}/clients.csv", "--db", "{demo}"],
        ["import", "clients", "{csv}", "--db", "{demo}/new.db"],
        ["export", "clients", "--db", "{demo}", "-o", "{demo}/clients.csv"],
        ["backup", "--db", "{demo}", "{demo}/copy.db"],
        ["backup", "--db", "{demo}", "{demo}/"],
        ["copy", "{demo}", "{demo}/new.db"],
        ["demo", "--no-run", "--db", "{demo}/new.db"],
    ],
    ids=["import FILE", "import --db", "export -o", "backup", "backup DEST/", "copy", "demo"],
)
def test_a_file_where_a_folder_should_be_is_bad_input(
    tmp_path: Path, demo_db: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    """'clinic.db/new.db': 'could not use ...: Not a directory', or 'The folder .../clinic.db
    does not exist' (it does, as a file), or for a backup to 'clinic.db/' that the folder
    for the backup does not exist."""
    csv_file = tmp_path / "clients.csv"
    csv_file.write_text("name\nАнна\n", encoding="utf-8")
    given = [arg.format(demo=demo_db, csv=csv_file) for arg in args]
    named = next(arg for arg in given if arg.startswith(f"{demo_db}/"))
    code, out, err = call(capsys, *given)
    assert (code, out) == (2, "")
    assert err == f"ringround: In {named}, a part before the last / is a file, not a folder.\n"
    assert sorted(os.listdir(tmp_path)) == ["clients.csv", "demo.db"]


def test_check_says_a_file_stands_where_a_folder_should_be(
    demo_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inside = demo_db / "clinic.db"
    code, out, _ = call(capsys, "check", "--db", str(inside))
    assert code == 2
    assert f"PROBLEM  In {inside}, a part before the last / is a file, not a folder." in out


def test_a_database_named_in_another_character_set_is_checked(
    tmp_path: Path, demo_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file name of bytes that are not UTF-8 (made in a terminal set to CP1251) stopped
    check with "a bug (UnicodeEncodeError ...)": the file's address for SQLite was built
    from the name as text."""
    named = Path(os.fsdecode(bytes(tmp_path) + b"/\xea\xeb\xe8\xed\xe8\xea\xe0.db"))
    shutil.copyfile(demo_db, named)
    code, out, err = call(capsys, "check", "--db", str(named))
    assert "bug" not in out + err
    assert code == 0, out


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["lists", "close", "{name}"], "NAME"),
        (["lists", "delete", "{name}"], "NAME"),
        (["lists", "create", "{name}", "{csv}"], "NAME"),
        (["export", "calls", "--list", "{name}"], "--list"),
        (["import", "call-list", "{csv}", "--name", "{name}"], "--name"),
        (["report", "--operator", "{name}"], "--operator"),
    ],
    ids=["close", "delete", "create", "export --list", "import --name", "--operator"],
)
def test_a_list_name_typed_in_another_character_set_is_refused(
    tmp_path: Path,
    demo_db: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    option: str,
) -> None:
    """«Грипп» typed in a terminal set to CP1251 reaches the command as bytes that are not
    UTF-8: looking the list up stopped with "a bug (UnicodeEncodeError ...)", making one
    spoke of a control character "U+DCC3"."""
    csv_file = tmp_path / "clients.csv"
    csv_file.write_text("name\nАнна\n", encoding="utf-8")
    name = os.fsdecode("Грипп".encode("cp1251"))
    given = [arg.format(name=name, csv=csv_file) for arg in args]
    code, out, err = call(capsys, *given, "--db", str(demo_db))
    assert (code, out) == (2, "")
    assert err == (
        f"ringround: {option} is not UTF-8 text; set the terminal to UTF-8 (in PuTTY: "
        "Window, Translation) and type it again.\n"
    )


# -- export -----------------------------------------------------------------------------------


def test_export_appointments_to_confirm(tmp_path: Path) -> None:
    assert run("demo", "--no-run", "--db", "x.db", cwd=tmp_path).returncode == 0
    result = run("export", "appointments", "--db", "x.db", cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == ""
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][:7] == SPEC_APPOINTMENT_COLUMNS
    policy = default_policy()
    days = confirmation_days(policy, int(time.time()))
    to_confirm = [
        row
        for row in rows[1:]
        if datetime.fromisoformat(row[3]).date() in days and row[6] == "unconfirmed"
    ]
    assert len(to_confirm) >= 10
    for row in to_confirm:
        assert row[3].endswith("+03:00")  # the clinic's offset (Europe/Moscow)
        assert row[2] and row[4] and row[5]


@pytest.mark.parametrize("kind", ["clients", "appointments", "tasks", "calls", "locks", "audit"])
def test_export_every_kind(demo_db: Path, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    code, out, err = call(capsys, "export", kind, "--db", str(demo_db))
    assert (code, err) == (0, "")
    assert len(list(csv.reader(io.StringIO(out)))) >= 2


def test_export_to_a_closed_pipe_is_quiet(demo_db: Path) -> None:
    process = subprocess.Popen(
        [ringround_command(), "export", "audit", "--db", str(demo_db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()
    process.stdout.close()
    assert process.wait(timeout=60) in (0, 1)  # 1: the reader went away before the end
    big = subprocess.run(
        f"{ringround_command()} export clients --db {demo_db} | head -1",
        shell=True,
        capture_output=True,
        text=True,
        check=False,
    )
    assert big.stdout.startswith("id,name,phones,do_not_call")
    assert big.stderr == ""
    assert process.stderr.read() == b""
    process.stderr.close()


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["check"],
        ["export", "clients"],
        ["locks"],
        ["demo", "--no-run"],
        ["locks", "--release", "task:1"],
    ],
)
def test_a_file_that_is_not_a_database(tmp_path: Path, args: list[str]) -> None:
    path = tmp_path / "notes.db"
    content = "Журнал звонков\n".encode() * 300
    path.write_bytes(content)
    result = run(*args, "--db", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    if args == ["check"]:
        assert "not a ringround database" in result.stdout
    else:
        assert "not a ringround database" in one_sentence(result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    assert path.read_bytes() == content
    assert sorted(os.listdir(tmp_path)) == ["notes.db"]


@pytest.mark.parametrize(
    "args", [[], ["check"], ["export", "calls"], ["locks"], ["demo", "--no-run"]]
)
def test_a_bad_policy(tmp_path: Path, args: list[str]) -> None:
    bad = policy_file(tmp_path, '[locks]\nstale_after = "soon"\n')
    result = run(*args, "--policy", str(bad), "--db", str(tmp_path / "x.db"))
    assert result.returncode == 2
    sentence = one_sentence(result.stderr)
    assert str(bad) in sentence and "locks.stale_after" in sentence
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        ("under a file", "the policy file does not exist."),
        ("too long a name", "the policy file cannot be read (File name too long)."),
    ],
)
def test_a_policy_path_that_cannot_be_opened_is_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str, reason: str
) -> None:
    """``--policy clinic.db/policy.toml`` (a file where a folder should be), or a name longer
    than the file system allows, ended in a traceback before any command ran."""
    clinic_file = tmp_path / "clinic.db"
    clinic_file.write_bytes(b"")
    path = {
        "under a file": clinic_file / "policy.toml",
        "too long a name": tmp_path / f"{'p' * 300}.toml",
    }[where]
    code, out, err = call(capsys, "check", "--policy", str(path), "--db", str(clinic_file))
    assert (code, out, err) == (2, "", f"ringround: {path}: {reason}\n")


@pytest.mark.parametrize(
    ("text", "english", "russian"),
    [
        (
            '[locks\nstale_after = "15m"\n',
            "not valid TOML (Expected ']' at the end of a table declaration "
            "(at line 1, column 7)).",
            "ошибка в TOML в строке 1, столбце 7 (Expected ']' at the end of a table declaration).",
        ),
        (
            "[calls]\nmax_attempts = [1,",
            "not valid TOML (Invalid value (at end of document)).",
            "ошибка в TOML в конце файла (Invalid value).",
        ),
    ],
)
def test_a_policy_that_is_not_toml_is_told_where_in_the_staffs_language(
    tmp_path: Path, text: str, english: str, russian: str
) -> None:
    """The line and column of the mistake are said in the staff's language; the reason
    is Python's TOML reader's own English."""
    bad = policy_file(tmp_path, text)
    for language, wanted in (("C.UTF-8", english), ("ru_RU.UTF-8", russian)):
        result = run("check", "--policy", str(bad), env={"LANG": language, "LC_ALL": ""})
        assert (result.returncode, result.stdout) == (2, ""), result.stdout
        assert one_sentence(result.stderr) == f"ringround: {bad}: {wanted}"


@pytest.mark.parametrize(
    "args",
    [
        ["export", "patients"],
        ["export"],
        ["--frob"],
        ["frob"],
        ["demo", "--clients", "x"],
        ["demo", "--clients", "3"],
        ["locks", "--release"],
    ],
)
def test_usage_errors_are_one_sentence(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    code, out, err = call(capsys, *args)
    assert code == 2 and out == ""
    assert one_sentence(err).endswith("--help').")


KINDS_LISTED = "clients, appointments, tasks, calls, locks, audit, call-list"


@pytest.mark.parametrize(
    ("args", "english", "russian"),
    [
        (["bo\x1bgus"], "No such command 'bo␛gus'.", "Нет команды «bo␛gus»."),
        (
            ["lists", "--bogs"],
            "No such option '--bogs'. Did you mean '--db'?",
            "Нет параметра «--bogs». Может быть, вы имели в виду «--db»?",
        ),
        (
            ["demo", "--seed", "x"],
            "Invalid value for '--seed': 'x' is not a whole number.",
            "Неверное значение «--seed»: «x» — не целое число.",
        ),
        (
            ["export", "patients"],
            f"Invalid value for 'KIND': 'patients' is not one of {KINDS_LISTED}.",
            f"Неверное значение «KIND»: «patients» не входит в список: {KINDS_LISTED}.",
        ),
        (
            ["export"],
            f"Missing argument 'KIND'. Choose from: {KINDS_LISTED}.",
            f"Не указан аргумент «KIND». Выберите одно из: {KINDS_LISTED}.",
        ),
        (
            ["demo", "--no-run=1"],
            "Option '--no-run' does not take a value.",
            "Параметр «--no-run» не принимает значения.",
        ),
        (
            ["report", "--by"],
            "Option '--by' requires an argument.",
            "Параметру «--by» нужен 1 аргумент.",
        ),
    ],
)
def test_clicks_usage_errors_quote_as_the_language_does(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    english: str,
    russian: str,
) -> None:
    """Click quoted what it names with repr: 'bogus' in a Russian sentence too, and a
    control character as \\x1b where every other message shows ␛ (storage.shown)."""
    for variable in ("LC_ALL", "LC_MESSAGES", "LANGUAGE", "RINGROUND_POLICY"):
        monkeypatch.delenv(variable, raising=False)
    said = {}
    try:
        for language in ("C.UTF-8", "ru_RU.UTF-8"):
            monkeypatch.setenv("LANG", language)
            code, out, err = call(capsys, *args)
            assert (code, out) == (2, "")
            said[language] = one_sentence(err).rpartition(" (")[0]
    finally:
        set_language("en")
    assert said == {
        "C.UTF-8": f"ringround: {english.rstrip('.')}",
        "ru_RU.UTF-8": f"ringround: {russian.rstrip('.')}",
    }


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["locks", "--release"], "ringround locks"),
        (["export", "calls", "--since"], "ringround export"),
        (["--db", "x.db", "lists", "create", "--db"], "ringround lists create"),
        (["report", "--by"], "ringround report"),
        (["--db"], "ringround"),
    ],
)
def test_an_option_without_its_value_points_to_its_commands_help(
    capsys: pytest.CaptureFixture[str], args: list[str], command: str
) -> None:
    """'export calls --since' said "(see 'ringround --help')", which lists no --since."""
    code, out, err = call(capsys, *args)
    assert (code, out) == (2, "")
    assert one_sentence(err).endswith(f"(see '{command} --help').")


def test_environment_variables(tmp_path: Path, demo_db: Path) -> None:
    result = run("export", "clients", env={"RINGROUND_DB": str(demo_db)})
    assert result.returncode == 0 and result.stdout.startswith("id,name,phones")
    bad = policy_file(tmp_path, "[calls]\nmax_attempts = 0\n")
    result = run(
        "export", "clients", env={"RINGROUND_DB": str(demo_db), "RINGROUND_POLICY": str(bad)}
    )
    assert result.returncode == 2 and "calls.max_attempts" in one_sentence(result.stderr)
    # An option given after the command wins over the environment.
    result = run(
        "export", "clients", "--db", str(demo_db), env={"RINGROUND_DB": str(tmp_path / "none.db")}
    )
    assert result.returncode == 0
    result = run("check", env={"RINGROUND_DB": str(tmp_path / "none.db")})
    assert result.returncode == 2 and "none.db" in result.stdout


# -- locks ------------------------------------------------------------------------------------


def _lock(clinic: StoredClinic, operator: str = "alice") -> RowKey:
    client = clinic.add_client("Иванова Анна")
    appointment = clinic.add_appointment(client, clinic_time(2025, 3, 13, 10))
    key = RowKey("appointment", appointment)
    now = int(time.time())
    session = start_session(clinic.conn, operator, now)
    claimed = claim_row(clinic.conn, default_policy(), session, key, now)
    assert isinstance(claimed, Claim), claimed
    return key


def test_locks_lists_them(clinic: StoredClinic, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = call(capsys, "locks", "--db", clinic.location)
    assert (code, out) == (0, "No rows are locked.\n")
    key = _lock(clinic)
    code, out, _ = call(capsys, "locks", "--json", "--db", clinic.location)
    assert code == 0
    [entry] = json.loads(out)
    assert entry["row"] == str(key) and entry["client"] == "Иванова Анна"
    assert entry["operator"] == "alice" and entry["alive"] is True
    assert isinstance(entry["session"], int)
    assert datetime.fromisoformat(entry["since"]).utcoffset() is not None
    code, out, _ = call(capsys, "locks", "--db", clinic.location)
    header, line = out.splitlines()
    assert header.split() == ["ROW", "CLIENT", "OPERATOR", "SESSION", "SINCE", "ALIVE"]
    assert line.startswith(str(key)) and "alice" in line and line.endswith("yes")


def test_release_refused_for_an_operator(
    tmp_path: Path, clinic: StoredClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    key = _lock(clinic)
    policy = policy_file(tmp_path, '[security]\nsupervisors = ["head-nurse"]\n')
    sessions = clinic.scalar("SELECT count(*) FROM sessions")
    code, _, err = call(
        capsys, "locks", "--release", str(key), "--db", clinic.location, "--policy", str(policy)
    )
    assert code == 1
    assert "Only a supervisor may release alice's lock" in one_sentence(err)
    assert clinic.scalar("SELECT count(*) FROM locks") == 1
    assert clinic.scalar("SELECT count(*) FROM sessions") == sessions


def test_release_by_a_supervisor(
    tmp_path: Path, clinic: StoredClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    key = _lock(clinic)
    policy = policy_file(tmp_path, f'[security]\nsupervisors = ["{ME}"]\n')
    code, out, err = call(
        capsys, "locks", "--release", str(key), "--db", clinic.location, "--policy", str(policy)
    )
    assert (code, err) == (0, "")
    assert out == f"Released alice's lock on {key}.\n"
    assert clinic.scalar("SELECT count(*) FROM locks") == 0
    operator, event, session_ended = clinic.conn.execute(
        "SELECT a.operator, a.event, s.ended_at FROM audit a JOIN sessions s"
        " ON s.id = a.session_id ORDER BY a.id DESC LIMIT 1"
    ).fetchone()
    assert (operator, event) == (ME, "release-by-supervisor")
    assert session_ended is not None  # the command's own short session has ended
    code, _, err = call(
        capsys, "locks", "--release", str(key), "--db", clinic.location, "--policy", str(policy)
    )
    assert code == 2 and f"Row {key} is not locked." in one_sentence(err)


@pytest.mark.parametrize("row", ["item:99999999999999999999999", "task:²", "item:12 3"])
def test_release_of_a_row_that_cannot_be_one(
    tmp_path: Path, clinic: StoredClinic, capsys: pytest.CaptureFixture[str], row: str
) -> None:
    """A row number too big for the database, or digits that are not 0-9: bad input."""
    key = _lock(clinic)
    policy = policy_file(tmp_path, f'[security]\nsupervisors = ["{ME}"]\n')
    code, out, err = call(
        capsys, "locks", "--release", row, "--db", clinic.location, "--policy", str(policy)
    )
    assert (code, out) == (2, "")
    assert one_sentence(err) == (
        f"ringround: {row!r} is not a row; rows look like appointment:12, item:7 or task:3."
    )
    assert clinic.conn.execute("SELECT kind, source_id FROM locks").fetchall() == [
        (key.kind, key.source_id)
    ]


def test_release_by_group_and_override(
    tmp_path: Path, clinic: StoredClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    group = sorted(user_groups())[0]
    key = _lock(clinic)
    by_group = policy_file(tmp_path, f'[security]\nsupervisors = ["@{group}"]\n')
    assert (
        call(
            capsys,
            "locks",
            "--release",
            str(key),
            "--db",
            clinic.location,
            "--policy",
            str(by_group),
        )[0]
        == 0
    )
    key = _lock(clinic)
    code, _, err = call(
        capsys, "locks", "--release", str(key), "--db", clinic.location, "--operator", "bob"
    )
    assert code == 2 and "allow_operator_override" in one_sentence(err)
    as_bob = policy_file(
        tmp_path, '[security]\nallow_operator_override = true\nsupervisors = ["bob"]\n', "bob.toml"
    )
    code, out, _ = call(
        capsys,
        "locks",
        "--release",
        str(key),
        "--json",
        "--db",
        clinic.location,
        "--policy",
        str(as_bob),
        "--operator",
        "bob",
    )
    assert code == 0 and json.loads(out) == {"released": str(key), "operator": "alice"}


def test_release_of_a_bad_row(clinic: StoredClinic, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = call(capsys, "locks", "--release", "patient:3", "--db", clinic.location)
    assert code == 2 and "rows look like appointment:12" in one_sentence(err)


# -- roles ------------------------------------------------------------------------------------


def test_operator_name(tmp_path: Path) -> None:
    policy = default_policy()
    assert operator_name(policy, None) == ME
    assert operator_name(policy, ME) == ME
    for requested in ("bob", "  "):
        with pytest.raises(OperatorNotAllowed):
            operator_name(policy, requested)
    allowed = load_policy(policy_file(tmp_path, "[security]\nallow_operator_override = true\n"))
    assert operator_name(allowed, " bob ") == "bob"


def test_environment_does_not_change_the_login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "the-boss")
    monkeypatch.setenv("LOGNAME", "the-boss")
    assert login_name() == ME != "the-boss"


def test_supervisor_roles(tmp_path: Path) -> None:
    policy = load_policy(policy_file(tmp_path, '[security]\nsupervisors = ["anna", "@leads"]\n'))
    assert is_supervisor(policy, "anna", groups=set())
    assert not is_supervisor(policy, "boris", groups={"operators"})
    assert is_supervisor(policy, "boris", groups={"operators", "leads"})
    assert not is_supervisor(policy, "@leads", groups=set())  # a group entry is not a name


# -- start-up ---------------------------------------------------------------------------------


def test_the_console_script_loads_the_program_with_the_collector_paused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    collecting: list[bool] = []

    def run() -> int:
        collecting.append(gc.isenabled())
        return 0

    monkeypatch.setattr("cli.main.main", run)
    try:
        assert launch.main() == 0
    finally:
        gc.enable()
    assert collecting == [False]


def test_a_command_runs_with_the_collector_running_again(
    capsys: pytest.CaptureFixture[str],
) -> None:
    gc.disable()  # as the console script leaves it (cli/launch.py)
    try:
        assert main(["policy", "--default"]) == 0
        assert gc.isenabled()
    finally:
        gc.enable()
    assert "[database]" in capsys.readouterr().out


def test_the_app_starts_without_loading_the_import_export_and_report_code() -> None:
    data_modules = (
        "storage.imports",
        "storage.export",
        "storage.call_lists",
        "storage.reports",
        "cli.data",
        "textual",
    )
    code = f"import sys, cli.main; print([m for m in {data_modules!r} if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
