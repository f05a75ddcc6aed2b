"""Import refuses what a spreadsheet typically damaged, naming line and column, importing
nothing; ``--dry-run`` lists likely duplicates before they are created."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from storage import engine
from storage.imports.damage import garbled_cyrillic
from storage.phones import digit_count_problem
from storage.policy import default_policy
from tests.command_line import call
from tests.database_contents import contents_at
from tests.stored_clinic import StoredClinic

GARBLED = {
    "Ð¡Ð¸Ð´Ð¾Ñ€Ð¾Ð² Ð˜Ð²Ð°Ð½": "Сидоров Иван",  # UTF-8 read as Windows-1252
    "Ñèäîðîâ Èâàí": "Сидоров Иван",  # Windows-1251 read as Windows-1252
    "ÐŸÐµÑ‚Ñ€Ð¾Ð²Ð°": "Петрова",
}


@pytest.mark.parametrize(("text", "meant"), GARBLED.items())
def test_garbled_cyrillic_is_recognised(text: str, meant: str) -> None:
    assert garbled_cyrillic(text) == meant


@pytest.mark.parametrize(
    "text",
    [
        "Müller",
        "Conceição",
        "Éléonore Dupont",
        "Þórðar",
        "Ðóra",
        "José Núñez",
        "Иванова Анна",
        "Smith, John",
        "=1+1",
        "Ångström",
        "São Paulo",
        "Œuvre",
        "",
        "plain ascii",
    ],
)
def test_real_names_are_not_taken_for_garbled_ones(text: str) -> None:
    assert garbled_cyrillic(text) is None


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def refused(
    capsys: pytest.CaptureFixture[str], file: Path, db: str | Path, kind: str = "clients"
) -> list[str]:
    """The problems listed when importing ``file`` (which must change nothing)."""
    before = contents_at(db)
    code, out, err = call(capsys, "import", kind, file, "--db", db)
    assert (code, out) == (2, ""), out + err
    assert contents_at(db) == before
    lines = err.splitlines()
    assert lines[0].endswith("nothing was imported.")
    return [line.strip() for line in lines[1:]]


def test_garbled_names_are_refused(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write(
        tmp_path / "c.csv",
        "name;phones;notes\n"
        "Ð¡Ð¸Ð´Ð¾Ñ€Ð¾Ð² Ð˜Ð²Ð°Ð½;+7 916 123-45-67;\n"
        "Анна;+7 916 123-45-68;Ñèäîðîâ Èâàí\n"
        "Müller;+49 30 1234567;\n",
    )
    assert refused(capsys, file, db_path) == [
        "line 2, column name: 'Ð¡Ð¸Ð´Ð¾Ñ€Ð¾Ð² Ð˜Ð²Ð°Ð½' looks like Cyrillic read with the wrong "
        "code page (it was probably 'Сидоров Иван'); save the file as \"CSV UTF-8\" or as an "
        "Excel workbook (.xlsx) from the original.",
        "line 3, column notes: 'Ñèäîðîâ Èâàí' looks like Cyrillic read with the wrong code page "
        "(it was probably 'Сидоров Иван'); save the file as \"CSV UTF-8\" or as an Excel "
        "workbook (.xlsx) from the original.",
    ]


@pytest.mark.parametrize(
    ("number", "problem"),
    [
        (
            "7,9161E+10",
            "'7,9161E+10' is a number in scientific notation, so the spreadsheet has "
            "lost its last digits; format the phone column as text and take the numbers "
            "from the original again.",
        ),
        ("7.9161E+10", "'7.9161E+10' is a number in scientific notation"),
        ("7.9161e10", "'7.9161e10' is a number in scientific notation"),
        (
            "+7 916 123-45-6",
            "'+7 916 123-45-6' has too few digits: numbers here have 10 after 8 / +7.",
        ),
        ("916 123 45", "'916 123 45' has too few digits"),
        ("916 123 45 доб. 6", "'916 123 45 доб. 6' has too few digits"),
        (
            "8 916 123-45-678",
            "'8 916 123-45-678' has too many digits: numbers here have 10 after "
            "8 / +7 (write a number of another country with + and its country "
            "code).",
        ),
        (
            "+1 234 567 890 123 456",
            "'+1 234 567 890 123 456' has 16 digits, more than any phone number (at most 15).",
        ),
    ],
)
def test_damaged_phone_numbers_are_refused(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], number: str, problem: str
) -> None:
    file = write(tmp_path / "c.csv", f'name;phones\nАнна;"+7 916 000-00-01; {number}"\n')
    (found,) = refused(capsys, file, db_path)
    assert found.startswith(f"line 2, column phones: {problem}"), found


@pytest.mark.parametrize(
    "number",
    [
        "+7 916 123-45-67",
        "8 (916) 123-45-67",
        "916 123 45 67",
        "79161234567",
        "+79161230002",
        "+380 44 123 4567",
        "00 49 30 1234567",
        "+1 212 555 0100",
        "8 10 49 30 1234567",
        "+7 495 123-45-67 доб. 12",
        "8 916 123-45-67 ext. 1234",  # an extension does not count
    ],
)
def test_good_phone_numbers_pass(number: str) -> None:
    assert digit_count_problem(number, default_policy().phones) is None


def test_phone_cells_that_are_numbers_in_scientific_notation(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A workbook whose phone column holds text like the CSV a spreadsheet wrote."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["name", "phones"])
    sheet.append(["Анна", "7,9161E+10"])
    sheet.append(["Борис", 79161230002])  # a number cell with every digit: fine
    book.save(tmp_path / "c.xlsx")
    assert refused(capsys, tmp_path / "c.xlsx", db_path) == [
        "line 2, column phones: '7,9161E+10' is a number in scientific notation, so the "
        "spreadsheet has lost its last digits; format the phone column as text and take the "
        "numbers from the original again."
    ]


def test_an_external_id_that_lost_its_zeros(
    clinic: StoredClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client = clinic.add_client("Анна")
    with engine.write(clinic.conn):
        clinic.conn.execute("UPDATE clients SET external_id = '000123' WHERE id = ?", (client,))
    clients = write(tmp_path / "c.csv", "external_id,name\n123,Анна\n0123,Анна\n000123,Анна\n")
    lost = (
        "is no external id here, but '000123' is: the spreadsheet took the id for a number "
        "and dropped its leading zeros; format the column as text (or export as .xlsx) and "
        "take the ids from the original again."
    )
    assert refused(capsys, clients, clinic.location) == [
        f"line 2, column external_id: '123' {lost}",
        f"line 3, column external_id: '0123' {lost}",
    ]
    visits = write(tmp_path / "a.csv", "client_external_id,starts_at\n123,2025-03-13 10:00\n")
    assert refused(capsys, visits, clinic.location, "appointments") == [
        f"line 2, column client_external_id: '123' {lost}"
    ]
    fine = write(tmp_path / "ok.csv", "external_id,name\n000123,Анна К\n124,Борис\n")
    assert call(capsys, "import", "clients", fine, "--db", clinic.location)[0] == 0


def test_dry_run_lists_likely_duplicates(
    clinic: StoredClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    known = clinic.add_client("Сидоров Иван", ("+7 916 123-45-67",))
    file = write(
        tmp_path / "c.csv",
        "name,phones\n"
        "сидоров  иван,8 916 123-45-67\n"  # the same person, written otherwise
        "Сидоров Иван,+7 916 000-00-09\n"  # the same name, another phone: not flagged
        "Петрова Анна,+7 916 555-00-01\n"
        "ПЕТРОВА АННА,8 (916) 555-00-01\n",
    )  # twice in the file
    before = contents_at(clinic.location)
    code, out, err = call(capsys, "import", "clients", file, "--db", clinic.location, "--dry-run")
    assert (code, err) == (0, "")
    assert out.splitlines()[1:] == [
        "Likely duplicates (the same name and phone number); check before importing:",
        f"  line 2: 'сидоров  иван' has the name and a phone number of client {known}.",
        "  line 5: 'ПЕТРОВА АННА' has the name and a phone number of line 4 of the file.",
    ]
    assert contents_at(clinic.location) == before
    code, out, _ = call(capsys, "import", "clients", file, "--db", clinic.location)
    assert code == 0
    assert out.splitlines()[1] == (
        "Added as new, but likely duplicates (the same name and phone number):"
    )


def test_an_external_id_in_scientific_notation_is_refused(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A clinic system's 20-digit id opened in a spreadsheet: Excel shows and saves it as
    ``1,23457E+19`` (CSV), a workbook keeps the number, read as ``1.234567890123457e+19``;
    its last digits are gone, and it would add the client a second time."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["external_id", "name"])
    sheet.append([12345678901234567890, "Анна"])
    sheet.append(["C-3E-12", "Борис"])  # a code with an E in it: fine
    book.save(tmp_path / "c.xlsx")
    lost = (
        "is a number in scientific notation, so the spreadsheet has lost its last digits; "
        "format the id column as text and take the ids from the original again."
    )
    assert refused(capsys, tmp_path / "c.xlsx", db_path) == [
        f"line 2, column external_id: '1.234567890123457e+19' {lost}"
    ]
    clients = write(tmp_path / "c.csv", 'external_id;name\n"1,23457E+19";Анна\n1.2E+19;Вера\n')
    assert refused(capsys, clients, db_path) == [
        f"line 2, column external_id: '1,23457E+19' {lost}",
        f"line 3, column external_id: '1.2E+19' {lost}",
    ]
