"""Reading a file the admin gives us into records: CSV text or an Excel workbook.

A CSV file is UTF-8 text, with or without a byte-order mark, or UTF-16 text
with one (what Excel saves as "Unicode Text", tab-separated: Excel 2010 has no
"CSV UTF-8"); other encodings are refused with the line of the first bad
byte, and so is a header line holding a NUL (UTF-16 without a byte-order
mark, or a file that is no text). Its separator is the one the header line
uses most (``,`` ``;`` or a tab). Quoting is RFC 4180's; fields
come back as written before export neutralised them (storage/cells.py).

A workbook (.xlsx) is read by storage/imports/workbooks.py; an old Excel file
(.xls) and an OpenDocument spreadsheet (.ods) are refused with a sentence
saying how to save them instead.
"""

from __future__ import annotations

import csv
import io
import os
import stat
from collections.abc import Iterator
from contextlib import suppress
from typing import BinaryIO

from storage.cells import restored
from storage.database import SQLITE_HEADER
from storage.errors import BadInput
from storage.i18n import _, whole_number
from storage.imports.problems import Problem
from storage.imports.workbooks import (
    BadCell,
    UnreadableWorkbook,
    is_old_excel,
    is_open_document,
    is_workbook,
    unpacked_size,
    workbook_records,
)

# The largest file an import takes (README, "At most 200 MB a file"): about two million
# rows of clients, more than a big chain's list. A file is checked whole before anything
# is saved, which takes about 17 times its size in memory (3.5 GB at the limit).
MAX_FILE_BYTES = 200_000_000
# The most a workbook (a ZIP archive) may unpack to: its rows' XML is about four and a
# half times their CSV, so as many rows as MAX_FILE_BYTES of CSV.
MAX_UNPACKED_BYTES = 1_000_000_000
# openpyxl holds some parts of a workbook (the shared strings) in memory whole: a "zip
# bomb" of 200 KB that unpacks to 200 MB took 450 MB. A spreadsheet's own workbooks unpack
# to a few times their size, so one unpacking to more than MAX_UNPACK_RATIO times (once
# past SMALL_UNPACKED) is damaged or hostile. The sizes an archive lists bound what
# Python's zipfile unpacks.
MAX_UNPACK_RATIO = 100
SMALL_UNPACKED = 50_000_000


UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")
"""How UTF-16 text with a byte-order mark begins (little-endian, big-endian)."""


class Unreadable(Exception):
    """The file cannot be read at all; ``problems`` say why."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        self.problems = problems


class Broken(Exception):
    """The file cannot be read on from ``line``; ``problem`` says why."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(problem)
        self.line = line
        self.problem = problem


