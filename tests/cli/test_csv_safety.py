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
from storage.locks import Claim, claim_row, finish_call
from storage.policy import default_policy
from storage.rows import ITEM, RowKey
from tests.command_line import call
from tests.stored_clinic import NOW, StoredClinic

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


def hostile_clinic(clinic: StoredClinic) -> None:
    for number, name in enumerate(HOSTILE_NAMES):
        clinic.add_client(
            name,
            (PHONES[number % len(PHONES)], "+7 495 000-11-22"),
            notes=HOSTILE_NAMES[-1 - number],
            email="=1+1",
        )


@given(st.text())
def test_restored_undoes_neutralised(text: str) -> None:
    safe = neutralised(text)
    assert restored(safe) == text
    assert not safe or safe[0] not in EVALUATED
    assert neutralised(restored(safe)) == safe


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
