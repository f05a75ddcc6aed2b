"""Cells that are safe in a spreadsheet and come back exactly (README, "Spreadsheets"; B8).

A spreadsheet program evaluates a cell that starts with ``=``, ``+``, ``-`` or
``@`` (and, after trimming, one that starts with a tab or carriage return):
a client named ``=HYPERLINK("http://x/","Open")`` becomes a live link, notes
``=1+1`` become ``2``, a phone ``+79161230002`` loses its ``+``. So every field
we write that starts with one of those characters gets an apostrophe put
before it, the usual guidance, and shows as text; so does one that starts so
after spaces (which a program may trim first) or with the full-width forms
``＝ ＋ － ＠`` (which Excel in East Asian languages may take for the plain
ones). To keep the change reversible, a field that already starts with an
apostrophe gets one more.

A spreadsheet program also turns a cell that looks like a value into that
value: a note ``0012`` becomes ``12``, a phone ``89161230002`` a number, ``1,5``
(in Russian) ``1.5``, ``01.02.2026`` or ``Jan 2`` a date, ``12:30`` a time,
``TRUE`` or ``ИСТИНА`` yes. A column of texts (``as_text``: a name, a phone, a
note, an external id) gets the apostrophe before such a field as well; a column
of values (ids, yes/no, dates, times, a report's counts) is left to become the
value it is.

Reading undoes exactly that: an apostrophe followed by a field that would have
been marked is dropped; any other apostrophe is data (``'Tis``). So export →
import → export gives the same bytes.

Fields holding the separator, a quote, a carriage return or a line feed are
quoted (RFC 4180). Python's csv module would leave a lone carriage return
unquoted when lines end with ``\\n``, which splits the record when it is read
back; this writer does not.

A workbook cell (.xlsx) holds at most CELL_LIMIT characters; a text that fills a
cell (:func:`fills_a_cell`) is refused both ways, as it may have been cut. It
cannot hold control characters; :func:`ooxml_text`
writes them as the format's own ``_xHHHH_`` escapes (and a ``_x`` that looks
like one as ``_x005F_x…``, as Excel does), and :func:`plain_text` reads both
back (storage/export_workbook.py writes workbooks, storage/imports/workbooks.py
reads them).

A time written without an offset is read on the clinic's clock, which may
change for summer time: such a reading then comes twice (the hour the clocks go
back) or never (the hour they skip). :func:`clock_readings` tells; a workbook
writes such a time as text with its offset, and import refuses a reading that
does not say which.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Sequence
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

EVALUATED = frozenset("=+-@\t\r")
"""First characters that make a spreadsheet program read a cell as a formula or a number."""
MARK = "'"
_FORMULA_AFTER_SPACES = frozenset("=+-@＝＋－＠")
_MONTH = (
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
    r"|янв|фев|мар|апр|ма[йя]|июн|июл|авг|сен|окт|ноя|дек)[^\W\d_]*\.?"
)
_READ_AS_VALUE = re.compile(
    # Yes/no, as English and Russian spreadsheets write it.
    r"true|false|истина|ложь"
    # Numbers, money, percentages, fractions, and dates and times written in digits
    # (``1 234,5``, ``(5)``, ``$5``, ``50%``, ``1/2``, ``1-2``, ``01.02.2026 10:30 PM``).
    r"|[(+\-.,$€£¥₽]*\d(?:[\d\s.,:/()%+\-$€£¥₽]|e(?=[+\-]?\d))*(?:[ap]\.?m\.?)?"
    # Dates with a month's name: ``Jan 2``, ``2-Jan``, ``2 March 2026``, ``1 янв``.
    rf"|(?:\d{{1,2}}[\s\-/.]*{_MONTH}|{_MONTH}[\s\-/.]*\d{{1,2}})(?:[\s\-/.,]*\d{{2,4}})?",
    re.IGNORECASE,
)
_NEEDS_QUOTES = re.compile('[,"\r\n]')
CELL_LIMIT = 32_767
"""The most characters a workbook cell holds (Excel's and Calc's limit, counted by
:func:`cell_length`): a longer text is cut to fit when a spreadsheet program opens it."""

_ESCAPE_LIKE = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)")
_NOT_IN_XML = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]")
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")


def cell_length(text: str) -> int:
    """The length of ``text`` as a spreadsheet counts it: a character outside the Basic
    Multilingual Plane (an emoji) is two (UTF-16)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def fills_a_cell(text: str) -> bool:
    """Whether ``text`` fills a workbook cell: as long as a spreadsheet program cuts a longer
    text to (within one, where the next character is two), so it may have been cut."""
    return cell_length(text) >= CELL_LIMIT - 1