def too_big(source: str) -> BadInput:
    return BadInput(
        _(
            "{file} is larger than {limit} MB, the most ringround imports at once; split it "
            "into smaller files."
        ).format(file=source, limit=whole_number(MAX_FILE_BYTES // 1_000_000))
    )


def read_import_file(handle: BinaryIO, source: str) -> bytes:
    """The bytes of a file given to import, or BadInput when it is more than an import takes.

    A file whose size is known (a regular file, also as standard input) is
    refused by its size before a byte is read; a pipe is read up to the limit
    and refused there. A workbook is refused when it would unpack to more than
    MAX_UNPACKED_BYTES, or to more than MAX_UNPACK_RATIO times its size, from the
    sizes its archive lists, before a row is read.
    """
    with suppress(OSError, ValueError):  # a stream without a descriptor tells no size
        found = os.fstat(handle.fileno())
        if stat.S_ISREG(found.st_mode) and found.st_size > MAX_FILE_BYTES:
            raise too_big(source)
    data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise too_big(source)
    unpacked = unpacked_size(data) if is_workbook(data) else 0
    if unpacked > MAX_UNPACKED_BYTES:
        raise BadInput(
            _(
                "{file} is a workbook that unpacks to more than {limit} MB, the most ringround "
                "imports at once; split it into smaller files."
            ).format(file=source, limit=whole_number(MAX_UNPACKED_BYTES // 1_000_000))
        )
    if unpacked > max(SMALL_UNPACKED, MAX_UNPACK_RATIO * len(data)):
        raise BadInput(
            _(
                "{file} is a workbook that unpacks to {size} MB, more than {ratio} times its "
                "size, which only a damaged or hostile file does; save it again from the "
                "spreadsheet program."
            ).format(file=source, size=whole_number(unpacked // 1_000_000), ratio=MAX_UNPACK_RATIO)
        )
    return data


def _decode(data: bytes) -> str:
    """The file's text without a byte-order mark; Unreadable when it is not text we read."""
    if data.startswith(UTF16_MARKS):  # Excel's "Unicode Text": the codec drops the mark
        encoding = "utf-16"
    else:
        encoding = "utf-8"
        data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        before = data[: error.start].decode(encoding, errors="replace")
        raise Unreadable(
            [
                Problem(
                    before.count("\n") + 1,
                    "",
                    _(
                        "the file is not UTF-8 text (byte 0x{byte:02x}); save it from the "
                        'spreadsheet as "CSV UTF-8", as "Unicode Text" or as an Excel workbook '
                        "(.xlsx)"
                    ).format(byte=data[error.start]),
                )
            ]
        ) from None


def _sniff(text: str) -> str:
    """The separator the header line uses most: ``,`` (on a tie or none), ``;`` or a tab.

    A header of one column has none: then the line after it tells, so that a row
    ``Анна;89161230002`` is two fields (one too many), not one name with a phone in it.
    """
    counts = {",": 0, ";": 0, "\t": 0}
    quoted = False
    lines = 0
    previous = ""
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "\r\n" and not (ch == "\n" and previous == "\r"):
            lines += 1  # a line ends: CR LF, LF or CR
            if lines == 2 or any(counts.values()):
                break
        elif not quoted and ch in counts:
            counts[ch] += 1
        previous = ch
    best = max(counts.values())
    return next(sep for sep, n in counts.items() if n == best)


Record = tuple[int, list[str], list[BadCell]]
"""(line where the record starts, its fields, cells that hold no value to import)."""


def _records(text: str, delimiter: str) -> Iterator[Record]:
    """The records of a CSV text; csv.Error leaves as Broken at that line.

    Fields come back as written before export neutralised them (storage/cells.py).
    """
    # No field is longer than the text, which is in memory already; Python's limit
    # (131,072 characters) would refuse a long note that an export wrote.
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    while True:
        line = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise Broken(line, _broken(error)) from None
        yield line, [restored(field) for field in record], []


def _broken(error: csv.Error) -> str:
    """What the csv module's ``error`` means for the file, in the admin's words where known
    (its messages are English and name no fix)."""
    if str(error) == "unexpected end of data":
        return _('a field that opens with a quote (") is never closed, so the file ends inside it')
    if "expected after" in str(error):
        return _(
            'a quote (") inside a field in quotes must be written twice (""), and a closing '
            "quote must end the field"
        )
    return _("broken CSV ({reason})").format(reason=error)


def _csv_file(data: bytes) -> tuple[Iterator[Record], int]:
    """The records of a CSV file, and its number of lines; Unreadable when it is not text."""
    text = _decode(data)
    if not text.strip():
        raise Unreadable(
            [Problem(1, "", _("the file is empty; it needs a header row naming the columns"))]
        )
    # A NUL in the header line: UTF-16 without a byte-order mark, or no text at all. A NUL
    # in a field is data that an export wrote (SQLite keeps one a workbook brought); a
    # database that cannot store it says so for that cell (storage/imports/checking.py).
    if "\x00" in text.partition("\n")[0]:
        raise Unreadable(
            [Problem(1, "", _("the file holds a NUL character; it is not a CSV text file"))]
        )
    return _records(text, _sniff(text)), text.count("\n") + 1


def _workbook_records(data: bytes) -> Iterator[Record]:
    """The rows of a workbook's first sheet (storage/imports/workbooks.py), header first."""
    line = 1
    try:
        for line, texts, bad in workbook_records(data):
            while (
                texts and not texts[-1] and not any(cell.column == len(texts) - 1 for cell in bad)
            ):
                texts.pop()  # formatted but empty cells at the end of the row
            yield line, texts, bad
    except UnreadableWorkbook as error:
        raise Broken(
            line, _("the workbook cannot be read ({reason})").format(reason=error)
        ) from None


def file_records(data: bytes) -> tuple[Iterator[Record], int]:
    """The records of a CSV file or an Excel workbook, and about how many lines it has."""
    if data.startswith(SQLITE_HEADER):  # "import clients clinic.db": the arguments mixed up
        raise Unreadable(
            [
                Problem(
                    1,
                    "",
                    _(
                        "the file is an SQLite database, not a CSV file or a workbook: give "
                        "the file to import after KIND, and the database with --db"
                    ),
                )
            ]
        )
    if is_old_excel(data):
        raise Unreadable(
            [
                Problem(
                    1,
                    "",
                    _(
                        "the file is an old Excel workbook (.xls); save it "
                        'as an Excel workbook (.xlsx) or as "CSV UTF-8"'
                    ),
                )
            ]
        )
    if is_open_document(data):
        raise Unreadable(
            [
                Problem(
                    1,
                    "",
                    _(
                        "the file is an OpenDocument spreadsheet (.ods, LibreOffice's own "
                        'format); save it as an Excel workbook (.xlsx) or as "CSV UTF-8"'
                    ),
                )
            ]
        )
    if is_workbook(data):
        return _workbook_records(data), max(1, len(data) // 50)  # the progress bar's guess
    return _csv_file(data)
