"""CSV safety: no cell a spreadsheet would evaluate, quoted line breaks, exact round trips.

The spreadsheet program itself opens these files in tests/cli/test_libreoffice.py.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.cells import EVALUATED, csv_line, neutralised, restored, text_cell
from storage.engine import write
from storage.locks import Claim, claim_row, finish_call
from storage.policy import default_policy
from storage.rows import ITEM, RowKey
from tests.command_line import call
from tests.stored_clinic import NOW, StoredClinic, clinic_time

HOSTILE_NAMES = (
    '=HYPERLINK("http://x/","Open")',
    "=1+1",
    "+79161230002",
    "-5",
    "@SUM(1)",
    "\tTabbed",
    "\rCarriage first",
    "Иван\rПетров",
    "Анна\nСергеевна",
    "Windows\r\nline",
    "'Tis an apostrophe",
    "''=two apostrophes",
    "'=already marked",
    'He said "hi", twice',
    "Обычное Имя",
)
PHONES = ("+79161230002", "+7 916 123-45-67", "8 916 123-45-68", "-9161234569")
READ_AS_VALUES = (  # texts that Calc or Excel (English or Russian) turn into a value
    "0012",
    " 0012",
    "89161230002",
    "0079161230011",
    "1.5",
    "1,5",
    ".5",
    "01.02.2026",
    "2026-01-02",
    "12:30",
    "12:30 PM",
    "3/4",
    "1-2",
    "1 1/2",
    "50%",
    "$5",
    "5 ₽",
    "(5)",
    "1e5",
    "7,9161E+10",
    "TRUE",
    "false",
    "ИСТИНА",
    "Ложь",
    "Jan 2",
    "2-Jan",
    "2 March 2026",
    "1 янв",
)
FORMULAS_AFTER_SPACES = (
    " =1+1",
    "  +2+3",
    "\u00a0@SUM(1)",
    "＝1+1",
    "＋7",
    "－3",
    "＠SUM(1)",
    " ＝1",
)


def hostile_clinic(clinic: StoredClinic) -> None:
    for number, name in enumerate(HOSTILE_NAMES):
        clinic.add_client(
            name,
            (PHONES[number % len(PHONES)], "+7 495 000-11-22"),
            notes=HOSTILE_NAMES[-1 - number],
            email="=1+1",
        )


@given(st.text(), st.booleans())
def test_restored_undoes_neutralised(text: str, as_text: bool) -> None:
    safe = neutralised(text, as_text=as_text)
    assert restored(safe) == text
    assert not safe or safe[0] not in EVALUATED
    assert neutralised(restored(safe), as_text=as_text) == safe


@given(st.sampled_from((*READ_AS_VALUES, *FORMULAS_AFTER_SPACES)), st.text())
def test_restored_undoes_neutralised_around_values(start: str, text: str) -> None:
    for value in (start, start + text, text + start):
        assert restored(neutralised(value, as_text=True)) == value
        assert restored(neutralised(value)) == value


@pytest.mark.parametrize("text", READ_AS_VALUES)
def test_a_text_a_spreadsheet_reads_as_a_value_is_marked_in_a_text_column(text: str) -> None:
    """A note ``0012`` would come back from a spreadsheet as ``12``, ``1,5`` as ``1.5``,
    ``01.02.2026`` as a date: in a text column it is marked like a formula; in a column of
    numbers (a report's counts) it stays a number to compute with."""
    assert neutralised(text, as_text=True) == "'" + text
    assert neutralised(text) == text
    assert restored("'" + text) == text


@pytest.mark.parametrize("text", FORMULAS_AFTER_SPACES)
def test_a_formula_after_spaces_or_in_full_width_is_marked(text: str) -> None:
    """Spreadsheet programs may trim spaces before reading a cell, and Excel in East Asian
    languages may take a full-width ``＝`` for ``=``."""
    assert neutralised(text) == "'" + text
    assert restored("'" + text) == text


@pytest.mark.parametrize(
    "text", ("Анна", "C-0012", "item:7", "12 apples", "a=b", "Room 12", "+", "$", "e5", "May")
)
def test_texts_that_stay_text_are_not_marked(text: str) -> None:
    expected = "'" + text if text[0] in EVALUATED else text
    assert neutralised(text, as_text=True) == expected


@given(st.text())
def test_a_workbook_text_cell_reads_back_exactly(text: str) -> None:
    cell = text_cell(text)
    assert restored(cell) == text
    assert cell == text or cell == "'" + text  # an apostrophe only where one would be dropped


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+7 916", "'+7 916"),
        ("-5", "'-5"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\tx", "'\tx"),
        ("'Tis", "''Tis"),
        ("Anna", "Anna"),
        ("", ""),
        ("a=b", "a=b"),
    ],
)
def test_neutralised_cells(text: str, cell: str) -> None:
    assert neutralised(text) == cell


