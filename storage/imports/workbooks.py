"""Reading an Excel workbook (.xlsx) given to ``import KIND FILE.xlsx``: its first sheet.

Only the first sheet is read (an empty one, with more sheets behind it, is
named). The first row names the columns, as in a CSV file (``export KIND -o FILE.xlsx``
writes such a workbook: storage/export_workbook.py).

- Text cells are taken as they are, except that an apostrophe before
  ``=``, ``+``, ``-``, ``@``, a tab, a carriage return, another apostrophe or
  a text a spreadsheet would read as a value (``0012``) is dropped: a CSV
  export opened in a spreadsheet program keeps the apostrophes that made such
  cells text, and saved as .xlsx it imports like the CSV file would
  (storage/cells.py); whole numbers become their digits (a phone or id the
  spreadsheet turned into a number; import's checks catch what was lost);
  date cells become ``2026-11-27 10:30:00`` (clinic time), or ``2026-11-27``
  when the cell shows a date only; yes/no cells ``1`` / ``0``.
- A text that fills its cell (32,767 characters, an emoji counting two) is
  refused with its row and column: Excel and Calc cut a longer text (a long
  note of a CSV file they opened) to that, and the cut text would replace the
  whole one (storage/cells.py).
- A formula or an error value (``#N/A``) is refused with its row and column:
  ringround imports values, and a formula's result is not stored in every
  file.
- A workbook that unpacks to too much is refused before it is read
  (storage/imports/files.py: read_import_file).
"""

from __future__ import annotations

import io
import json
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from storage.cells import CELL_LIMIT, fills_a_cell, plain_text, restored
from storage.i18n import _, whole_number

# openpyxl tells what it finds odd in a file (a date cell out of a date's range, an
# extension it drops) as Python warnings, which Python prints on the terminal with a
# source line; the reader names every cell it cannot import itself (BadCell).
warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl\.")

XLSX_MAGIC = b"PK\x03\x04"  # a ZIP archive, which an .xlsx file is
OLD_EXCEL_MAGIC = b"\xd0\xcf\x11\xe0"  # .xls (Excel 97-2003) and other OLE files
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"


@dataclass(frozen=True)
class BadCell:
    """A cell that holds no value to import: its column (from 0) and why."""

    column: int
    reason: str


class UnreadableWorkbook(Exception):
    """The file is not a workbook that can be read; the message says why."""


def is_workbook(data: bytes) -> bool:
    return data.startswith(XLSX_MAGIC)


def is_old_excel(data: bytes) -> bool:
    return data.startswith(OLD_EXCEL_MAGIC)


def is_open_document(data: bytes) -> bool:
    """An OpenDocument spreadsheet (.ods, Calc's own format): a ZIP archive too, whose
    first member is the file ``mimetype``, stored uncompressed, naming its kind."""
    first_member = data[30:38]  # after the 30 bytes of the ZIP's first local header
    return is_workbook(data) and first_member == b"mimetype" and ODS_MIMETYPE in data[:100]


def unpacked_size(data: bytes) -> int:
    """What the archive's files unpack to, in bytes, as its directory lists them (nothing is
    unpacked); 0 for an archive that cannot be read, which openpyxl then names."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return 0


def _cell_text(value: object, data_type: str, number_format: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        if value.microsecond >= 500_000:  # a serial number's rounding: the nearest second
            value += timedelta(seconds=1)
        value = value.replace(microsecond=0)
        if value.time() == time(0) and "h" not in number_format.lower():
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e18 else repr(value)
    return restored(plain_text(str(value)))


def _unreadable(error: Exception) -> UnreadableWorkbook:
    """``error`` of openpyxl or the ZIP library, in the admin's words where we know them."""
    if isinstance(error, zipfile.BadZipFile | zlib.error | EOFError):  # cut short, a part spoilt
        return UnreadableWorkbook(
            _(
                "the file is cut short or damaged; copy it again, or save it again from the "
                "spreadsheet program"
            )
        )
    from openpyxl.utils.exceptions import InvalidFileException

    # No part a workbook has (openpyxl says "File contains no valid workbook part" with an
    # OSError: the file is in memory, so no other OSError comes from reading it).
    if isinstance(error, KeyError | InvalidFileException | OSError):
        return UnreadableWorkbook(
            _(
                "it is a ZIP archive but not an Excel workbook; save the sheet as an Excel "
                'workbook (.xlsx) or as "CSV UTF-8"'
            )
        )
    return UnreadableWorkbook(str(error) or type(error).__name__)


def workbook_records(data: bytes) -> Iterator[tuple[int, list[str], list[BadCell]]]:
    """(row number, the cells as text, cells that cannot be imported) of the first sheet.

    The header row comes first. Raises UnreadableWorkbook for a file openpyxl
    cannot read (when opening it, or later while rows are read).
    """
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as error:  # openpyxl raises many kinds on a damaged or foreign ZIP file
        raise _unreadable(error) from None
    try:
        if not book.worksheets:
            raise UnreadableWorkbook(_("it has no sheet"))
        sheet = book.worksheets[0]
        try:
            number = 0
            for number, row in enumerate(sheet.iter_rows(), start=1):
                texts: list[str] = []
                bad: list[BadCell] = []
                for column, cell in enumerate(row):
                    if cell.data_type == "f":
                        bad.append(
                            BadCell(
                                column,
                                _(
                                    "is a formula ({formula}); ringround imports values, so paste "
                                    "the "
                                    "column as values first"
                                ).format(formula=cell.value),
                            )
                        )
                        texts.append("")
                    elif isinstance(cell.value, str) and fills_a_cell(cell.value):
                        bad.append(
                            BadCell(
                                column,
                                _(
                                    "fills the cell ({limit} characters in a spreadsheet), so "
                                    "the spreadsheet program has most likely cut the text "
                                    "short; import the CSV file it came from instead"
                                ).format(limit=whole_number(CELL_LIMIT)),
                            )
                        )
                        texts.append("")
                    elif cell.data_type == "e":
                        bad.append(
                            BadCell(
                                column, _("holds the error value {error}").format(error=cell.value)
                            )
                        )
                        texts.append("")
                    else:
                        texts.append(
                            _cell_text(
                                cell.value,
                                cell.data_type,
                                getattr(cell, "number_format", None) or "",
                            )
                        )
                yield number, texts, bad
            if number == 0 and len(book.worksheets) > 1:
                raise UnreadableWorkbook(
                    _(
                        "its first sheet, {sheet}, is empty; import reads the first sheet, so "
                        "move the sheet with the list to the front"
                    ).format(sheet=json.dumps(sheet.title, ensure_ascii=False))
                )
        except UnreadableWorkbook:
            raise
        except Exception as error:  # a damaged sheet inside a readable archive
            raise _unreadable(error) from None
    finally:
        book.close()
