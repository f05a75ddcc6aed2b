"""Excel workbooks (.xlsx) written by ``export KIND -o FILE.xlsx``.

A workbook has no encoding to get wrong and no separator to guess, so it is
what a clinic's administrator should open in Excel or LibreOffice Calc;
``import KIND FILE.xlsx`` reads it back (storage/imports/workbooks.py).

One sheet named after the kind, the same columns as the CSV export:

- Names, phones, ids, notes and every other value are text cells (number
  format ``@``), never formulas and never numbers: ``=1+1`` stays those four
  characters, ``+7 916…`` keeps its plus and ``000123`` its zeros.
- Times are date cells in the clinic's time zone, without a zone (spreadsheets
  have none), shown ``yyyy-mm-dd hh:mm:ss``; ``birth_date`` is a date cell. A
  time in the hour that comes twice when the clocks go back is a text cell
  with its offset instead (``2026-10-25T02:30:00+01:00``), so that it comes
  back as that moment, not as the other one (storage/cells.py).
- The header row is bold and frozen; columns get widths that fit their usual
  content.
- A text that starts with an apostrophe followed by what CSV export marks
  (``=``, ``+``, ``-``, ``@``, a tab, a carriage return, another apostrophe, a
  text read as a value such as ``0012``) gets one more apostrophe
  (storage/cells.py), as reading removes one from such a text.
- Characters XML cannot hold (control characters; a carriage return would
  become a line feed) are written as the format's own ``_xHHHH_`` escapes, and
  a ``_x`` that looks like one as ``_x005F_x…``, as Excel does
  (storage/cells.py); reading undoes both, so every text comes back exactly.
- A text longer than a cell holds (32,767 characters, escapes included, an
  emoji counting two) is refused with its row and column rather than cut
  short, and so is one that fills the cell, which import takes for a text a
  spreadsheet cut (storage/cells.py): 32,765 is the most; CSV has no limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import suppress
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from zipfile import ZIP_DEFLATED, ZipFile
from zoneinfo import ZoneInfo

from storage.cells import CELL_LIMIT, clock_readings, fills_a_cell, ooxml_text, text_cell
from storage.errors import BadInput
from storage.i18n import _, whole_number

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell

TIME_COLUMNS = frozenset(
    {
        "starts_at",
        "due_at",
        "done_at",
        "started_at",
        "ended_at",
        "callback_at",
        "since",
        "at",
        "processed_at",
    }
)
DATE_COLUMNS = frozenset({"birth_date"})
TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
DATE_FORMAT = "yyyy-mm-dd"
TEXT_FORMAT = "@"
WIDTHS = {  # in characters; other columns get DEFAULT_WIDTH
    "id": 8,
    "client_id": 10,
    "row": 16,
    "session": 9,
    "do_not_call": 12,
    "alive": 7,
    "name": 34,
    "client": 34,
    "phones": 30,
    "number": 18,
    "email": 26,
    "notes": 40,
    "note": 40,
    "comment": 40,
    "title": 30,
    "detail": 50,
    "doctor": 24,
    "service": 24,
    "list": 26,
    "operator": 14,
    "outcome": 16,
    "status": 14,
    "kind": 12,
    "event": 14,
    "mode": 9,
    "state": 11,
    "external_id": 14,
    "client_external_id": 18,
    **dict.fromkeys(TIME_COLUMNS, 20),
    **dict.fromkeys(DATE_COLUMNS, 12),
}
DEFAULT_WIDTH = 16


def _too_long(line: int, column: str) -> BadInput:
    return BadInput(
        _(
            "Row {line} of the workbook, column {column}: the text is too long for a cell "
            "({limit} characters at most); export it as CSV instead (-o FILE.csv)."
        ).format(line=line, column=column, limit=whole_number(CELL_LIMIT - 2))
    )


def _typed(column: str, text: str, zone: ZoneInfo) -> datetime | str | None:
    """A CSV export field as the value of its cell (a date: midnight of that day)."""
    if not text:
        return None
    if column in TIME_COLUMNS:
        reading = datetime.fromisoformat(text).astimezone(zone).replace(tzinfo=None)
        if clock_readings(reading, zone) != 1:  # the hour the clocks go back comes twice
            return text  # with its offset, which says which (import reads it so)
        return reading
    if column in DATE_COLUMNS:
        return datetime.combine(date.fromisoformat(text), time(0))
    return ooxml_text(text_cell(text))


def write_workbook(
    out: str | Path | BinaryIO,
    kind: str,
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    zone: ZoneInfo,
) -> int:
    """Write the rows of one export kind as a workbook (see the module text); returns rows.

    ``rows`` are the text fields of the CSV export (storage.export.export_rows):
    ISO times with the clinic's offset, ``YYYY-MM-DD`` dates, everything else text.
    """
    # openpyxl is imported when a workbook is written or read, not by every import.
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.writer.excel import ExcelWriter

    book = Workbook(write_only=True)
    sheet = book.create_sheet(kind)
    sheet.freeze_panes = "A2"
    for number, column in enumerate(header, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = WIDTHS.get(column, DEFAULT_WIDTH)
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
    try:
        for row in rows:
            values = [_typed(column, text, zone) for column, text in zip(header, row, strict=True)]
            for column, value in zip(header, values, strict=True):
                if isinstance(value, str) and fills_a_cell(value):
                    raise _too_long(count + 2, column)
            sheet.append(
                [cell(column, value) for column, value in zip(header, values, strict=True)]
            )
            count += 1
        sheet.close()  # here, not in the save below, where a full disk would leave it open
    except BaseException:
        # openpyxl streams the rows to a file of its own: end that stream now, or Python
        # ends it when it collects the sheet, after the file closed, and prints
        # "Exception ignored in: <generator ...>" with a traceback under our sentence.
        with suppress(Exception):
            sheet.close()
        raise
    book.properties.modified = datetime.now(tz=UTC).replace(tzinfo=None)
    # openpyxl's own save leaves its archive to the garbage collector when a write fails
    # (a full disk), which closes it again, fails again, and prints that on stderr.
    with ZipFile(out, "w", ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(book, archive).write_data()
    return count