def test_only_a_marked_apostrophe_is_dropped_on_reading() -> None:
    assert restored("'Tis") == "'Tis"  # written by hand: data, not our mark
    assert restored("''Tis") == "'Tis"
    assert restored("'") == "'"


def test_line_breaks_and_quotes_are_quoted() -> None:
    assert csv_line(["a\rb", "c\nd", 'say "x"', "plain", "x,y"]) == (
        '"a\rb","c\nd","say ""x""",plain,"x,y"\n'
    )
    record = next(csv.reader(io.StringIO(csv_line(["a\rb", "=1"]), newline="")))
    assert record == ["a\rb", "'=1"]


def test_export_has_no_cell_a_spreadsheet_evaluates(
    clinic: StoredClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile_clinic(clinic)
    code, text, err = call(capsys, "export", "clients", "--db", clinic.location)
    assert (code, err) == (0, "")
    records = list(csv.reader(io.StringIO(text, newline="")))
    assert len(records) == 1 + len(HOSTILE_NAMES)
    for record in records:
        assert len(record) == 8
        for field in record:
            assert not field or field[0] not in EVALUATED, record
    assert records[1][1] == '\'=HYPERLINK("http://x/","Open")'
    assert records[1][2] == "'+79161230002;+7 495 000-11-22"
    assert records[8][1] == "Иван\rПетров"  # quoted, so the record stays whole


def test_export_import_export_is_byte_identical(
    clinic: StoredClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile_clinic(clinic)
    code, first, _ = call(capsys, "export", "clients", "--db", clinic.location)
    assert code == 0
    file = tmp_path / "clients.csv"
    file.write_bytes(first.encode())
    code, out, err = call(capsys, "import", "clients", file, "--db", clinic.location)
    assert (code, err) == (0, ""), err
    assert f"added 0, updated 0, unchanged {len(HOSTILE_NAMES)}" in out
    assert call(capsys, "export", "clients", "--db", clinic.location)[1] == first


def value_clinic(clinic: StoredClinic) -> None:
    """Clients, appointments and tasks whose texts a spreadsheet would read as values."""
    for number, text in enumerate(READ_AS_VALUES):
        client = clinic.add_client(
            text,
            (f"8916123{number:04d}",),
            notes=text,
            email=READ_AS_VALUES[-1 - number],
            birth_date="1980-02-29",
        )
        clinic.add_appointment(
            client,
            clinic_time(2025, 3, 13, 9, 30),
            doctor=text,
            service=READ_AS_VALUES[-1 - number],
        )
        clinic.add_task(client, text.strip(), clinic_time(2025, 3, 14), title=text)
    with write(clinic.conn):
        clinic.conn.execute("UPDATE clients SET external_id = '000' || id")


def test_values_are_marked_in_text_columns_only(
    clinic: StoredClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ids, yes/no, dates and times stay plain for scripts and spreadsheets alike; every text
    a spreadsheet would turn into a value is marked, and export → import → export holds."""
    value_clinic(clinic)
    for kind in ("clients", "appointments", "tasks"):
        code, first, err = call(capsys, "export", kind, "--db", clinic.location)
        assert (code, err) == (0, "")
        records = list(csv.DictReader(io.StringIO(first, newline="")))
        assert len(records) == len(READ_AS_VALUES)
        for record in records:
            assert record["id"].isdigit()
            texts = {"name", "phones", "email", "notes", "external_id", "doctor", "service"}
            texts |= {"kind", "title"}
            for column, field in record.items():
                if column in texts and field:
                    assert field.startswith("'"), (column, field)
        file = tmp_path / f"{kind}.csv"
        file.write_text(first, encoding="utf-8", newline="")
        code, out, err = call(capsys, "import", kind, file, "--db", clinic.location)
        assert (code, err) == (0, ""), err
        assert f"added 0, updated 0, unchanged {len(READ_AS_VALUES)}" in out
        assert call(capsys, "export", kind, "--db", clinic.location)[1] == first
    clients = call(capsys, "export", "clients", "--db", clinic.location)[1].splitlines()
    assert clients[1] == "1,'0012,'89161230000,0,'0001,1980-02-29,'1 янв,'0012"
    appointments = call(capsys, "export", "appointments", "--db", clinic.location)[1]
    assert appointments.splitlines()[1] == (
        "1,1,'0012,2025-03-13T09:30:00+03:00,'0012,'1 янв,unconfirmed,"
    )


def test_a_very_long_note_makes_the_round_trip(
    clinic: StoredClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A note pasted into the client card has no length limit, so neither has a CSV field
    (Python's csv module refuses one over 131,072 characters unless told otherwise)."""
    clinic.add_client("Анна", notes="Длинная заметка;\n" * 20_000)  # 340,000 characters
    code, first, _ = call(capsys, "export", "clients", "--db", clinic.location)
    assert code == 0
    file = tmp_path / "clients.csv"
    file.write_bytes(first.encode())
    code, out, err = call(capsys, "import", "clients", file, "--db", clinic.location)
    assert (code, err) == (0, ""), err
    assert "added 0, updated 0, unchanged 1" in out
    assert call(capsys, "export", "clients", "--db", clinic.location)[1] == first


def test_a_new_database_gets_the_same_clients_back(
    clinic: StoredClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Import into another database (as another program re-quoted it): the same export."""
    hostile_clinic(clinic)
    first = call(capsys, "export", "clients", "--db", clinic.location)[1]
    records = list(csv.reader(io.StringIO(first, newline="")))
    requoted = io.StringIO()
    csv.writer(requoted, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(
        record[1:] for record in records
    )  # without ids: new clients
    file = tmp_path / "clients.csv"
    file.write_text(requoted.getvalue(), encoding="utf-8", newline="")
    other = tmp_path / "other.db"
    code, _, err = call(capsys, "import", "clients", file, "--db", other)
    assert (code, err) == (0, ""), err
    assert call(capsys, "export", "clients", "--db", other)[1] == first


def test_report_names_are_neutralised(
    clinic: StoredClinic, boss: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = default_policy()
    client = clinic.add_client("Anna")
    _, items = clinic.add_call_list("=cmd|' /C calc'!A0", [client])
    session = clinic.session("=1+1")
    claim = claim_row(clinic.conn, policy, session, RowKey(ITEM, items[0]), NOW)
    assert isinstance(claim, Claim)
    finish_call(clinic.conn, policy, session, claim, "confirmed", "", NOW + 60)
    for by in ("operator", "list"):
        code, text, err = call(
            capsys,
            "report",
            "--db",
            clinic.location,
            "--policy",
            boss,
            "--by",
            by,
            "--since",
            "2025-03-12",
            "--until",
            "2025-03-12",
        )
        assert (code, err) == (0, ""), err
        records = list(csv.reader(io.StringIO(text, newline="")))
        for record in records:
            assert all(not field or field[0] not in EVALUATED for field in record), record
        assert "'=" in records[1][0] + records[1][1]


def test_report_names_that_look_like_values_stay_texts(
    clinic: StoredClinic, boss: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A list named "01.12" (December's recall) would show as a date in a spreadsheet, an
    operator "007" as 7; the counts and rates stay numbers to compute with."""
    policy = default_policy()
    client = clinic.add_client("Anna")
    _, items = clinic.add_call_list("01.12", [client])
    session = clinic.session("007")
    claim = claim_row(clinic.conn, policy, session, RowKey(ITEM, items[0]), NOW)
    assert isinstance(claim, Claim)
    finish_call(clinic.conn, policy, session, claim, "confirmed", "", NOW + 60)
    period = ("--since", "2025-03-12", "--until", "2025-03-12")
    for by, name in (("operator", "'007"), ("list", "'01.12")):
        code, text, err = call(
            capsys, "report", "--db", clinic.location, "--policy", boss, "--by", by, *period
        )
        assert (code, err) == (0, ""), err
        header, first = list(csv.reader(io.StringIO(text, newline="")))[:2]
        assert first[header.index(by)] == name
        assert first[header.index("calls")] == "1"
