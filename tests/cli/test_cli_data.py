"""Data in and out on the command line: import, export filters, lists, report, audit.

Exit codes: 0 done; 2 bad input (a CSV file with problems, a list that does
not exist, a bad date, a filter a kind does not take); 1 a refusal (not a
supervisor, a list in use). Never a traceback.
"""

from __future__ import annotations

import contextlib
import csv
import grp
import io
import json
import os
import shutil
import sqlite3
import stat
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli.main import main
from cli.progress import ProgressBar, progress_bar
from storage.clients import update_client
from storage.database import open_database
from storage.demo import make_demo
from storage.export import export_csv
from storage.imports import KINDS as IMPORT_KINDS
from storage.imports import MAX_FILE_BYTES, MAX_UNPACKED_BYTES
from storage.locks import Claim, abort_call, claim_row, finish_call
from storage.policy import default_policy
from storage.roles import login_name
from storage.rows import APPOINTMENT, ITEM, RowKey
from tests.command_env import command_env
from tests.command_line import call, supervisors_policy
from tests.database_contents import contents_at
from tests.pty_app import PtyApp, ringround_argv
from tests.storage.test_import import mutate, mutation
from tests.stored_clinic import NOW, StoredClinic, clinic_time
from tests.unix_users import need_root_tools, reachable, run, temporary_users
from tests.waiting import PATIENCE
from tui.i18n import set_language

ME = login_name()


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-demo") / "demo.db"
    conn = open_database(path, create=True)
    make_demo(conn, default_policy(), clients=40, now=int(time.time()))
    conn.close()
    return path


