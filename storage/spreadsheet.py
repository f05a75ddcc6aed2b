"""Excel workbooks (.xlsx) both ways: ``export KIND -o FILE.xlsx`` and ``import KIND FILE.xlsx``.

A workbook has no encoding to get wrong and no separator to guess, so it is
what a clinic's administrator should open in Excel or LibreOffice Calc.

Writing (one sheet named after the kind, the same columns as the CSV export):

- Names, phones, ids, notes and every other value are text cells (number
  format ``@``), never formulas and never numbers: ``=1+1`` stays those four
  characters, ``+7 916…`` keeps its plus and ``000123`` its zeros.
- Times are date cells in the clinic's time zone, without a zone (spreadsheets
  have none), shown ``yyyy-mm-dd hh:mm:ss``; ``birth_date`` is a date cell.
- The header row is bold and frozen; columns get widths that fit their usual
  content.
- A text that starts with an apostrophe followed by ``=``, ``+``, ``-``,
  ``@``, a tab, a carriage return or another apostrophe gets one more
  apostrophe (storage/cells.py), as reading removes one from such a text.
- Characters XML cannot hold (control characters; a carriage return would
  become a line feed) are written as the format's own ``_xHHHH_`` escapes, and
  a ``_x`` that looks like one as ``_x005F_x…``, as Excel does; reading undoes
  both, so every text comes back exactly.

Reading (the first sheet; its first row names the columns, as in a CSV file):

- Text cells are taken as they are, except that an apostrophe before
  ``=``, ``+``, ``-``, ``@``, a tab, a carriage return or another apostrophe
  is dropped: a CSV export opened in a spreadsheet program keeps the
  apostrophes that made such cells text, and saved as .xlsx it imports like
  the CSV file would (storage/cells.py); whole numbers become their digits (a phone or id the
  spreadsheet turned into a number; import's checks catch what was lost);
  date cells become ``2026-11-27 10:30:00`` (clinic time), or ``2026-11-27``
  when the cell shows a date only; yes/no cells ``1`` / ``0``.
- A formula or an error value (``#N/A``) is refused with its row and column:
  ringround imports values, and a formula's result is not stored in every
  file.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from zoneinfo import ZoneInfo

from storage.cells import restored, text_cell
from storage.i18n import _

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell

XLSX_MAGIC = b"PK\x03\x04"  # a ZIP archive, which an .xlsx file is
OLD_EXCEL_MAGIC = b"\xd0\xcf\x11\xe0"  # .xls (Excel 97-2003) and other OLE files
TIME_COLUMNS = frozenset({"starts_at", "due_at", "done_at", "started_at", "ended_at",
                          "callback_at", "since", "at", "processed_at"})
DATE_COLUMNS = frozenset({"birth_date"})
TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
DATE_FORMAT = "yyyy-mm-dd"
TEXT_FORMAT = "@"
WIDTHS = {  # in characters; other columns get DEFAULT_WIDTH
    "id": 8, "client_id": 10, "row": 16, "session": 9, "do_not_call": 12, "alive": 7,
    "name": 34, "client": 34, "phones": 30, "number": 18, "email": 26, "notes": 40,
    "note": 40, "comment": 40, "title": 30, "detail": 50, "doctor": 24, "service": 24,
    "list": 26, "operator": 14, "outcome": 16, "status": 14, "kind": 12, "event": 14,
    "mode": 9, "state": 11, "external_id": 14, "client_external_id": 18,
    **dict.fromkeys(TIME_COLUMNS, 20), **dict.fromkeys(DATE_COLUMNS, 12),
}
DEFAULT_WIDTH = 16

_ESCAPE_LIKE = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)")
_NOT_IN_XML = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]")
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")


def ooxml_text(text: str) -> str:
    """``text`` with what a cell cannot hold as the format's ``_xHHHH_`` escapes."""
    text = _ESCAPE_LIKE.sub("_x005F_", text)
    return _NOT_IN_XML.sub(lambda match: f"_x{ord(match.group(0)):04X}_", text)


def plain_text(text: str) -> str:
    """The text that :func:`ooxml_text` (or Excel) escaped."""
    return _ESCAPED.sub(lambda match: chr(int(match.group(1), 16)), text)


# -- writing ------------------------------------------------------------------------------------

def _typed(column: str, text: str, zone: ZoneInfo) -> datetime | str | None:
    """A CSV export field as the value of its cell (a date: midnight of that day)."""
    if not text:
        return None
    if column in TIME_COLUMNS:
        return datetime.fromisoformat(text).astimezone(zone).replace(tzinfo=None)
    if column in DATE_COLUMNS:
        return datetime.combine(date.fromisoformat(text), time(0))
    return ooxml_text(text_cell(text))


def write_workbook(out: str | Path | BinaryIO, kind: str, header: Sequence[str],
                   rows: Iterable[Sequence[str]], zone: ZoneInfo) -> int:
    """Write the rows of one export kind as a workbook (see the module text); returns rows.

    ``rows`` are the text fields of the CSV export (storage.export.export_rows):
    ISO times with the clinic's offset, ``YYYY-MM-DD`` dates, everything else text.
    """
    # openpyxl is imported when a workbook is written or read, not by every import.
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet(kind)
    sheet.freeze_panes = "A2"
    for number, column in enumerate(header, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = WIDTHS.get(column,
                                                                               DEFAULT_WIDTH)
    bold = Font(bold=True)

    def cell(column: str, value: datetime | str | None, *, head: bool = False) -> Cell:
        made = WriteOnlyCell(sheet, value=value)
        if isinstance(value, datetime):
            made.number_format = DATE_FORMAT if column in DATE_COLUMNS else TIME_FORMAT
        else:
            made.data_type = "s"  # openpyxl would make "=..." a formula
            made.number_format = TEXT_FORMAT
        if head:
            made.font = bold
        return made

    sheet.append([cell(column, column, head=True) for column in header])
    count = 0
    for row in rows:
        sheet.append([cell(column, _typed(column, text, zone))
                      for column, text in zip(header, row, strict=True)])
        count += 1
    book.save(out)
    return count


# -- reading ------------------------------------------------------------------------------------

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


def workbook_records(data: bytes) -> Iterator[tuple[int, list[str], list[BadCell]]]:
    """(row number, the cells as text, cells that cannot be imported) of the first sheet.

    The header row comes first. Raises UnreadableWorkbook for a file openpyxl
    cannot read (when opening it, or later while rows are read).
    """
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as error:  # openpyxl raises many kinds on a damaged or foreign ZIP file
        raise UnreadableWorkbook(str(error) or type(error).__name__) from None
    try:
        if not book.worksheets:
            raise UnreadableWorkbook(_("it has no sheet"))
        sheet = book.worksheets[0]
        try:
            for number, row in enumerate(sheet.iter_rows(), start=1):
                texts: list[str] = []
                bad: list[BadCell] = []
                for column, cell in enumerate(row):
                    if cell.data_type == "f":
                        bad.append(BadCell(column, _(
                            "is a formula ({formula}); ringround imports values, so paste the "
                            "column as values first").format(formula=cell.value)))
                        texts.append("")
                    elif cell.data_type == "e":
                        bad.append(BadCell(column, _("holds the error value {error}").format(
                            error=cell.value)))
                        texts.append("")
                    else:
                        texts.append(_cell_text(cell.value, cell.data_type,
                                                getattr(cell, "number_format", None) or ""))
                yield number, texts, bad
        except UnreadableWorkbook:
            raise
        except Exception as error:  # a damaged sheet inside a readable archive
            raise UnreadableWorkbook(str(error) or type(error).__name__) from None
    finally:
        book.close()
