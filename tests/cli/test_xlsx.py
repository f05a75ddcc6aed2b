"""Excel workbooks both ways: ``export KIND -o FILE.xlsx`` and ``import KIND FILE.xlsx``.

The files are read and written here with openpyxl, as another program would;
tests/cli/test_libreoffice.py opens them in a real spreadsheet program.
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import Cell

from storage.cells import ooxml_text, plain_text, text_cell
from storage.engine import write
from tests.cli.test_csv_safety import HOSTILE_NAMES
from tests.command_env import command_env
from tests.command_line import call
from tests.database_contents import contents_at
from tests.pty_app import ringround_argv
from tests.stored_clinic import CLINIC_ZONE, StoredClinic, clinic_time

TERMINAL_TRICKS = ("\x1b]0;owned\x07Title", "\x1b[2JClear", "_x0041_ looks escaped", "\x00nul")


def hostile_clinic(clinic: StoredClinic) -> tuple[str, ...]:
    """Clients with hostile names, notes, doctors and services; their names.

    A PostgreSQL text cannot hold NUL (ringround's import refuses NUL on both
    engines), so the NUL name is stored on SQLite only, where another program
    may have written it into the file.
    """
    names: tuple[str, ...] = (*HOSTILE_NAMES, *TERMINAL_TRICKS)
    if "://" in clinic.location:
        names = tuple(name for name in names if "\x00" not in name)
    for number, name in enumerate(names):
        client = clinic.add_client(
            name,
            ("+79161230002", "8 916 123-45-6" + str(number % 10)),
            notes=names[-1 - number],
            birth_date="1980-02-29",
        )
        clinic.add_appointment(
            client, clinic_time(2025, 3, 13, 9 + number % 8, 30), doctor="=1+1", service="@SUM(1)"
        )
    with write(clinic.conn):
        clinic.conn.execute("UPDATE clients SET external_id = '000123' WHERE id = 1")
    return names


def test_text_escapes_come_back_exactly() -> None:
    for text in (*HOSTILE_NAMES, *TERMINAL_TRICKS, "_x005F_", "a_x12_b", ""):
        assert plain_text(ooxml_text(text)) == text
    assert ooxml_text("a\rb\x1bc\td\ne") == "a_x000D_b_x001B_c\td\ne"


def test_export_writes_text_cells_date_cells_and_a_frozen_bold_header(
    clinic: StoredClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = hostile_clinic(clinic)
    clients, visits = tmp_path / "clients.xlsx", tmp_path / "visits.xlsx"
    code, out, err = call(capsys, "export", "clients", "--db", clinic.location, "-o", clients)
    assert (code, err) == (0, "")
    total = len(names)
    assert out == f"Wrote {total} rows to {clients}.\n"
    assert (
        call(capsys, "export", "appointments", "--db", clinic.location, "--output", visits)[0] == 0
    )
    book = load_workbook(clients)
    sheet = book.active
    assert sheet is not None and sheet.title == "clients"
    assert sheet.freeze_panes == "A2"
    header = [cell.value for cell in sheet[1]]
    assert header == [
        "id",
        "name",
        "phones",
        "do_not_call",
        "external_id",
        "birth_date",
        "email",
        "notes",
    ]
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.column_dimensions["B"].width == 34 and sheet.column_dimensions["H"].width == 40
    first = {name: cell for name, cell in zip(header, sheet[2], strict=True)}
    assert first["name"].value == '=HYPERLINK("http://x/","Open")'
    assert first["phones"].value == "+79161230002;8 916 123-45-60"
    assert first["external_id"].value == "000123"
    assert first["id"].value == "1"
    for row in sheet.iter_rows(min_row=2):
        for name, cell in zip(header, row, strict=True):
            assert isinstance(cell, Cell)  # not a merged one
            if name == "birth_date":
                assert cell.is_date and cell.value == datetime(1980, 2, 29)
                assert cell.number_format == "yyyy-mm-dd"
            elif cell.value is not None:
                assert cell.data_type == "s" and cell.number_format == "@", (name, cell.value)
    assert [sheet.cell(row, 2).value for row in range(2, total + 2)] == [
        ooxml_text(text_cell(name)) for name in names
    ]
    assert sheet.cell(14, 2).value == "''=already marked"  # one more, as import drops one
    visit = load_workbook(visits).active
    assert visit is not None
    starts = visit.cell(2, 4)
    assert isinstance(starts, Cell)
    assert starts.is_date and starts.number_format == "yyyy-mm-dd hh:mm:ss"
    assert starts.value == datetime(2025, 3, 13, 9, 30)  # clinic time, no zone
    assert visit.cell(2, 5).value == "=1+1" and visit.cell(2, 5).data_type == "s"


@pytest.mark.parametrize("kind", ["clients", "appointments"])
def test_export_then_import_changes_nothing(
    clinic: StoredClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    hostile_clinic(clinic)
    file = tmp_path / f"{kind}.xlsx"
    assert call(capsys, "export", kind, "--db", clinic.location, "-o", file)[0] == 0
    before = call(capsys, "export", kind, "--db", clinic.location)[1]
    code, out, err = call(capsys, "import", kind, file, "--db", clinic.location)
    assert (code, err) == (0, ""), err
    assert ": added 0, updated 0, unchanged " in out
    assert call(capsys, "export", kind, "--db", clinic.location)[1] == before


def test_a_workbook_fills_a_new_database_exactly(
    clinic: StoredClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without its id column (new clients), a workbook gives the same CSV export back."""
    hostile_clinic(clinic)
    file = tmp_path / "clients.xlsx"
    assert call(capsys, "export", "clients", "--db", clinic.location, "-o", file)[0] == 0
    book = load_workbook(file)
    sheet = book.active
    assert sheet is not None
    sheet.delete_cols(1)
    book.save(file)
    other = tmp_path / "other.db"
    code, _, err = call(capsys, "import", "clients", file, "--db", other)
    assert (code, err) == (0, ""), err
    assert (
        call(capsys, "export", "clients", "--db", other)[1]
        == call(capsys, "export", "clients", "--db", clinic.location)[1]
    )