@pytest.fixture
def demo(demo_file: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "demo.db"
    shutil.copyfile(demo_file, copy)
    return copy


# -- import -------------------------------------------------------------------------------------


def test_a_database_given_as_the_file_to_import_is_named(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """'import clients clinic.db' (the database where the CSV file goes) said the file was
    not UTF-8 text and should be saved from the spreadsheet as "CSV UTF-8"."""
    before = contents_at(str(demo))
    code, out, err = call(capsys, "import", "clients", demo, "--db", demo)
    assert (code, out) == (2, "")
    assert err == (
        f"ringround: {demo}: 1 problem; nothing was imported.\n"
        "  line 1: the file is an SQLite database, not a CSV file or a workbook: give the "
        "file to import after KIND, and the database with --db.\n"
    )
    assert contents_at(str(demo)) == before


def test_import_and_reimport(
    tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "clients.csv"
    file.write_text(
        "external_id;name;phones\nA1;Анна;8 916 123-45-67\nA2;Борис;\n", encoding="utf-8-sig"
    )
    code, out, err = call(capsys, "import", "clients", file, "--db", db_path)
    assert (code, err) == (0, "")
    assert out == f"Imported {file} (2 rows): added 2, updated 0, unchanged 0.\n"
    code, out, _ = call(capsys, "import", "clients", file, "--db", db_path)
    assert out == f"Imported {file} (2 rows): added 0, updated 0, unchanged 2.\n"


def test_import_counts_are_grouped_as_the_language_writes_them(
    tmp_path: Path,
    db_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """«1,200» reads as one point two in Russian: counts take the language's grouping."""
    file = tmp_path / "clients.csv"
    file.write_text(
        "name\n" + "".join(f"Клиент {number}\n" for number in range(1200)), encoding="utf-8"
    )
    for variable in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LANG", "ru_RU.UTF-8")
    try:
        code, out, err = call(capsys, "import", "clients", file, "--db", db_path, "--dry-run")
    finally:
        set_language("en")
    assert (code, err) == (0, "")
    assert out == (
        f"Проверка {file} (1\u00a0200 строк): было бы добавлено 1\u00a0200, обновлено 0, "
        "без изменений 0; ничего не изменено.\n"
    )
    monkeypatch.setenv("LANG", "C.UTF-8")
    code, out, _ = call(capsys, "import", "clients", file, "--db", db_path, "--dry-run")
    assert out.startswith(f"Dry run of {file} (1,200 rows): would add 1,200, update 0, ")


def test_a_bad_time_is_explained_in_the_language_of_the_screens(
    tmp_path: Path,
    db_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    file = tmp_path / "visits.csv"
    file.write_text("client_id,starts_at\n1,2026-12-10 25:00\n", encoding="utf-8")
    for variable in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LANG", "ru_RU.UTF-8")
    try:
        code, _, err = call(capsys, "import", "appointments", file, "--db", db_path)
    finally:
        set_language("en")
    assert code == 2
    assert err.splitlines()[1] == (
        "  строка 2, столбец starts_at: «2026-12-10 25:00» — не время вроде "
        "2026-11-27 10:30 или 27.11.2026 10:30."
    )


def test_import_help_names_every_separator_and_tabs_work(
    tmp_path: Path,
    db_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = call(capsys, "import", "--help")
    assert code == 0
    assert "separated by commas, semicolons or tabs" in " ".join(out.split())
    file = tmp_path / "clients.tsv"
    file.write_text(
        "external_id\tname\tphones\nA1\tАнна, старшая\t8 916 123-45-67; 8 495 000-00-01\n",
        encoding="utf-8",
    )
    code, out, err = call(capsys, "import", "clients", file, "--db", db_path)
    assert (code, err) == (0, ""), out
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("SELECT name FROM clients").fetchall() == [("Анна, старшая",)]
        assert conn.execute("SELECT number FROM phones ORDER BY position").fetchall() == [
            ("8 916 123-45-67",),
            ("8 495 000-00-01",),
        ]
    finally:
        conn.close()


def test_a_bad_file_lists_its_problems_and_changes_nothing(
    tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "bad.csv"
    file.write_text(
        "name,birth_date\n" + "".join(f"C{n},31.02.1990\n" for n in range(23)) + "Good,\n",
        encoding="utf-8",
    )
    before = contents_at(db_path)
    code, out, err = call(capsys, "import", "clients", file, "--db", db_path)
    assert (code, out) == (2, "")
    lines = err.splitlines()
    assert lines[0] == f"ringround: {file}: 23 problems; nothing was imported."
    assert lines[1] == (
        "  line 2, column birth_date: '31.02.1990' is not a date such as 1980-02-29 or 29.02.1980."
    )
    assert lines[20].startswith("  line 21, column birth_date:")
    assert lines[21:] == ["  and 3 more."]
    assert contents_at(db_path) == before


def test_dry_run(tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "c.csv"
    file.write_text("name\nАнна\n", encoding="utf-8")
    before = contents_at(db_path)
    code, out, _ = call(capsys, "import", "clients", file, "--db", db_path, "--dry-run")
    assert code == 0
    assert out == (
        f"Dry run of {file} (1 rows): would add 1, update 0, leave 0 unchanged; "
        "nothing was changed.\n"
    )
    assert contents_at(db_path) == before


def test_an_import_makes_a_missing_database_only_when_it_succeeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "new.db"
    bad, good = tmp_path / "bad.csv", tmp_path / "good.csv"
    bad.write_text("name,phones\nАнна,none\n", encoding="utf-8")
    good.write_text("name,phones\nАнна,+7 916 123-45-67\n", encoding="utf-8")
    assert call(capsys, "import", "clients", bad, "--db", db)[0] == 2
    code, out, _ = call(capsys, "import", "clients", good, "--db", db, "--dry-run")
    assert code == 0 and out.endswith("did not exist; the import would make it.\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "good.csv"]
    code, out, _ = call(capsys, "import", "clients", good, "--db", db)
    assert code == 0 and out.endswith(f"The database {db} did not exist; it was made.\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "good.csv", "new.db"]
    code, out, _ = call(capsys, "export", "clients", "--db", db)
    assert out.splitlines()[1] == "1,Анна,'+7 916 123-45-67,0,,,,"


def test_import_from_standard_input(
    db_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO("name\nАнна\n".encode())))
    code, out, _ = call(capsys, "import", "clients", "-", "--db", db_path)
    assert code == 0 and out.startswith("Imported standard input (1 rows): added 1")


NOT_A_FILE = (
    "{name} is a device, not a file; give a CSV file or a workbook (.xlsx), "
    "or - to read standard input."
)


def test_import_from_a_pipe(
    tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``import clients <(iconv -f cp1251 -t utf-8 old.csv)``: the shell hands over a pipe,
    read to its end as standard input is."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    writer = threading.Thread(target=pipe.write_bytes, args=("name\nАнна\nБорис\n".encode(),))
    writer.start()
    code, out, _ = call(capsys, "import", "clients", str(pipe), "--db", db_path)
    writer.join()
    assert code == 0 and out.startswith(f"Imported {pipe} (2 rows): added 2")


def test_importing_standard_input_from_a_terminal_says_how_to_end_it(db_path: Path) -> None:
    """'import clients -' typed at a terminal waited for the file in silence, as if hung."""
    terminal = PtyApp([*ringround_argv(), "import", "clients", "-", "--db", str(db_path)])
    try:
        terminal.wait_for("Ctrl-D")
        terminal.send("name\r", "Анна\r", b"\x04")
        assert terminal.wait_exit() == 0, terminal.text()
        assert "Imported standard input (1 rows): added 1" in terminal.text()
    finally:
        terminal.close()


def too_big(name: str | Path) -> str:
    return (
        f"ringround: {name} is larger than 200 MB, the most ringround imports at once; split "
        "it into smaller files.\n"
    )


@pytest.mark.parametrize("given", ["file", "standard input"])
def test_a_file_over_the_import_limit_is_refused_before_it_is_read(
    tmp_path: Path,
    db_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    given: str,
) -> None:
    """A 2 GB export given by mistake would take 30 GB of memory to check: its size says."""
    huge = tmp_path / "everything.csv"
    with huge.open("wb") as handle:  # a sparse file: nothing of it is written to the disk
        handle.write(b"name\n")
        handle.truncate(MAX_FILE_BYTES + 1)
    before = contents_at(db_path)
    if given == "file":
        code, out, err = call(capsys, "import", "clients", huge, "--db", db_path)
        assert (code, out, err) == (2, "", too_big(huge))
    else:
        with huge.open("rb") as stdin:  # ringround import clients - < everything.csv
            monkeypatch.setattr("sys.stdin", io.TextIOWrapper(stdin))
            code, out, err = call(capsys, "import", "clients", "-", "--db", db_path)
            assert stdin.tell() == 0  # nothing was read
        assert (code, out, err) == (2, "", too_big("standard input"))
    assert contents_at(db_path) == before


def test_a_pipe_over_the_import_limit_is_refused_at_the_limit(
    tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pipe tells no size: it is read up to the limit, and refused there, not to its end."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    written = [0]

    def endless_writer() -> None:
        chunk = b"name\n" + b"x" * 65531
        with contextlib.suppress(BrokenPipeError), pipe.open("wb") as handle:
            while True:  # until the reader stops reading
                handle.write(chunk)
                written[0] += len(chunk)

    writer = threading.Thread(target=endless_writer, daemon=True)
    writer.start()
    code, out, err = call(capsys, "import", "clients", str(pipe), "--db", db_path)
    writer.join(PATIENCE)
    assert not writer.is_alive()
    assert (code, out, err) == (2, "", too_big(pipe))
    assert written[0] < 2 * MAX_FILE_BYTES


def test_a_workbook_unpacking_beyond_the_limit_is_refused_before_it_is_read(
    tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An .xlsx is a ZIP archive: a few MB of it may unpack to gigabytes of rows."""
    book = tmp_path / "huge.xlsx"
    with (
        zipfile.ZipFile(book, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet,
    ):
        blank = b" " * (1 << 20)
        for _ in range(MAX_UNPACKED_BYTES // len(blank) + 1):
            sheet.write(blank)
    assert book.stat().st_size < MAX_FILE_BYTES
    before = contents_at(db_path)
    code, out, err = call(capsys, "import", "clients", book, "--db", db_path)
    assert (code, out) == (2, "")
    assert err == (
        f"ringround: {book} is a workbook that unpacks to more than 1,000 MB, the most "
        "ringround imports at once; split it into smaller files.\n"
    )
    assert contents_at(db_path) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["clients", "missing.csv"], "There is no file missing.csv."),
        (["clients", "."], ". is a folder, not a CSV file."),
        (["clients", "/dev/null"], NOT_A_FILE.format(name="/dev/null")),
        (["clients", "/dev/zero"], NOT_A_FILE.format(name="/dev/zero")),  # would never end
        (["clients", "c.csv", "--name", "X"], "--name is for importing a call list, not clients."),
        (["call-list", "c.csv", "--name", " "], "--name is empty; give the list's name."),
        (
            ["call-list", "c.csv", "--name", "Л" * 201],
            "ringround: The call list's name must have 1 to 200 characters, none of them a "
            "control character.\n",
        ),
        (["patients", "c.csv"], "'patients' is not one of"),
    ],
)
def test_import_arguments(
    tmp_path: Path,
    db_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.csv").write_text("name\nA\n", encoding="utf-8")
    code, out, err = call(capsys, "import", *args, "--db", db_path)
    assert code == 2 and out == ""
    assert message in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("kind", IMPORT_KINDS)
def test_export_then_import_changes_nothing(
    demo: Path, tmp_path: Path, boss: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    before = contents_at(demo)
    for bom in ([], ["--bom"]):
        code, text, _ = call(capsys, "export", kind, "--db", demo, *bom)
        assert code == 0
        file = tmp_path / f"{kind}.csv"
        file.write_text(text, encoding="utf-8")
        code, out, err = call(capsys, "import", kind, file, "--db", demo, "--policy", boss)
        assert (code, err) == (0, ""), err
        assert ": added 0, updated 0, unchanged " in out
        assert contents_at(demo) == before


def test_the_policy_names_the_database_a_file_or_a_server(
    clinic: StoredClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --db, the policy's [database] path is used: a file, or a postgresql:// URL."""
    clinic.add_client("Anna")
    policy = tmp_path / "policy.toml"
    policy.write_text(
        f'[database]\npath = "{clinic.location}"\n[security]\nsupervisors = ["{login_name()}"]\n',
        encoding="utf-8",
    )
    file = tmp_path / "flu.csv"
    file.write_text("client_id,note\n1,Flu shot\n", encoding="utf-8")
    code, _, err = call(capsys, "lists", "create", "Flu 2025", str(file), "--policy", str(policy))
    assert code == 0, err
    code, out, err = call(capsys, "lists", "--json", "--policy", str(policy))
    assert code == 0, err
    assert [(d["name"], d["pending"]) for d in json.loads(out)] == [("Flu 2025", 1)]


# -- call lists -----------------------------------------------------------------------------------


def test_lists_create_show_close_reopen_delete(
    clinic: StoredClinic, tmp_path: Path, boss: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("Anna", "Boris"):
        clinic.add_client(name)
    db = clinic.location
    file = tmp_path / "flu.csv"
    file.write_text("client_id,note\n1,Flu shot\n2,\n", encoding="utf-8")
    code, out, _ = call(capsys, "lists", "create", "Flu 2025", file, "--db", db, "--policy", boss)
    assert code == 0
    assert out == (
        f"Imported {file} (2 rows): added 2, updated 0, unchanged 0; made the call "
        'list "Flu 2025".\n'
    )
    code, out, err = call(capsys, "lists", "create", "Flu 2025", file, "--db", db, "--policy", boss)
    assert code == 2
    assert err.splitlines()[1] == (  # about the file as a whole: a sentence of its own
        "  A call list named 'Flu 2025' already exists (import into it with 'ringround "
        "import call-list --name')."
    )
    code, out, _ = call(capsys, "lists", "--db", db)
    header, row = out.splitlines()
    assert header.split() == [
        "LIST",
        "STATE",
        "ITEMS",
        "PENDING",
        "PROCESSED",
        "GIVEN",
        "UP",
        "CREATED",
        "BY",
    ]
    assert row.split()[:6] == ["Flu", "2025", "open", "2", "2", "0"]
    code, out, _ = call(capsys, "lists", "--json", "--db", db)
    assert [(d["name"], d["open"], d["pending"]) for d in json.loads(out)] == [
        ("Flu 2025", True, 2)
    ]
    code, out, _ = call(capsys, "lists", "close", "Flu 2025", "--db", db, "--policy", boss)
    assert (code, out) == (
        0,
        "Closed the call list 'Flu 2025'; 2 pending items will not be called.\n",
    )
    assert json.loads(call(capsys, "lists", "--json", "--db", db)[1])[0]["open"] is False
    # Closing it again changes nothing, and says so (it said "Closed ..." once more).
    code, out, _ = call(capsys, "lists", "close", "Flu 2025", "--db", db, "--policy", boss)
    assert (code, out) == (0, "The call list 'Flu 2025' was closed already; nothing changed.\n")
    code, out, _ = call(capsys, "lists", "reopen", "Flu 2025", "--db", db, "--policy", boss)
    assert (code, out) == (0, "The call list 'Flu 2025' is open; 2 pending items.\n")
    code, out, _ = call(capsys, "lists", "delete", "Flu 2025", "--db", db, "--policy", boss)
    assert (code, out) == (0, "Deleted the call list 'Flu 2025' and its 2 items.\n")
    assert call(capsys, "lists", "--db", db)[1] == (
        "There are no call lists (make one with 'ringround lists create').\n"
    )
    events = [
        row[0]
        for row in clinic.conn.execute(
            "SELECT event FROM audit WHERE operator = ? ORDER BY id", (ME,)
        )
    ]
    assert events == ["list-create", "import", "list-close", "list-reopen", "list-delete"]


def test_import_call_list_with_name(
    clinic: StoredClinic, tmp_path: Path, boss: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clinic.add_client("Anna")
    file = tmp_path / "l.csv"
    file.write_text("id,name\n1,Anna\n", encoding="utf-8")
    code, out, _ = call(
        capsys,
        "import",
        "call-list",
        file,
        "--name",
        "Recall",
        "--db",
        clinic.location,
        "--policy",
        boss,
    )
    assert code == 0 and 'made the call list "Recall"' in out
    code, out, _ = call(
        capsys,
        "import",
        "call-list",
        file,
        "--name",
        "Recall",
        "--db",
        clinic.location,
        "--policy",
        boss,
    )
    assert code == 0 and "unchanged 1." in out


@pytest.mark.parametrize(
    "args",
    [
        ["lists", "create", "New", "{file}"],
        ["import", "call-list", "{file}", "--name", "New"],
        ["lists", "close", "Flu"],
        ["lists", "reopen", "Flu"],
        ["lists", "delete", "Flu"],
        ["report", "--since", "2025-03-01"],
    ],
)
def test_supervisor_actions_refuse_an_operator(
    clinic: StoredClinic,
    tmp_path: Path,
    operator: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
) -> None:
    clinic.add_call_list("Flu", [clinic.add_client("Anna")])
    file = tmp_path / "l.csv"
    file.write_text("client_id\n1\n", encoding="utf-8")
    before = contents_at(clinic.location)
    code, out, err = call(
        capsys, *[a.format(file=file) for a in args], "--db", clinic.location, "--policy", operator
    )
    assert (code, out) == (1, "")
    assert err.startswith("ringround: Only a supervisor may ") and f"{ME} is not one" in err
    assert contents_at(clinic.location) == before


def test_supervisor_by_group(
    clinic: StoredClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    group = grp.getgrgid(os.getgid()).gr_name
    by_group = supervisors_policy(tmp_path, [f"@{group}"])
    clinic.add_call_list("Flu", [clinic.add_client("Anna")])
    assert (
        call(capsys, "lists", "close", "Flu", "--db", clinic.location, "--policy", by_group)[0] == 0
    )


def test_list_refusals(
    clinic: StoredClinic, boss: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, items = clinic.add_call_list("Flu", [clinic.add_client("Anna")])
    code, _, err = call(capsys, "lists", "close", "Nope", "--db", clinic.location, "--policy", boss)
    assert code == 2
    assert err == (
        "ringround: There is no call list named 'Nope' ('ringround lists' shows them).\n"
    )
    alice = clinic.session("alice")
    claim = claim_row(clinic.conn, default_policy(), alice, RowKey(ITEM, items[0]), NOW)
    assert isinstance(claim, Claim)
    code, _, err = call(capsys, "lists", "delete", "Flu", "--db", clinic.location, "--policy", boss)
    assert code == 1 and "locked by alice" in err
    finish_call(clinic.conn, default_policy(), alice, claim, "no-answer", "", NOW + 60)
    code, _, err = call(capsys, "lists", "delete", "Flu", "--db", clinic.location, "--policy", boss)
    assert code == 1 and "has 1 recorded call; close it instead" in err


# -- report -------------------------------------------------------------------------------------


@pytest.fixture
def called(clinic: StoredClinic) -> StoredClinic:
    policy = default_policy()
    anna = clinic.add_client("Анна")
    visit = clinic.add_appointment(anna, clinic_time(2025, 3, 13, 10))
    _, items = clinic.add_call_list("Flu", [anna])
    for who, key, outcome, at in (
        ("alice", RowKey(APPOINTMENT, visit), "no-answer", clinic_time(2025, 3, 12, 10)),
        ("bob", RowKey(ITEM, items[0]), "confirmed", clinic_time(2025, 3, 12, 11)),
        ("alice", RowKey(APPOINTMENT, visit), "confirmed", clinic_time(2025, 3, 14, 9)),
    ):
        session = clinic.session(who)
        claim = claim_row(clinic.conn, policy, session, key, at)
        assert isinstance(claim, Claim)
        finish_call(clinic.conn, policy, session, claim, outcome, "", at + 60)
    return clinic


def test_report_by_operator_and_list(
    called: StoredClinic, boss: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = call(
        capsys,
        "report",
        "--since",
        "2025-03-12",
        "--until",
        "12.03.2025",
        "--db",
        called.location,
        "--policy",
        boss,
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["operator"], r["calls"], r["successful"], r["success_rate"]) for r in rows] == [
        ("alice", "1", "0", "0.000"),
        ("bob", "1", "1", "1.000"),
    ]
    code, out, _ = call(
        capsys,
        "report",
        "--since",
        "2025-03-12",
        "--by",
        "list",
        "--bom",
        "--db",
        called.location,
        "--policy",
        boss,
    )
    assert out.startswith("\ufefflist_kind,list,calls,")
    rows = list(csv.DictReader(io.StringIO(out.removeprefix("\ufeff"))))
    assert [(r["list_kind"], r["list"], r["calls"]) for r in rows] == [
        ("confirmation", "", "2"),
        ("call-list", "Flu", "1"),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "March"], "--since 'March' is not a date or time"),
        (
            ["--since", "2025-03-12", "--until", "2025-03-01"],
            "The period ends before it begins (--until is before --since).",
        ),
        (["--by", "doctor"], "'doctor' is not one of"),
        (["--since", "9999-12-31"], "--since '9999-12-31' is outside the years 1900 to 2199."),
        (["--until", "31.12.9999"], "--until '31.12.9999' is outside the years 1900 to 2199."),
        (
            ["--until", "9999-12-31 23:59"],
            "--until '9999-12-31 23:59' is outside the years 1900 to 2199.",
        ),
        (["--since", " "], "--since is empty; give a date or time such as 2026-11-27"),
        (  # the end is now when --until is left out: not a swapped pair the admin typed
            ["--since", "2199-12-31"],
            "--since '2199-12-31' is after now, where the report ends without --until.",
        ),
        (  # the start is today when --since is left out
            ["--until", "2025-03-01"],
            "--until '2025-03-01' is before today, where the report begins without --since.",
        ),
    ],
)
def test_report_arguments(
    called: StoredClinic,
    boss: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    code, out, err = call(capsys, "report", *args, "--db", called.location, "--policy", boss)
    assert (code, out) == (2, "")
    assert message in err


# -- export -o over an existing file ---------------------------------------------------------------


def test_an_export_replaces_an_earlier_file_as_the_shell_would(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Replaced whole, but keeping the file's mode: an export the admin had made private
    (0600) became readable by every user of the server (0644, the umask's), patients' data
    and all. Through a symbolic link the file it points to is replaced, not the link."""
    written = call(capsys, "export", "clients", "--db", demo)[1].encode()
    private = tmp_path / "clients.csv"
    private.write_text("the export of last week\n", encoding="utf-8")
    os.chmod(private, 0o600)
    previous = os.umask(0o022)
    try:
        assert call(capsys, "export", "clients", "--db", demo, "-o", private)[0] == 0
        assert private.read_bytes() == written
        assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
        latest = tmp_path / "latest.csv"
        latest.symlink_to("clients.csv")
        private.write_text("the export of last week\n", encoding="utf-8")
        assert call(capsys, "export", "clients", "--db", demo, "-o", latest)[0] == 0
    finally:
        os.umask(previous)
    assert latest.is_symlink() and latest.read_bytes() == written
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    folder = tmp_path / "exports"
    folder.mkdir()
    code, out, err = call(capsys, "export", "clients", "--db", demo, "-o", folder)
    assert (code, out) == (2, "")
    assert err == f"ringround: {folder} is a folder; give the name of the file to write.\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "clients.csv",
        "demo.db",
        "exports",
        "latest.csv",
    ]


def test_an_export_never_replaces_a_file_its_user_may_not_write(demo: Path) -> None:
    """Renaming over a file needs only the folder's permission: an operator replaced the
    administrator's file in a shared folder, where the shell's > refuses."""
    need_root_tools()
    with temporary_users("rr-export-ops", ("rr_export_op",)) as (_gid, users):
        top = Path(tempfile.mkdtemp(prefix="rr-export-"))
        try:
            os.chmod(top, 0o777)  # all may make files here, as in a shared exports folder
            shutil.copyfile(demo, top / "clinic.db")
            os.chmod(top / "clinic.db", 0o666)
            theirs = top / "clients.csv"
            theirs.write_text("the administrator's\n", encoding="utf-8")
            os.chmod(theirs, 0o644)
            policy = top / "policy.toml"  # not whatever /etc/ringround holds meanwhile
            policy.write_text('language = "en"\n', encoding="utf-8")
            os.chmod(policy, 0o644)
            with reachable(users[0]) as command:
                result = run(
                    "runuser", "-u", users[0].name, "--", str(command), "export", "clients",
                    "--db", str(top / "clinic.db"), "--policy", str(policy), "-o", str(theirs),
                    check=False,
                    env=command_env(),
                )  # fmt: skip
            assert (result.returncode, result.stdout) == (1, ""), result.stderr
            assert result.stderr == (
                f"ringround: You may not write {theirs}; nothing was written to it. Give "
                "another file name, or ask its owner.\n"
            )
            assert theirs.read_text(encoding="utf-8") == "the administrator's\n"
            assert sorted(p.name for p in top.iterdir()) == [
                "clients.csv",
                "clinic.db",
                "policy.toml",
            ]
        finally:
            shutil.rmtree(top, ignore_errors=True)


# -- export filters and the audit -----------------------------------------------------------------


def test_export_since_until_and_list(
    called: StoredClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    db = called.location

    def rows(*args: str) -> list[dict[str, str]]:
        code, out, err = call(capsys, "export", *args, "--db", db)
        assert code == 0, err
        return list(csv.DictReader(io.StringIO(out)))

    assert len(rows("calls")) == 3
    assert [r["started_at"] for r in rows("calls", "--since", "13.03.2025")] == [
        "2025-03-14T09:00:00+03:00"
    ]
    assert [r["operator"] for r in rows("calls", "--until", "2025-03-12")] == ["alice", "bob"]
    assert [r["operator"] for r in rows("calls", "--until", "2025-03-12 10:30")] == ["alice"]
    assert [r["row"] for r in rows("calls", "--list", "Flu")] == ["item:1"]
    assert {r["row"] for r in rows("audit", "--list", "Flu")} == {"item:1"}
    assert [r["event"] for r in rows("audit", "--since", "2025-03-14")] == ["claim", "release"]
    items = rows("call-list", "--name", "Flu")
    assert items == [
        {
            "list": "Flu",
            "client_id": "1",
            "client": "Анна",
            "phones": "'+7 900 000-00-00",
            "note": "",
            "processed_at": items[0]["processed_at"],
            "client_external_id": "",
            "state": "processed",
        }
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["clients", "--since", "2025-03-01"],
            "'export clients' takes no --since (only calls and audit do).",
        ),
        (
            ["locks", "--list", "Flu"],
            "'export locks' takes no --list (only calls and audit and call-list do).",
        ),
        (["calls", "--list", "Nope"], "There is no call list named 'Nope'"),
        (["calls", "--since", "soon"], "--since 'soon' is not a date or time"),
        (["audit", "--until", "9999-12-31"], "--until '9999-12-31' is outside the years"),
        (  # swapped dates would export nothing, as if there had been no calls
            ["calls", "--since", "2025-03-12", "--until", "2025-03-01"],
            "The period ends before it begins (--until is before --since).",
        ),
    ],
)
def test_export_filter_mistakes(
    called: StoredClinic, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = call(capsys, "export", *args, "--db", called.location)
    assert (code, out) == (2, "")
    assert message in err


def test_export_audit_has_lock_events_and_card_edits(
    clinic: StoredClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = default_policy()
    anna = clinic.add_client("Анна")
    visit = clinic.add_appointment(anna, clinic_time(2025, 3, 13, 10))
    key = RowKey(APPOINTMENT, visit)
    alice = clinic.session("alice")
    claim = claim_row(clinic.conn, policy, alice, key, NOW)
    assert isinstance(claim, Claim)
    abort_call(clinic.conn, policy, alice, key, NOW + 10)
    claim = claim_row(clinic.conn, policy, alice, key, NOW + 20)
    assert isinstance(claim, Claim)
    finish_call(clinic.conn, policy, alice, claim, "no-answer", "", NOW + 30)
    update_client(clinic.conn, policy, clinic.session("bob"), anna, {"notes": "Evenings"}, NOW + 40)
    _, out, _ = call(capsys, "export", "audit", "--db", clinic.location)
    rows = [
        (r["at"], r["operator"], r["event"], r["row"], r["client_id"])
        for r in csv.DictReader(io.StringIO(out))
    ]
    row = f"appointment:{visit}"
    assert rows == [
        ("2025-03-12T10:00:00+03:00", "alice", "claim", row, str(anna)),
        ("2025-03-12T10:00:10+03:00", "alice", "abort", row, str(anna)),
        ("2025-03-12T10:00:20+03:00", "alice", "claim", row, str(anna)),
        ("2025-03-12T10:00:30+03:00", "alice", "release", row, str(anna)),
        ("2025-03-12T10:00:40+03:00", "bob", "card-edit", "", str(anna)),
    ]
    detail = json.loads(list(csv.DictReader(io.StringIO(out)))[-1]["detail"])
    assert detail == {"field": "notes", "old": "", "new": "Evenings"}


# -- progress -----------------------------------------------------------------------------------


def test_the_progress_bar_is_only_for_terminals(monkeypatch: pytest.MonkeyPatch) -> None:
    labels = {"reading": "Reading x.csv", "checking": "Checking"}
    with progress_bar(labels) as progress:  # standard error is not a terminal under pytest
        assert progress is None
    bar = ProgressBar(labels)
    bar("reading", 10, 100)  # within the first moment: nothing is shown yet
    assert bar.bar is None
    monkeypatch.setattr(ProgressBar, "DELAY", 0.0)
    bar = ProgressBar(labels)
    try:
        bar("reading", 10, 100)
        bar("checking", 5, 5)
        assert set(bar.tasks) == {"reading", "checking"}
        shown = [task.description for task in bar.bar.tasks]
        assert shown == ["Reading x.csv", "Checking"]
    finally:
        bar.close()


# -- property: the command never ends in a traceback or a partial import ------------------------


@pytest.fixture(scope="module")
def cli_base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    folder = tmp_path_factory.mktemp("cli-fuzz")
    path = folder / "base.db"
    conn = open_database(path, create=True)
    make_demo(conn, default_policy(), clients=12, now=NOW)
    files: dict[str, bytes] = {}
    for kind in IMPORT_KINDS:
        out = io.StringIO()
        export_csv(conn, default_policy(), kind, out, now=NOW)
        files[kind] = out.getvalue().encode()
    conn.close()
    return path, files


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    kind=st.sampled_from(IMPORT_KINDS),
    mutations=st.lists(mutation, max_size=4),
    garbage=st.one_of(st.none(), st.binary(max_size=200)),
    dry_run=st.booleans(),
)
def test_the_import_command_ends_cleanly(
    cli_base: tuple[Path, dict[str, bytes]],
    tmp_path: Path,
    kind: str,
    mutations: list[tuple[str, int, bytes]],
    garbage: bytes | None,
    dry_run: bool,
) -> None:
    db = tmp_path / "fuzz.db"
    shutil.copyfile(cli_base[0], db)
    file = tmp_path / "in.csv"
    file.write_bytes(garbage if garbage is not None else mutate(cli_base[1][kind], mutations))
    before = contents_at(db)
    out, err = io.StringIO(), io.StringIO()
    args = ["import", kind, str(file), "--db", str(db)] + (["--dry-run"] if dry_run else [])
    if kind == "call-list" and garbage is not None:
        args += ["--name", "Fuzz"]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    text = out.getvalue() + err.getvalue()
    assert code in (0, 2), text
    assert "Traceback" not in text and "unexpected error" not in text
    if code == 2:
        assert out.getvalue() == ""
        assert err.getvalue().startswith(f"ringround: {file}: ")
        assert "\n  line " in err.getvalue()
        assert contents_at(db) == before
    else:
        assert out.getvalue().startswith(("Imported ", "Dry run of "))
        if dry_run:
            assert contents_at(db) == before