def ooxml_text(text: str) -> str:
    """``text`` with what a cell cannot hold as the format's ``_xHHHH_`` escapes."""
    text = _ESCAPE_LIKE.sub("_x005F_", text)
    return _NOT_IN_XML.sub(lambda match: f"_x{ord(match.group(0)):04X}_", text)


def plain_text(text: str) -> str:
    """The text that :func:`ooxml_text` (or Excel) escaped."""
    return _ESCAPED.sub(lambda match: chr(int(match.group(1), 16)), text)


def _evaluated(text: str) -> bool:
    """Whether a spreadsheet program may read ``text`` as a formula (or it starts with MARK)."""
    if not text:
        return False
    return text[0] in EVALUATED or text[0] == MARK or text.lstrip()[:1] in _FORMULA_AFTER_SPACES


def _read_as_value(text: str) -> bool:
    """Whether a spreadsheet program may read ``text`` as a number, date, time or yes/no."""
    return _READ_AS_VALUE.fullmatch(text.strip()) is not None


def neutralised(text: str, *, as_text: bool = False) -> str:
    """``text`` as a cell that no spreadsheet evaluates, nor (``as_text``) reads as a value."""
    if _evaluated(text) or (as_text and _read_as_value(text)):
        return MARK + text
    return text


def restored(text: str) -> str:
    """The text that :func:`neutralised` turned into ``text`` (in a column of either kind)."""
    rest = text[1:]
    if text[:1] == MARK and (_evaluated(rest) or _read_as_value(rest)):
        return rest
    return text


def text_cell(text: str) -> str:
    """``text`` for a cell that is text by its type (a workbook's), read back by :func:`restored`.

    Such a cell needs no apostrophe, so it gets one only where reading would
    otherwise drop one (``'=x`` is written ``''=x``). Reading workbooks with
    :func:`restored` as well lets a CSV export that a spreadsheet program opened
    (keeping the apostrophes as text) and saved as .xlsx come back exactly.
    """
    return MARK + text if restored(text) != text else text


def csv_line(fields: Iterable[str], texts: Container[int] = ()) -> str:
    """One CSV record, neutralised and quoted where needed, ending in ``\\n``.

    ``texts``: the positions of the fields in columns of texts (see :func:`neutralised`).
    """
    cells = []
    for position, field in enumerate(fields):
        cell = neutralised(field, as_text=position in texts)
        if _NEEDS_QUOTES.search(cell):
            cell = '"' + cell.replace('"', '""') + '"'
        cells.append(cell)
    return ",".join(cells) + "\n"


class Writer(Protocol):
    """Where CSV text goes: a text file, standard output, or what shows it on a terminal."""

    def write(self, text: str, /) -> int: ...


def write_csv(
    out: Writer,
    header: Sequence[str],
    rows: Iterable[Iterable[str]],
    *,
    bom: bool = False,
    texts: Container[str] = (),
) -> int:
    """Write a header and rows as safe CSV (see the module text); returns the number of rows.

    ``texts``: the columns of texts, whose fields must come back as written.
    """
    if bom:
        out.write("\ufeff")
    out.write(csv_line(header))
    positions = frozenset(n for n, column in enumerate(header) if column in texts)
    count = 0
    for row in rows:
        out.write(csv_line(row, positions))
        count += 1
    return count


def clock_readings(reading: datetime, zone: ZoneInfo) -> int:
    """How many moments the clock of ``zone`` shows the naive time ``reading`` at: 1; 2 in
    the hour the clocks go back; 0 in the hour they skip going forward (PEP 495's fold)."""
    first = reading.replace(tzinfo=zone, fold=0)
    if first.utcoffset() == reading.replace(tzinfo=zone, fold=1).utcoffset():
        return 1
    shown = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    return 2 if shown == reading else 0