def handmade(path: Path, rows: list[list[object]]) -> Path:
    """A workbook as a clinic admin's spreadsheet program would save it."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_a_handmade_workbook(
    clinic: StoredClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    anna = clinic.add_client("Анна")
    clients = handmade(
        tmp_path / "clients.xlsx",
        [
            ["Name", "Phones", "Birth date", "External ID", "Do not call", None, None],
            ["Борис", 79161230002, datetime(1975, 5, 6), 4711, True],
            ["Вера", "+7 916 123-00-03", None, "A-1", False, None, None],
            [None, None, None, None, None],  # an empty row in the middle
            ["Галина", 9161230004, datetime(1990, 1, 2), None, None],
        ],
    )
    code, out, err = call(capsys, "import", "clients", clients, "--db", clinic.location)
    assert (code, err) == (0, ""), err
    assert out.startswith(f"Imported {clients} (3 rows): added 3,")
    rows = clinic.conn.execute(
        "SELECT c.name, c.birth_date, c.external_id, c.do_not_call, p.number, p.digits"
        " FROM clients c JOIN phones p ON p.client_id = c.id WHERE c.id > ? ORDER BY c.id",
        (anna,),
    ).fetchall()
    assert rows == [
        ("Борис", "1975-05-06", "4711", 1, "79161230002", "79161230002"),
        ("Вера", None, "A-1", 0, "+7 916 123-00-03", "79161230003"),
        ("Галина", "1990-01-02", None, 0, "9161230004", "79161230004"),
    ]
    tasks = handmade(
        tmp_path / "tasks.xlsx",
        [
            ["client_id", "kind", "due_at", "title"],
            [anna, "recall", datetime(2025, 3, 14, 0, 0), "Midnight"],
            [anna, "recall", datetime(2025, 3, 14, 10, 30, 0, 999_600), "Rounded"],
        ],
    )
    code, out, err = call(capsys, "import", "tasks", tasks, "--db", clinic.location)
    assert (code, err) == (0, ""), err
    due = [row[0] for row in clinic.conn.execute("SELECT due_at FROM tasks ORDER BY id")]
    assert due == [clinic_time(2025, 3, 14), clinic_time(2025, 3, 14, 10, 30) + 1]


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        ([["name", "notes"], ["Анна", 1.5]], None),  # a number as text: fine
        (
            [["name", "phones"], ["Анна", "=A1"]],
            "line 2, column phones: is a formula (=A1); ringround imports values, so paste the "
            "column as values first.",
        ),
        ([["name"], ["Анна"], ["Борис", "extra"]], "line 3: has 2 fields but the header has 1."),
        ([["name", None, "name "]], "line 1, column #2: this column has no name."),
        ([[None], ["Анна"]], "line 1: the first line must name the columns."),
    ],
)
def test_workbook_problems(
    db_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    rows: list[list[object]],
    problem: str | None,
) -> None:
    file = handmade(tmp_path / "in.xlsx", rows)
    before = contents_at(db_path)
    code, out, err = call(capsys, "import", "clients", file, "--db", db_path)
    if problem is None:
        assert code == 0, err
        return
    assert (code, out) == (2, "")
    assert f"  {problem}" in err.splitlines(), err
    assert contents_at(db_path) == before


def test_a_formula_in_an_ignored_column_is_fine(
    clinic: StoredClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    anna = clinic.add_client("Анна")
    file = handmade(
        tmp_path / "tasks.xlsx",
        [
            ["client_id", "client", "kind", "due_at"],
            [anna, "=VLOOKUP(A2,Clients!A:B,2,FALSE)", "recall", datetime(2025, 3, 14, 9)],
        ],
    )
    code, out, err = call(capsys, "import", "tasks", file, "--db", clinic.location)
    assert (code, err) == (0, ""), err
    assert "added 1" in out


def test_an_error_value_is_refused(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["name", "notes"])
    sheet.append(["Анна", None])
    sheet["B2"].value = "#N/A"
    sheet["B2"].data_type = "e"
    book.save(tmp_path / "in.xlsx")
    code, _, err = call(capsys, "import", "clients", tmp_path / "in.xlsx", "--db", db_path)
    assert code == 2
    assert "  line 2, column notes: holds the error value #N/A." in err.splitlines()


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600),
            "line 1: the file is an old Excel workbook (.xls); save it as an Excel workbook "
            "(.xlsx) "
            'or as "CSV UTF-8".',
        ),
        (b"PK\x03\x04" + bytes(100), "line 1: the workbook cannot be read ("),
    ],
)
def test_files_that_are_not_workbooks(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes, problem: str
) -> None:
    file = tmp_path / "in.xlsx"
    file.write_bytes(data)
    code, out, err = call(capsys, "import", "clients", file, "--db", db_path)
    assert (code, out) == (2, "")
    assert err.splitlines()[1].startswith(f"  {problem}"), err


def test_a_nul_in_a_workbook_cell_is_named_where_the_database_cannot_store_it(
    clinic: StoredClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cell's ``_x0000_`` reads as NUL: an SQLite file keeps it (another program may have
    written one, and a workbook brings it back exactly), PostgreSQL cannot store it, which
    is the file's problem there (line, column, exit 2), not the database's."""
    file = handmade(tmp_path / "in.xlsx", [["name", "notes"], ["Анна", "a_x0000_b"]])
    before = call(capsys, "export", "clients", "--db", clinic.location)[1]
    code, out, err = call(capsys, "import", "clients", file, "--db", clinic.location)
    if "://" not in clinic.location:
        assert (code, err) == (0, ""), err
        return
    assert (code, out) == (2, "")
    assert err.splitlines()[1:] == [
        "  line 2, column notes: holds a NUL character, which a PostgreSQL database cannot store."
    ], err
    assert call(capsys, "export", "clients", "--db", clinic.location)[1] == before


