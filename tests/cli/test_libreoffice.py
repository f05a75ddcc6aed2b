"""A real spreadsheet program opens our files: LibreOffice Calc, headless.

``soffice --convert-to`` loads a file as Calc does when an admin opens it
(for CSV with the options that evaluate formulas and detect numbers, as Excel
always does), then saves it as CSV or .xlsx: what it saves is what it
computed. No formula may run, no text may turn into a number, and a workbook
that went through Calc must import unchanged. Skipped where LibreOffice is
not installed (.ci/run installs libreoffice-calc-nogui).
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from storage.cells import text_cell
from storage.engine import write
from tests.cli.test_csv_safety import HOSTILE_NAMES, READ_AS_VALUES, value_clinic
from tests.command_line import call
from tests.stored_clinic import StoredClinic, clinic_time

# Calc's CSV filter options: comma, double quote, UTF-8 (76), from line 1, standard cells,
# language 0, quoted fields not forced to text, detect special numbers, -, -, -, sheet -,
# evaluate formulas: what a spreadsheet does with a CSV file at its most eager.
EAGER_CSV = "CSV:44,34,76,1,,0,false,true,false,false,false,0,true"
CSV_OUT = "csv:Text - txt - csv (StarCalc):44,34,76,1"
NO_CR = tuple(name for name in HOSTILE_NAMES if "\r" not in name)  # Calc saves CR as LF


def soffice(tmp_path: Path, to: str, file: Path, *, infilter: str | None = None) -> Path:
    """``file`` converted by LibreOffice to ``to`` (a format, with filter options); the result."""
    program = shutil.which("soffice")
    if program is None:
        pytest.skip("LibreOffice is not installed (apt-get install libreoffice-calc-nogui)")
    out = Path(tempfile.mkdtemp(prefix="converted-", dir=tmp_path))
    command = [
        program,
        f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}",
        "--headless",
        "--norestore",
        "--convert-to",
        to,
        "--outdir",
        str(out),
        str(file),
    ]
    if infilter is not None:
        command[4:4] = [f"--infilter={infilter}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    made = sorted(out.iterdir())
    assert done.returncode == 0 and len(made) == 1, (done.stdout, done.stderr, made)
    return made[0]


def clinic_of(clinic: StoredClinic, names: tuple[str, ...]) -> None:
    for number, name in enumerate(names):
        client = clinic.add_client(
            name,
            ("+79161230002", f"8 916 123-45-{number:02d}"),
            notes="=1+1" if number % 2 else "-5",
            birth_date="1980-02-29",
        )
        clinic.add_appointment(
            client,
            clinic_time(2025, 3, 13, 9, 30),
            doctor='=HYPERLINK("http://x/","Open")',
            service="@SUM(1)",
        )


def test_calc_runs_nothing_in_our_csv(
    clinic: StoredClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clinic_of(clinic, HOSTILE_NAMES)
    file = tmp_path / "clients.csv"
    code, _, _ = call(capsys, "export", "clients", "--db", clinic.location, "-o", file)
    assert code == 0
    opened = load_workbook(soffice(tmp_path, "xlsx", file, infilter=EAGER_CSV)).active
    assert opened is not None
    cells = [cell for row in opened.iter_rows() for cell in row if cell.value is not None]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []  # no formula
    texts = [cell for cell in cells if cell.column in (2, 3, 8)]  # name, phones, notes
    assert all(cell.data_type == "s" for cell in texts)
    values = {str(cell.value) for cell in texts}
    assert "Open" not in values and "2" not in values
    assert '\'=HYPERLINK("http://x/","Open")' in values  # shown as the text it is
    assert "'+79161230002;8 916 123-45-00" in values


def test_a_csv_saved_as_a_workbook_by_calc_imports_unchanged(
    clinic: StoredClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Export CSV, open it in Calc, save as .xlsx, import: nothing changes, the external ids
    ``0001`` included (marked as texts, Calc does not take them for numbers)."""
    clinic_of(clinic, NO_CR)
    with write(clinic.conn):
        clinic.conn.execute("UPDATE clients SET external_id = '000' || id")
    before = call(capsys, "export", "clients", "--db", clinic.location)[1]
    file = tmp_path / "clients.csv"
    assert call(capsys, "export", "clients", "--db", clinic.location, "-o", file)[0] == 0
    saved = soffice(tmp_path, "xlsx", file, infilter=EAGER_CSV)
    code, out, err = call(capsys, "import", "clients", saved, "--db", clinic.location)
    assert (code, err) == (0, ""), err
    assert f"added 0, updated 0, unchanged {len(NO_CR)}" in out
    assert call(capsys, "export", "clients", "--db", clinic.location)[1] == before