def test_a_nul_a_workbook_brought_makes_the_csv_round_trip(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What export writes, import accepts: a note with a NUL (kept by SQLite from a
    workbook) written to CSV was refused on import ("the file holds a NUL character; it is
    not a CSV text file"). A NUL in the header line still marks a file that is no CSV."""
    file = handmade(tmp_path / "in.xlsx", [["name", "notes"], ["Анна", "a_x0000_b"]])
    assert call(capsys, "import", "clients", file, "--db", db_path)[0] == 0
    first = call(capsys, "export", "clients", "--db", db_path)[1]
    assert "a\x00b" in first
    exported = tmp_path / "clients.csv"
    exported.write_text(first, encoding="utf-8", newline="")
    code, out, err = call(capsys, "import", "clients", exported, "--db", db_path)
    assert (code, err) == (0, ""), err
    assert "added 0, updated 0, unchanged 1" in out
    assert call(capsys, "export", "clients", "--db", db_path)[1] == first
    utf16 = tmp_path / "utf16.csv"  # UTF-16 without a byte-order mark: NULs in every line
    utf16.write_bytes("name\nАнна\n".encode("utf-16-le"))
    code, out, err = call(capsys, "import", "clients", utf16, "--db", db_path)
    assert (code, out) == (2, "")
    assert err.splitlines()[1:] == [
        "  line 1: the file holds a NUL character; it is not a CSV text file."
    ], err


def test_openpyxl_says_nothing_on_the_terminal(db_path: Path, tmp_path: Path) -> None:
    """A date cell out of a date's range makes openpyxl warn (a UserWarning, printed by
    Python with a source line); ringround names the cell itself, so the warning stays
    unsaid. Run as the real command: Python prints warnings only there."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["name", "birth_date"])
    sheet.append(["Анна", 10_000_000_000])
    sheet["B2"].number_format = "yyyy-mm-dd"
    file = tmp_path / "in.xlsx"
    book.save(file)
    env = {k: v for k, v in command_env().items() if k != "PYTHONWARNINGS"}
    done = subprocess.run(
        [*ringround_argv(), "import", "clients", str(file), "--db", str(db_path)],
        capture_output=True,
        text=True,
        env={**env, "LC_ALL": "C.UTF-8", "LANGUAGE": "en"},
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        f"ringround: {file}: 1 problem; nothing was imported.",
        "  line 2, column birth_date: holds the error value #VALUE!",
    ]


def test_a_zip_that_is_not_a_workbook(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import zipfile

    file = tmp_path / "in.xlsx"
    with zipfile.ZipFile(file, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    code, _, err = call(capsys, "import", "clients", file, "--db", db_path)
    assert code == 2 and "  line 1: the workbook cannot be read (" in err


def test_a_workbook_that_unpacks_a_thousandfold_is_refused_before_it_is_read(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A "zip bomb": 200 KB that unpacks to 200 MB of shared strings, which openpyxl would
    hold in memory (about 450 MB; a 2 MB file would take the clinic server's memory)."""
    import zipfile

    plain = handmade(tmp_path / "plain.xlsx", [["name"], ["Анна"]])
    file = tmp_path / "in.xlsx"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as bomb:
        for member in source.infolist():
            if member.filename != "xl/sharedStrings.xml":
                bomb.writestr(member, source.read(member))
        with bomb.open("xl/sharedStrings.xml", "w", force_zip64=True) as strings:
            strings.write(
                b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            )
            strings.write(b"<si><t>")
            for _ in range(200):
                strings.write(b"x" * 1_000_000)
            strings.write(b"</t></si></sst>")
    code, out, err = call(capsys, "import", "clients", file, "--db", db_path)
    assert (code, out) == (2, "")
    assert err == (
        f"ringround: {file} is a workbook that unpacks to 200 MB, more than 100 times its "
        "size, which only a damaged or hostile file does; save it again from the "
        "spreadsheet program.\n"
    )
    assert call(capsys, "export", "clients", "--db", db_path)[1].count("\n") == 1  # the header


def test_a_damaged_workbook_is_named_in_the_language_of_the_screens(
    clinic: StoredClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A workbook cut short while copying, or with a damaged part, and a ZIP archive that is
    no workbook (a Word file renamed): a sentence in the admin's words, not the ZIP
    library's English ("File is not a zip file", "Bad CRC-32 for file ...")."""
    import zipfile

    clinic.add_client("Анна")
    whole = tmp_path / "whole.xlsx"
    assert call(capsys, "export", "clients", "--db", clinic.location, "-o", whole)[0] == 0
    data = whole.read_bytes()
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(data[: len(data) // 2])
    damaged = tmp_path / "damaged.xlsx"
    with zipfile.ZipFile(whole) as source, zipfile.ZipFile(damaged, "w") as target:
        for member in source.infolist():  # stored, so that a byte of data is easy to spoil
            target.writestr(member.filename, source.read(member))
    spoiled = bytearray(damaged.read_bytes())
    at = spoiled.index(b"<sheetData>")
    spoiled[at + 1 : at + 6] = b"XXXXX"
    damaged.write_bytes(bytes(spoiled))
    word = tmp_path / "letter.xlsx"
    with zipfile.ZipFile(word, "w") as archive:
        archive.writestr("word/document.xml", "<document/>")
    document = tmp_path / "letter.docx.xlsx"  # with the parts every Office file has
    with zipfile.ZipFile(document, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
        )
        archive.writestr("word/document.xml", "<document/>")
    expected = {
        cut: "the file is cut short or damaged; copy it again, or save it again from the "
        "spreadsheet program",
        damaged: "the file is cut short or damaged; copy it again, or save it again from the "
        "spreadsheet program",
        word: "it is a ZIP archive but not an Excel workbook; save the sheet as an Excel "
        'workbook (.xlsx) or as "CSV UTF-8"',
        document: "it is a ZIP archive but not an Excel workbook; save the sheet as an Excel "
        'workbook (.xlsx) or as "CSV UTF-8"',
    }
    for file, problem in expected.items():
        code, out, err = call(capsys, "import", "clients", file, "--db", clinic.location)
        assert (code, out) == (2, "")
        assert err.splitlines()[1:] == [f"  line 1: the workbook cannot be read ({problem})."], err


def test_export_output_choices(
    clinic: StoredClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile_clinic(clinic)
    stdout = call(capsys, "export", "clients", "--db", clinic.location)[1]
    file = tmp_path / "clients.CSV"
    previous = os.umask(0o027)
    try:
        code, out, _ = call(capsys, "export", "clients", "--db", clinic.location, "-o", file)
    finally:
        os.umask(previous)
    assert code == 0 and out.startswith("Wrote ")
    assert file.read_bytes() == stdout.encode()
    assert stat.S_IMODE(os.stat(file).st_mode) == 0o640
    with_bom = tmp_path / "bom.csv"
    assert (
        call(capsys, "export", "clients", "--db", clinic.location, "-o", with_bom, "--bom")[0] == 0
    )
    assert with_bom.read_bytes() == b"\xef\xbb\xbf" + stdout.encode()
    mistakes: tuple[tuple[list[str | Path], str], ...] = (
        (
            ["-o", tmp_path / "c.ods"],
            "c.ods: the file's name must end in .xlsx (an Excel workbook) or .csv (a CSV file).",
        ),
        (
            ["-o", tmp_path / "c.xlsx", "--bom"],
            "--bom is for CSV files; an Excel workbook needs none.",
        ),
        (["-o", tmp_path / "none" / "c.xlsx"], f"The folder {tmp_path / 'none'} does not exist."),
    )
    for args, message in mistakes:
        code, out, err = call(capsys, "export", "clients", "--db", clinic.location, *args)
        assert (code, out) == (2, "")
        assert err.startswith("ringround: ") and err.endswith(f"{message}\n"), err
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("clinic")) == [
        "bom.csv",
        "clients.CSV",
    ]


def test_workbook_times_are_clinic_time(
    clinic: StoredClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client = clinic.add_client("Anna")
    clinic.add_task(
        client, "recall", clinic_time(2025, 3, 14, 8, 5), done_at=clinic_time(2025, 3, 15, 23, 59)
    )
    file = tmp_path / "tasks.xlsx"
    assert call(capsys, "export", "tasks", "--db", clinic.location, "-o", file)[0] == 0
    sheet = load_workbook(io.BytesIO(file.read_bytes())).active
    assert sheet is not None
    assert sheet["F2"].value == datetime(2025, 3, 14, 8, 5)
    assert sheet["G2"].value == datetime(2025, 3, 15, 23, 59)
    assert datetime(2025, 3, 14, 8, 5, tzinfo=CLINIC_ZONE).timestamp() == clinic_time(
        2025, 3, 14, 8, 5
    )


def test_a_time_in_the_hour_the_clocks_go_back_makes_the_round_trip(
    clinic: StoredClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """02:30 comes twice in Berlin on 25 October 2026; a date cell has no offset to say
    which, so such a time is written as text with its offset, and comes back exactly."""
    berlin = tmp_path / "berlin.toml"
    berlin.write_text('timezone = "Europe/Berlin"\n', encoding="utf-8")
    client = clinic.add_client("Anna")
    for offset in (2, 1):  # 00:30 and 01:30 UTC: 02:30 summer time, then 02:30 winter time
        at = datetime(2026, 10, 25, 2 - offset, 30, tzinfo=UTC)
        clinic.add_appointment(client, int(at.timestamp()))
    clinic.add_appointment(client, int(datetime(2026, 10, 25, 3, 30, tzinfo=UTC).timestamp()))
    where: list[str | Path] = ["--db", clinic.location, "--policy", berlin]
    before = call(capsys, "export", "appointments", *where)[1]
    file = tmp_path / "appointments.xlsx"
    assert call(capsys, "export", "appointments", *where, "-o", file)[0] == 0
    sheet = load_workbook(file).worksheets[0]
    assert {sheet[f"D{row}"].value for row in (2, 3, 4)} == {
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:30:00+01:00",
        datetime(2026, 10, 25, 4, 30),  # once only: a date cell
    }
    code, out, err = call(capsys, "import", "appointments", file, *where)
    assert (code, err) == (0, ""), err
    assert out.endswith("added 0, updated 0, unchanged 3.\n")
    assert call(capsys, "export", "appointments", *where)[1] == before


def test_a_text_longer_than_a_workbook_cell_holds_is_refused_not_cut(
    clinic: StoredClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cell holds 32,767 characters: a longer note, cut to fit, would come back cut
    when the workbook is imported again, and the client's note would be lost. A text that
    fills the cell is refused too, as import takes such a cell for one a spreadsheet cut."""
    clinic.add_client("Анна")
    clinic.add_client("Борис", notes="Ж" * 32_765)  # the most a workbook export writes
    file = tmp_path / "clients.xlsx"
    assert call(capsys, "export", "clients", "--db", clinic.location, "-o", file)[0] == 0
    emoji = clinic.add_client("Эмодзи", notes="😀" * 16_383)  # two characters each for Excel
    code, out, err = call(capsys, "export", "clients", "--db", clinic.location, "-o", file)
    assert (code, out) == (2, "")
    assert "Row 4 of the workbook, column notes: the text is too long for a cell" in err
    with write(clinic.conn):
        clinic.conn.execute("DELETE FROM clients WHERE id = ?", (emoji,))
    long = clinic.add_client("Вера", notes="Ж" * 30_000 + "\x1b" * 400)  # _x001B_: 7 each
    # The real command: Python reports a half-written workbook stream only as it exits.
    done = subprocess.run(
        [*ringround_argv(), "export", "clients", "--db", clinic.location, "-o", str(file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "ringround: Row 4 of the workbook, column notes: the text is too long for a cell "
        "(32,765 characters at most); export it as CSV instead (-o FILE.csv).\n"
    )
    earlier = load_workbook(file).worksheets[0]  # the earlier file stays as it was
    assert earlier["H3"].value == "Ж" * 32_765
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("clinic")) == [
        "clients.xlsx"
    ]
    as_csv = tmp_path / "clients.csv"
    assert call(capsys, "export", "clients", "--db", clinic.location, "-o", as_csv)[0] == 0
    assert call(capsys, "import", "clients", as_csv, "--db", clinic.location)[1].endswith(
        "added 0, updated 0, unchanged 3.\n"
    )
    [(notes,)] = clinic.conn.execute("SELECT notes FROM clients WHERE id = ?", (long,)).fetchall()
    assert notes == "Ж" * 30_000 + "\x1b" * 400


def test_a_cell_a_spreadsheet_filled_to_its_limit_is_refused_as_cut(
    clinic: StoredClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Excel and Calc cut a longer text (a note pasted from a CSV file) to the 32,767
    characters a cell holds, counting a character outside the BMP (an emoji) as two: such a
    cell would replace the client's note with its beginning."""
    ids = [clinic.add_client(name, notes="short") for name in ("Анна", "Борис", "Вера")]
    rows: list[list[object]] = [
        ["id", "notes"],
        [ids[0], "Ж" * 32_767],
        [ids[1], "😀" * 16_383],  # 32,766 for Excel: one more emoji would not fit
        [ids[2], "Ж" * 32_765],
    ]
    file = handmade(tmp_path / "clients.xlsx", rows)
    code, out, err = call(capsys, "import", "clients", file, "--db", clinic.location)
    assert (code, out) == (2, "")
    problem = (
        "column notes: fills the cell (32,767 characters in a spreadsheet), so the spreadsheet "
        "program has most likely cut the text short; import the CSV file it came from instead."
    )
    assert err.splitlines()[1:] == [f"  line 2, {problem}", f"  line 3, {problem}"], err
    assert clinic.conn.execute("SELECT DISTINCT notes FROM clients").fetchall() == [("short",)]


def test_an_empty_first_sheet_before_the_list_is_named(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Import reads the first sheet; a workbook whose first sheet is empty (a notes sheet the
    admin added in front) said "the first line must name the columns", of no sheet named."""
    book = Workbook()
    notes = book.active
    assert notes is not None
    notes.title = "Заметки"
    book.create_sheet("Клиенты").append(["name"])
    book.save(tmp_path / "c.xlsx")
    code, out, err = call(capsys, "import", "clients", tmp_path / "c.xlsx", "--db", db_path)
    assert (code, out) == (2, "")
    assert err.splitlines()[1:] == [
        '  line 1: the workbook cannot be read (its first sheet, "Заметки", is empty; import '
        "reads the first sheet, so move the sheet with the list to the front)."
    ], err