@pytest.mark.parametrize("language", [0, 1049])  # the system's (English), Russian
def test_texts_calc_would_read_as_values_come_back_exactly(
    clinic: StoredClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str], language: int
) -> None:
    """A note ``0012``, a phone ``89161230002``, a service ``12:30``, an id ``0001``: opened
    in Calc and saved as .xlsx or as CSV, each imports as it was (Calc would have made them
    numbers, dates and times)."""
    value_clinic(clinic)
    eager = EAGER_CSV.replace(",,0,", f",,{language},")
    for kind in ("clients", "appointments", "tasks"):
        file = tmp_path / f"{kind}.csv"
        assert call(capsys, "export", kind, "--db", clinic.location, "-o", file)[0] == 0
        before = call(capsys, "export", kind, "--db", clinic.location)[1]
        workbook = soffice(tmp_path, "xlsx", file, infilter=eager)
        for saved in (workbook, soffice(tmp_path, CSV_OUT, workbook)):
            code, out, err = call(capsys, "import", kind, saved, "--db", clinic.location)
            assert (code, err) == (0, ""), err
            assert f"added 0, updated 0, unchanged {len(READ_AS_VALUES)}" in out
            assert call(capsys, "export", kind, "--db", clinic.location)[1] == before


def test_a_long_note_calc_cut_short_is_refused(
    clinic: StoredClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CSV export holds a note of any length; Calc cuts one to a cell's 32,767 characters
    when it opens the file, and the workbook it saves must not replace the note."""
    clinic.add_client("Анна", notes="Длинная заметка; " * 3_000)  # 51,000 characters
    clinic.add_client("Борис", notes="😀" * 20_000)
    before = call(capsys, "export", "clients", "--db", clinic.location)[1]
    file = tmp_path / "clients.csv"
    assert call(capsys, "export", "clients", "--db", clinic.location, "-o", file)[0] == 0
    saved = soffice(tmp_path, "xlsx", file, infilter=EAGER_CSV)
    code, out, err = call(capsys, "import", "clients", saved, "--db", clinic.location)
    assert (code, out) == (2, "")
    assert [line.split(":")[0] for line in err.splitlines()[1:]] == [
        "  line 2, column notes",
        "  line 3, column notes",
    ], err
    assert call(capsys, "export", "clients", "--db", clinic.location)[1] == before


def test_calc_reads_our_workbook_as_text_and_dates(
    clinic: StoredClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clinic_of(clinic, NO_CR)
    with write(clinic.conn):
        clinic.conn.execute("UPDATE clients SET external_id = '000123' WHERE id = 1")
    for kind in ("clients", "appointments"):
        assert (
            call(capsys, "export", kind, "--db", clinic.location, "-o", tmp_path / f"{kind}.xlsx")[
                0
            ]
            == 0
        )
    shown = soffice(tmp_path, CSV_OUT, tmp_path / "clients.xlsx").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(shown, newline="")))
    # Every text exactly (an apostrophe import would drop is doubled), none evaluated.
    assert [row["name"] for row in rows] == [text_cell(name) for name in NO_CR]
    assert rows[0]["phones"] == "+79161230002;8 916 123-45-00"
    assert rows[0]["external_id"] == "000123"
    assert [row["notes"] for row in rows[:2]] == ["-5", "=1+1"]
    assert rows[0]["birth_date"] == "1980-02-29"
    visits = soffice(tmp_path, CSV_OUT, tmp_path / "appointments.xlsx").read_text(encoding="utf-8")
    first = next(csv.DictReader(io.StringIO(visits, newline="")))
    assert first["starts_at"] == "2025-03-13 09:30:00"  # a date cell, in clinic time
    assert first["doctor"] == '=HYPERLINK("http://x/","Open")'
    assert first["service"] == "@SUM(1)"


def test_our_workbook_saved_again_by_calc_imports_unchanged(
    clinic: StoredClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Saved again as .xlsx or as CSV, texts, values and times come back as they were."""
    clinic_of(clinic, NO_CR)
    value_clinic(clinic)
    for kind in ("clients", "appointments", "tasks"):
        file = tmp_path / f"{kind}.xlsx"
        assert call(capsys, "export", kind, "--db", clinic.location, "-o", file)[0] == 0
        before = call(capsys, "export", kind, "--db", clinic.location)[1]
        for to in ("xlsx:Calc MS Excel 2007 XML", CSV_OUT):
            saved = soffice(tmp_path, to, file)
            code, out, err = call(capsys, "import", kind, saved, "--db", clinic.location)
            assert (code, err) == (0, ""), (to, err)
            assert ": added 0, updated 0, unchanged " in out, (to, out)
            assert call(capsys, "export", kind, "--db", clinic.location)[1] == before


def test_a_calc_spreadsheet_of_its_own_format_is_named_with_what_to_do(
    clinic: StoredClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Calc saves .ods unless told otherwise: the admin is told to save it as .xlsx or CSV,
    not that "the workbook cannot be read (There is no item named '[Content_Types].xml'...)".
    """
    clinic_of(clinic, ("Анна Петрова",))
    file = tmp_path / "clients.csv"
    assert call(capsys, "export", "clients", "--db", clinic.location, "-o", file)[0] == 0
    ods = soffice(tmp_path, "ods", file)
    renamed = shutil.copy(ods, tmp_path / "clients.xlsx")  # the name does not decide
    for given in (ods, renamed):
        code, out, err = call(capsys, "import", "clients", given, "--db", clinic.location)
        assert (code, out) == (2, "")
        assert err.splitlines()[1:] == [
            "  line 1: the file is an OpenDocument spreadsheet (.ods, LibreOffice's own "
            'format); save it as an Excel workbook (.xlsx) or as "CSV UTF-8".'
        ], err
