"""CSV import of clients, appointments, tasks and call lists (``ringround import KIND FILE``).

The file
--------
- UTF-8 text, with or without a byte-order mark (Excel's "CSV UTF-8" writes
  one). Other encodings are refused with the line of the first bad byte.
- One header row naming the columns, in any order; names are matched without
  regard to case, surrounding spaces, or ``-``/space instead of ``_``. An
  unknown or repeated column is an error (usually a typo).
- Fields separated by commas, semicolons (what spreadsheet programs in Russia
  write) or tabs: the separator is the one the header line uses most.
  Quoting as in RFC 4180; fields may hold separators and line breaks in quotes.
- An apostrophe before ``=``, ``+``, ``-``, ``@``, a tab, a carriage return or
  another apostrophe at the start of a field is dropped: export puts it there
  so that spreadsheet programs show such fields as text (storage/cells.py).
- Empty lines, and lines whose fields are all empty, are skipped.
- Whatever ``ringround export KIND`` writes, ``import KIND`` reads back, and
  importing an export of the same database changes nothing.

Values
------
- Times: ISO 8601 with an offset (``2026-11-27T10:30:00+03:00``, as exported)
  or without one (``2026-11-27 10:30``, ``2026-11-27T10:30:15``), or
  ``27.11.2026 10:30``; a time without an offset is in the clinic's time zone
  (policy ``timezone``). Where a date alone is allowed it means 00:00.
- Dates: ``2026-11-27`` or ``27.11.2026``.
- Yes/no: ``1``/``0``, ``yes``/``no``, ``true``/``false``, ``y``/``n``,
  ``да``/``нет``; empty is no.
- Phone numbers: separated by ``;`` (in quotes in a ``;``-separated file), the
  main number first; each must hold at least one digit. They are stored as
  written; the digits they are compared by (shared numbers) are brought to
  international form with the policy's ``[phones]`` rules (storage.phones).
- Texts (names, notes, ...) are taken exactly as written; ids, codes and keys
  have surrounding spaces removed.

Updating rather than duplicating
--------------------------------
A row is matched to a record of the database by ``id`` (ringround's own id,
as exported; it must exist) or else by ``external_id`` (the id in the
clinic's own system); a row matching nothing adds a record. A row whose
``id`` and ``external_id`` name different records, or whose ``id`` names a
record with another external id, is refused (a file exported from another
database, most likely). A column present
in the file is written on matched records; a column left out keeps what the
database has. Rows of the database missing from the file are left alone.

An import never undoes the result of a call: ``do_not_call`` is set but
never cleared, an empty ``done_at`` / ``processed_at`` keeps a done task or a
processed call-list item as it is, and an open confirmation status
(``unconfirmed``, ``left message``) does not replace a closed one
(``confirmed``, ``cancelled``) unless the appointment moves to another time.
These are counted as "kept" in the summary.

Columns
-------
clients (``import clients``):

| column | required | meaning |
|---|---|---|
| id | | ringround's client id, to update that client |
| external_id | | the client's id in the clinic's system (unique); matches on re-import |
| name | for new clients | full name |
| phones | | numbers separated by ``;``, main first; empty: no numbers |
| do_not_call | | yes/no; an import sets it but never clears it |
| birth_date | | date; empty: unknown |
| email | | |
| notes | | |

appointments (``import appointments``):

| column | required | meaning |
|---|---|---|
| id | | ringround's appointment id, to update it |
| external_id | | the appointment's id in the clinic's system |
| client_id | one of these two for new appointments | ringround's client id |
| client_external_id | | the client's external_id |
| client | | the client's name: ignored (exports write it for people) |
| starts_at | for new appointments | time |
| doctor | | |
| service | | |
| status | | a confirmation status of the policy; empty: unchanged (new: the first open status) |

tasks (``import tasks``):

| column | required | meaning |
|---|---|---|
| id | | ringround's task id, to update it |
| external_id | | the task's id in the clinic's system |
| client_id | one of these two for new tasks | ringround's client id |
| client_external_id | | the client's external_id |
| client | | ignored |
| kind | for new tasks | e.g. recall, reminder, follow-up (policy ``[tasks] callable``) |
| title | | |
| due_at | for new tasks | time, or a date (00:00) |
| done_at | | time or date the task was done; empty: open (a done task stays done) |

call-list (``import call-list --name NAME``): one row per client to call. The
list is made if there is none of that name; a client already on it is
updated, not added twice. Needs the supervisor role.

| column | required | meaning |
|---|---|---|
| list | without ``--name`` | the call list's name (``--name`` wins over it) |
| client_id (or id) | one of these two | ringround's client id |
| client_external_id (or external_id) | | the client's external_id |
| note | | what the call is about, shown in the row |
| processed_at | | time the item was processed; empty: pending (a processed item stays processed) |
| client, name, phones, state, do_not_call, birth_date, email, notes | | ignored |

The aliases make a clients export (``ringround export clients``, filtered in a
spreadsheet) usable as a call list as it is.

A bad file changes nothing
--------------------------
Every row is checked first; the changes are then written in one write
transaction that checks the references again (ids, external ids, clients)
before writing. Any problem leaves the database exactly as it was and is
reported as a :class:`BadFile` listing every problem with its line (the
line of the file where the row starts) and column.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from storage.audit import audit
from storage.cells import restored
from storage.clients import rekey_phones, store_phones
from storage.database import write
from storage.i18n import _, ngettext
from storage.locks import NotAllowed
from storage.names import control_character
from storage.phones import digit_count_problem, phone_key, phone_problem
from storage.policy import Policy
from storage.spreadsheet import (
    BadCell,
    UnreadableWorkbook,
    is_old_excel,
    is_workbook,
    workbook_records,
)
from storage.spreadsheet_damage import (
    LikelyDuplicate,
    LostZeros,
    garbled_problem,
    likely_duplicates,
    scientific_problem,
)

KINDS = ("clients", "appointments", "tasks", "call-list")
SHOWN_PROBLEMS = 20
MAX_LIST_NAME = 200
_CHUNK = 500  # ids per "IN (...)" query
_PROGRESS_EVERY = 5000

Progress = Callable[[str, int, int], None]
"""Called with (phase, done, total) while a long import runs; phases: reading, checking,
writing."""


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the file: where (line of the file, column) and why."""

    line: int  # 0: the file as a whole (e.g. the --name given)
    column: str
    reason: str

    def __str__(self) -> str:
        if not self.line:
            return self.reason
        if self.column:
            return _("line {line}, column {column}: {reason}").format(
                line=self.line, column=self.column, reason=self.reason)
        return _("line {line}: {reason}").format(line=self.line, reason=self.reason)


class BadFile(Exception):
    """The file cannot be imported; nothing was changed. Holds every problem found."""

    bad_input = True

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = sorted(problems)
        count = len(self.problems)
        super().__init__(ngettext("{source}: {count} problem; nothing was imported",
                                  "{source}: {count} problems; nothing was imported",
                                  count).format(source=source, count=count))

    def details(self, limit: int = SHOWN_PROBLEMS) -> list[str]:
        """The first ``limit`` problems as sentences, then "and N more"."""
        lines = [_sentence(str(problem)) for problem in self.problems[:limit]]
        if len(self.problems) > limit:
            lines.append(_("and {count} more.").format(count=len(self.problems) - limit))
        return lines


@dataclass(frozen=True)
class ImportResult:
    """What an import did (or, with dry_run, would do)."""

    kind: str
    source: str
    dry_run: bool
    rows: int  # data rows read
    added: int
    updated: int
    unchanged: int
    kept: int  # matched rows where a call result in the database won over the file
    changed_fields: Mapping[str, int]  # column -> updated rows where it changed
    lists_created: tuple[str, ...] = ()
    likely_duplicates: tuple[LikelyDuplicate, ...] = ()  # new clients like known ones

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.lists_created)


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."


# -- reading the file ---------------------------------------------------------------------------


class _Bad(Exception):
    """A value that cannot be read; the message is the reason."""


@dataclass(frozen=True)
class _Context:
    zone: ZoneInfo
    policy: Policy


Parser = Callable[[str, _Context], Any]


def _identifier(text: str, ctx: _Context) -> int | None:
    value = text.strip()
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 18 or int(value) == 0:
        raise _Bad(_("{text!r} is not an id (a whole number from 1)").format(text=text))
    return int(value)


def _key(text: str, ctx: _Context) -> str | None:
    value = text.strip()
    if len(value) > 200:
        raise _Bad(_("is longer than 200 characters"))
    return value or None


def _free_text(text: str, ctx: _Context) -> str:
    return text


def _name(text: str, ctx: _Context) -> str:
    if not text.strip():
        raise _Bad(_("is empty"))
    return text


_YES = frozenset({"1", "yes", "y", "true", "да", "д"})
_NO = frozenset({"", "0", "no", "n", "false", "нет", "н"})


def _flag(text: str, ctx: _Context) -> bool:
    value = text.strip().casefold()
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise _Bad(_("{text!r} is not yes or no (1 or 0)").format(text=text))


_DOTTED = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_date(text: str) -> date:
    """``2026-11-27`` or ``27.11.2026``; ValueError otherwise."""
    value = text.strip()
    match = _DOTTED.fullmatch(value)
    if match is not None and match.group(4) is None:
        day = date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
    elif _ISO_DATE.fullmatch(value):
        day = date.fromisoformat(value)
    else:
        raise ValueError(text)
    if not 1900 <= day.year <= 2199:
        raise ValueError(text)
    return day


def parse_moment(text: str, zone: ZoneInfo, *, date_alone: bool) -> int:
    """Seconds since 1970 of a time as the module text describes; ValueError otherwise.

    ``date_alone``: a date without a time of day is accepted (00:00 in ``zone``).
    """
    value = text.strip()
    match = _DOTTED.fullmatch(value)
    if match is not None:
        day, month, year, hour, minute, second = match.groups()
        if hour is None and not date_alone:
            raise ValueError(text)
        moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                          int(second or 0))
    else:
        if not value or (_ISO_DATE.fullmatch(value) and not date_alone):
            raise ValueError(text)
        moment = datetime.fromisoformat(value)
    if not 1900 <= moment.year <= 2199:
        raise ValueError(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return math.floor(moment.timestamp())


def _moment(date_alone: bool) -> Parser:
    example = _("2026-11-27 or 27.11.2026, with or without a time") if date_alone else \
        "2026-11-27 10:30 or 27.11.2026 10:30"

    def parse(text: str, ctx: _Context) -> int | None:
        if not text.strip():
            return None
        try:
            return parse_moment(text, ctx.zone, date_alone=date_alone)
        except (ValueError, OverflowError):
            raise _Bad(_("{text!r} is not a time such as {example}").format(
                text=text, example=example)) from None
    return parse


_MIDNIGHT = re.compile(r"[ T]00:00(?::00)?$")


def _birth_date(text: str, ctx: _Context) -> str | None:
    if not text.strip():
        return None
    try:  # a date cell shown with its time of day (00:00) is still a date
        return parse_date(_MIDNIGHT.sub("", text.strip())).isoformat()
    except ValueError:
        raise _Bad(_("{text!r} is not a date such as 1980-02-29 or 29.02.1980").format(
            text=text)) from None


def _phones(text: str, ctx: _Context) -> tuple[tuple[str, str], ...]:
    numbers = [part.strip() for part in text.replace("\r", "\n").replace("\n", ";").split(";")]
    result = []
    for number in numbers:
        if not number:
            continue
        key = phone_key(number, ctx.policy.phones)
        if not key:
            raise _Bad(phone_problem(number) or _("is not a phone number"))
        damaged = scientific_problem(number) or digit_count_problem(number, ctx.policy.phones)
        if damaged:
            raise _Bad(damaged)
        result.append((number, key))
    return tuple(result)


def _status(text: str, ctx: _Context) -> str | None:
    value = text.strip()
    if not value:
        return None
    for status in ctx.policy.statuses:
        if status.casefold() == value.casefold():
            return status
    raise _Bad(_("{text!r} is not a status of the policy ({items})").format(
        text=text, items=', '.join(ctx.policy.statuses)))


def _task_kind(text: str, ctx: _Context) -> str:
    value = text.strip()
    if not value:
        raise _Bad(_("is empty"))
    return value


def _list_name(text: str, ctx: _Context) -> str:
    value = text.strip()
    if not value:
        raise _Bad(_("is empty"))
    if len(value) > MAX_LIST_NAME:
        raise _Bad(_("is longer than {count} characters").format(
            count=MAX_LIST_NAME))
    character = control_character(value)
    if character is not None:
        raise _Bad(_("holds a control character ({character}), which a call list's name "
                     "may not").format(character=character))
    return value


@dataclass(frozen=True)
class _Spec:
    """The columns one kind accepts: parsed ones, ignored ones, other names for some."""

    parsers: Mapping[str, Parser]
    ignored: frozenset[str] = frozenset()
    aliases: Mapping[str, str] = field(default_factory=dict)


_SPECS: dict[str, _Spec] = {
    "clients": _Spec({
        "id": _identifier, "name": _name, "phones": _phones, "do_not_call": _flag,
        "external_id": _key, "birth_date": _birth_date, "email": _free_text,
        "notes": _free_text,
    }),
    "appointments": _Spec({
        "id": _identifier, "client_id": _identifier, "client_external_id": _key,
        "starts_at": _moment(date_alone=False), "doctor": _free_text, "service": _free_text,
        "status": _status, "external_id": _key,
    }, ignored=frozenset({"client"})),
    "tasks": _Spec({
        "id": _identifier, "client_id": _identifier, "client_external_id": _key,
        "kind": _task_kind, "title": _free_text, "due_at": _moment(date_alone=True),
        "done_at": _moment(date_alone=True), "external_id": _key,
    }, ignored=frozenset({"client"})),
    "call-list": _Spec({
        "list": _list_name, "client_id": _identifier, "client_external_id": _key,
        "note": _free_text, "processed_at": _moment(date_alone=True),
    }, ignored=frozenset({"client", "name", "phones", "state", "do_not_call", "birth_date",
                          "email", "notes"}),
        aliases={"id": "client_id", "external_id": "client_external_id"}),
}

# Columns that may not be empty when present (the others may).
_NOT_EMPTY = {
    "clients": ("name",),
    "appointments": ("starts_at",),
    "tasks": ("kind", "due_at"),
    "call-list": ("list",),
}


@dataclass
class _Row:
    line: int
    values: dict[str, Any]


@dataclass
class _Table:
    columns: tuple[str, ...]  # canonical names of the parsed columns present
    rows: list[_Row]
    count: int  # data rows read (bad ones included)


def _decode(data: bytes) -> str:
    """The file's text without a byte-order mark; BadFile-style problems when not UTF-8."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise _Unreadable([Problem(
            line, "", _("the file is not UTF-8 text (byte 0x{byte:02x}); save it from "
                        "the spreadsheet as \"CSV UTF-8\"").format(
                byte=data[error.start]))]) from None


class _Unreadable(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        self.problems = problems


def _sniff(text: str) -> str:
    """The separator the header line uses most: ``,`` (on a tie or none), ``;`` or a tab."""
    counts = {",": 0, ";": 0, "\t": 0}
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "\r\n":
            break
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts.values())
    return next(sep for sep, n in counts.items() if n == best)


def _canonical(name: str) -> str:
    return re.sub(r"[\s-]+", "_", name.strip().strip("\ufeff").strip().casefold())


def _header(kind: str, names: list[str]) -> tuple[list[str | None], list[Problem]]:
    """For each column of the file: its canonical name (None: ignored), and problems."""
    spec = _SPECS[kind]
    known = sorted({*spec.parsers, *spec.ignored, *spec.aliases})
    problems: list[Problem] = []
    result: list[str | None] = []
    seen: dict[str, str] = {}
    for position, written in enumerate(names, start=1):
        name = _canonical(written)
        canonical = spec.aliases.get(name, name)
        if not name:
            problems.append(Problem(1, f"#{position}", _("this column has no name")))
            result.append(None)
            continue
        if canonical not in spec.parsers and canonical not in spec.ignored:
            problems.append(Problem(1, written.strip(), _("unknown column for {kind} "
                                                          "(known: {items})").format(
                kind=kind, items=', '.join(known))))
            result.append(None)
            continue
        if canonical in seen:
            also = "" if seen[canonical] == written.strip() else \
                _(" (as {name!r})").format(name=seen[canonical])
            problems.append(Problem(1, written.strip(), _("this column appears "
                                                          "twice{also}").format(also=also)))
            result.append(None)
            continue
        seen[canonical] = written.strip()
        result.append(canonical if canonical in spec.parsers else None)
    return result, problems


def _required_columns(kind: str, columns: set[str], list_name: str | None) -> list[Problem]:
    """Header-level checks: can rows of this file ever be written?"""
    keyed = bool(columns & {"id", "external_id"})
    client = bool(columns & {"client_id", "client_external_id"})
    needs: list[str] = []
    if kind == "clients" and not keyed and "name" not in columns:
        needs.append(_("a name column (or id or external_id to update clients)"))
    elif kind == "appointments" and not keyed:
        if "starts_at" not in columns:
            needs.append(_("a starts_at column (or id or external_id to update appointments)"))
        if not client:
            needs.append(_("a client_id or client_external_id column"))
    elif kind == "tasks" and not keyed:
        for column in ("kind", "due_at"):
            if column not in columns:
                needs.append(_("a {column} column (or id or external_id to update tasks)").format(
                    column=column))
        if not client:
            needs.append(_("a client_id or client_external_id column"))
    elif kind == "call-list":
        if not client:
            needs.append(_("a client_id or client_external_id column (id and external_id are "
                           "taken as the client's)"))
        if list_name is None and "list" not in columns:
            needs.append(_("a list column, or the list's name given with --name"))
    return [Problem(1, "", _("the file needs {need}").format(need=need)) for need in needs]


Record = tuple[int, list[str], list[BadCell]]
"""(line where the record starts, its fields, cells that hold no value to import)."""


def _records(text: str, delimiter: str) -> Iterator[Record]:
    """The records of a CSV text; csv.Error leaves as _Broken at that line.

    Fields come back as written before export neutralised them (storage/cells.py).
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    while True:
        line = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise _Broken(line, _("broken CSV ({reason})").format(reason=error)) from None
        yield line, [restored(field) for field in record], []


class _Broken(Exception):
    """The file cannot be read on from ``line``; ``problem`` says why."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(problem)
        self.line = line
        self.problem = problem


def _csv_file(data: bytes) -> tuple[Iterator[Record], int]:
    """The records of a CSV file, and its number of lines; _Unreadable when it is not text."""
    text = _decode(data)
    if not text.strip():
        raise _Unreadable([Problem(1, "", _("the file is empty; it needs a header row naming "
                                            "the columns"))])
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise _Unreadable([Problem(line, "", _("the file holds a NUL character; it is not a CSV "
                                               "text file"))])
    return _records(text, _sniff(text)), text.count("\n") + 1


def _workbook_records(data: bytes) -> Iterator[Record]:
    """The rows of a workbook's first sheet (storage/spreadsheet.py), header first."""
    line = 1
    try:
        for line, texts, bad in workbook_records(data):
            while texts and not texts[-1] and not any(cell.column == len(texts) - 1
                                                      for cell in bad):
                texts.pop()  # formatted but empty cells at the end of the row
            yield line, texts, bad
    except UnreadableWorkbook as error:
        raise _Broken(line, _("the workbook cannot be read ({reason})").format(
            reason=error)) from None


def _file_records(data: bytes) -> tuple[Iterator[Record], int]:
    """The records of a CSV file or an Excel workbook, and about how many lines it has."""
    if is_old_excel(data):
        raise _Unreadable([Problem(1, "", _("the file is an old Excel workbook (.xls); save it "
                                            "as an Excel workbook (.xlsx) or as \"CSV UTF-8\""))])
    if is_workbook(data):
        return _workbook_records(data), max(1, len(data) // 50)  # the progress bar's guess
    return _csv_file(data)


def read_table(
    kind: str,
    data: bytes,
    policy: Policy,
    *,
    list_name: str | None = None,
    progress: Progress | None = None,
) -> tuple[_Table, list[Problem]]:
    """Read and check the file (CSV or .xlsx): the parsed rows, and every problem found in them."""
    try:
        records, total_lines = _file_records(data)
        first = next(records, None)
    except _Unreadable as unreadable:
        return _Table((), [], 0), unreadable.problems
    except _Broken as broken:
        return _Table((), [], 0), [Problem(broken.line, "", broken.problem)]
    if first is None or not any(name.strip() for name in first[1]):
        return _Table((), [], 0), [Problem(1, "", _("the first line must name the columns"))]
    names = first[1]
    columns, problems = _header(kind, names)
    if kind == "call-list" and list_name is not None:
        columns = [None if c == "list" else c for c in columns]  # --name wins
    present = {c for c in columns if c is not None}
    problems += _required_columns(kind, present, list_name)
    if problems:
        return _Table((), [], 0), problems
    spec = _SPECS[kind]
    ctx = _Context(policy.timezone, policy)
    not_empty = set(_NOT_EMPTY[kind])
    workbook = is_workbook(data)  # a sheet leaves out the empty cells at the end of a row
    rows: list[_Row] = []
    count = 0
    try:
        for line, record, bad in records:
            if not any(field.strip() for field in record) and not bad:
                continue
            count += 1
            if progress is not None and count % _PROGRESS_EVERY == 0:
                progress("reading", min(line, total_lines), total_lines)
            if len(record) > len(names) or (len(record) < len(names) and not workbook):
                problems.append(Problem(line, "", _("has {count} fields but the header "
                                                    "has {header}").format(
                    count=len(record), header=len(names))))
                continue
            record = record + [""] * (len(names) - len(record))
            values: dict[str, Any] = {}
            good = True
            for cell in bad:
                if columns[cell.column] is not None:  # a formula in an ignored column is fine
                    problems.append(Problem(line, names[cell.column].strip(), cell.reason))
                    good = False
            for column, raw in zip(columns, record, strict=True):
                if column is None:
                    continue
                if column in not_empty and not raw.strip():
                    problems.append(Problem(line, column, _("is empty")))
                    good = False
                    continue
                garbled = garbled_problem(raw)
                if garbled is not None:
                    problems.append(Problem(line, column, garbled))
                    good = False
                    continue
                try:
                    values[column] = spec.parsers[column](raw, ctx)
                except _Bad as bad_value:
                    problems.append(Problem(line, column, str(bad_value)))
                    good = False
            if good:
                rows.append(_Row(line, values))
    except _Broken as broken:
        problems.append(Problem(broken.line, "", _("{problem}; the rest of the file was not "
                                                   "read").format(problem=broken.problem)))
    if progress is not None:
        progress("reading", total_lines, total_lines)
    return _Table(tuple(c for c in columns if c is not None), rows, count), problems


# -- planning the changes -----------------------------------------------------------------------


@dataclass
class _Update:
    line: int
    id: int
    new: dict[str, Any]
    old: dict[str, Any]


@dataclass
class _Plan:
    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[_Update] = field(default_factory=list)
    unchanged: int = 0
    kept: int = 0
    problems: list[Problem] = field(default_factory=list)
    lists_created: dict[str, int] = field(default_factory=dict)  # name -> first line
    list_ids: dict[str, int] = field(default_factory=dict)
    touched_lists: set[str] = field(default_factory=set)  # lists with items added or updated
    likely_duplicates: list[LikelyDuplicate] = field(default_factory=list)


def _chunks(values: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]


def _current(conn: sqlite3.Connection, table: str, columns: Sequence[str],
             ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The given columns of the rows with these ids, by id."""
    result: dict[int, dict[str, Any]] = {}
    wanted = sorted(set(ids))
    select = ", ".join(columns)
    for chunk in _chunks(wanted):
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(f"SELECT id, {select} FROM {table} WHERE id IN ({marks})",
                                chunk):
            result[row[0]] = dict(zip(columns, row[1:], strict=True))
    return result


def _keys(conn: sqlite3.Connection, table: str) -> tuple[set[int], dict[str, int]]:
    """Every id of the table, and the id of every external id."""
    ids: set[int] = set()
    external: dict[str, int] = {}
    for id_, ext in conn.execute(f"SELECT id, external_id FROM {table}"):
        ids.add(id_)
        if ext is not None:
            external[ext] = id_
    return ids, external


class _Matcher:
    """Finds the record a row means (by id, else external_id) and catches repeats."""

    def __init__(self, conn: sqlite3.Connection, table: str, noun: str) -> None:
        self.ids, self.external = _keys(conn, table)
        self.external_of = {id_: ext for ext, id_ in self.external.items()}
        self.lost_zeros = LostZeros(self.external)
        self.noun = noun
        self.lines_of_target: dict[int, int] = {}
        self.lines_of_external: dict[str, int] = {}

    def match(self, row: _Row, problems: list[Problem]) -> tuple[bool, int | None]:
        """(usable, id of the matched record or None for a new one)."""
        id_ = row.values.get("id")
        ext = row.values.get("external_id")
        target: int | None = None
        if id_ is not None:
            if id_ not in self.ids:
                problems.append(Problem(row.line, "id", _(
                    "there is no {noun} {id} in this database (leave id empty to add "
                    "one)").format(noun=self.noun, id=id_)))
                return False, None
            target = id_
            owner = self.external.get(ext) if ext is not None else None
            if owner is not None and owner != id_:
                problems.append(Problem(row.line, "external_id", _(
                    "{ext!r} is already the external id of {noun} {owner}").format(
                    ext=ext, noun=self.noun, owner=owner)))
                return False, None
            had = self.external_of.get(id_)
            if ext is not None and had is not None and had != ext:
                # Its own id without the zeros a spreadsheet dropped, or another identity
                # (most likely a file from another database).
                lost = self.lost_zeros.problem(ext) if had.lstrip("0") == ext.lstrip("0") \
                    else None
                problems.append(Problem(row.line, "external_id", lost or _(
                    "{noun} {id} has the external id {had!r}, not {ext!r} (to change it, "
                    "import it empty first)").format(noun=self.noun, id=id_, had=had, ext=ext)))
                return False, None
        elif ext is not None:
            target = self.external.get(ext)
            damaged = self.lost_zeros.problem(ext) if target is None else None
            if damaged is not None:
                problems.append(Problem(row.line, "external_id", damaged))
                return False, None
        if ext is not None:
            earlier = self.lines_of_external.get(ext)
            if earlier is not None:
                problems.append(Problem(row.line, "external_id",
                                        _("{ext!r} is on line {earlier} already").format(
                                            ext=ext, earlier=earlier)))
                return False, None
            self.lines_of_external[ext] = row.line
        if target is not None:
            earlier = self.lines_of_target.get(target)
            if earlier is not None:
                problems.append(Problem(row.line, "id" if id_ is not None else "external_id",
                                        _("the same {noun} as line {line}").format(
                                            noun=self.noun, line=earlier)))
                return False, None
            self.lines_of_target[target] = row.line
        return True, target


class _Clients:
    """Resolves client references (client_id / client_external_id) of rows."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.ids, self.external = _keys(conn, "clients")
        self.lost_zeros = LostZeros(self.external)

    def resolve(self, row: _Row, problems: list[Problem]) -> tuple[bool, int | None]:
        """(usable, the client meant or None when the row names none)."""
        client_id = row.values.get("client_id")
        ext = row.values.get("client_external_id")
        if client_id is not None and client_id not in self.ids:
            problems.append(Problem(row.line, "client_id", _("there is no client "
                                                             "{client_id}").format(
                client_id=client_id)))
            return False, None
        if ext is None:
            return True, client_id
        owner = self.external.get(ext)
        if owner is None:
            problems.append(Problem(row.line, "client_external_id", self.lost_zeros.problem(ext)
                                    or _("no client has the external id {ext!r}").format(ext=ext)))
            return False, None
        if client_id is not None and owner != client_id:
            problems.append(Problem(row.line, "client_external_id",
                                    _("{ext!r} is client {owner}, but client_id is "
                                      "{client_id}").format(
                                        ext=ext, owner=owner, client_id=client_id)))
            return False, None
        return True, owner


def _diff(plan: _Plan, row: _Row, target: int, wanted: dict[str, Any],
          current: dict[str, Any], kept: bool) -> None:
    """Record an update of ``target`` with the columns that differ."""
    new = {k: v for k, v in wanted.items() if current[k] != v}
    if new:
        plan.updates.append(_Update(row.line, target, new, {k: current[k] for k in new}))
    else:
        plan.unchanged += 1
    plan.kept += kept


def _plan_clients(conn: sqlite3.Connection, policy: Policy, table: _Table,
                  progress: Progress | None) -> _Plan:
    plan = _Plan()
    matcher = _Matcher(conn, "clients", _("client"))
    matched: list[tuple[_Row, int | None]] = []
    for row in table.rows:
        usable, target = matcher.match(row, plan.problems)
        if not usable:
            continue
        if target is None and "name" not in row.values:
            plan.problems.append(Problem(row.line, "name", _("a new client needs a name")))
            continue
        matched.append((row, target))
    fields = [c for c in ("external_id", "name", "birth_date", "email", "notes", "do_not_call")
              if c in table.columns]
    targets = [t for _, t in matched if t is not None]
    current = _current(conn, "clients", fields, targets) if fields else {t: {} for t in targets}
    if "phones" in table.columns:
        for client_id in current:
            current[client_id]["phones"] = ()
        for chunk in _chunks(sorted(current)):
            marks = ",".join("?" * len(chunk))
            for client_id, number in conn.execute(
                    f"SELECT client_id, number FROM phones WHERE client_id IN ({marks})"
                    " ORDER BY client_id, position", chunk):
                current[client_id]["phones"] += (number,)
    for done, (row, target) in enumerate(matched, start=1):
        if progress is not None and done % _PROGRESS_EVERY == 0:
            progress("checking", done, len(matched))
        values = row.values
        if target is None:
            plan.inserts.append({"line": row.line, **values})
            continue
        wanted = {k: v for k, v in values.items() if k != "id"}
        kept = False
        if "do_not_call" in wanted:
            wanted["do_not_call"] = int(wanted["do_not_call"] or current[target]["do_not_call"])
            kept = bool(values["do_not_call"]) != bool(wanted["do_not_call"])
        phones = wanted.pop("phones", None)
        new = {k: v for k, v in wanted.items() if current[target][k] != v}
        old = {k: current[target][k] for k in new}
        if phones is not None and tuple(n for n, _ in phones) != current[target]["phones"]:
            new["phones"] = phones
            old["phones"] = current[target]["phones"]
        if new:
            plan.updates.append(_Update(row.line, target, new, old))
        else:
            plan.unchanged += 1
        plan.kept += kept
    plan.likely_duplicates = likely_duplicates(conn, [
        (values["line"], values["name"], [key for _, key in values.get("phones", ())])
        for values in plan.inserts])
    return plan


def _apply_clients(conn: sqlite3.Connection, plan: _Plan, operator: str, now: int,
                   progress: Progress | None) -> None:
    next_id = int(conn.execute("SELECT coalesce(max(id), 0) + 1 FROM clients").fetchone()[0])
    clients, phones = [], []
    for offset, values in enumerate(plan.inserts):
        client_id = next_id + offset
        clients.append((client_id, values.get("external_id"), values["name"],
                        values.get("birth_date"), values.get("email", ""),
                        values.get("notes", ""), int(values.get("do_not_call", False))))
        phones += [(client_id, position, number, key)
                   for position, (number, key) in enumerate(values.get("phones", ()), start=1)]
    conn.executemany("INSERT INTO clients (id, external_id, name, birth_date, email, notes,"
                     " do_not_call) VALUES (?, ?, ?, ?, ?, ?, ?)", clients)
    conn.executemany("INSERT INTO phones (client_id, position, number, digits)"
                     " VALUES (?, ?, ?, ?)", phones)
    if progress is not None:
        progress("writing", len(plan.inserts), len(plan.inserts) + len(plan.updates))
    for update in plan.updates:
        new = dict(update.new)
        numbers = new.pop("phones", None)
        if new:
            sets = ", ".join(f"{column} = ?" for column in new)
            conn.execute(f"UPDATE clients SET {sets} WHERE id = ?", (*new.values(), update.id))
        if numbers is not None:
            store_phones(conn, update.id, numbers)
        for column, value in update.new.items():
            old = update.old[column]
            if column == "phones":
                value, old = [n for n, _ in value], list(old)
            elif column == "do_not_call":
                value, old = bool(value), bool(old)
            audit(conn, now, operator, None, "card-edit", None, update.id,
                  field=column, old=old, new=value, via="import")


def _plan_dated(conn: sqlite3.Connection, policy: Policy, table: _Table, kind: str,
                progress: Progress | None) -> _Plan:
    """Appointments and tasks: matched like clients, with a client reference."""
    noun = _("appointment") if kind == "appointments" else _("task")
    plan = _Plan()
    matcher = _Matcher(conn, kind, noun)
    clients = _Clients(conn)
    columns = ("client_id", "starts_at", "doctor", "service", "status", "external_id") \
        if kind == "appointments" else \
        ("client_id", "kind", "title", "due_at", "done_at", "external_id")
    required = ("starts_at",) if kind == "appointments" else ("kind", "due_at")
    matched: list[tuple[_Row, int | None, int | None]] = []
    for row in table.rows:
        usable, target = matcher.match(row, plan.problems)
        good, client_id = clients.resolve(row, plan.problems)
        if not (usable and good):
            continue
        if target is None:
            missing = [c for c in required if row.values.get(c) is None]
            if client_id is None:
                missing.append(_("{column} or {other}").format(column="client_id",
                                                              other="client_external_id"))
            if missing:
                column = missing[0] if missing[0] in required else "client_id"
                plan.problems.append(Problem(row.line, column, _(
                    "a new {noun} needs {columns}").format(
                    noun=noun, columns=_(" and ").join(missing))))
                continue
        matched.append((row, target, client_id))
    present = [c for c in columns if c in table.columns or
               (c == "client_id" and "client_external_id" in table.columns)]
    if kind == "appointments" and "status" in present and "starts_at" not in present:
        present.append("starts_at")  # the status rule needs the current time of the visit
    targets = [t for _, t, _ in matched if t is not None]
    current = _current(conn, kind, present, targets) if present else {t: {} for t in targets}
    open_statuses = set(policy.open_statuses)
    for done, (row, target, client_id) in enumerate(matched, start=1):
        if progress is not None and done % _PROGRESS_EVERY == 0:
            progress("checking", done, len(matched))
        values = {k: v for k, v in row.values.items() if k in columns and k != "client_id"}
        if client_id is not None:
            values["client_id"] = client_id
        if target is None:
            if kind == "appointments" and values.get("status") is None:
                values["status"] = policy.open_statuses[0]
            plan.inserts.append({"line": row.line, **values})
            continue
        now_values = current[target]
        kept = False
        if kind == "appointments" and "status" in values:
            status = values["status"]
            moved = values.get("starts_at", now_values["starts_at"]) != now_values["starts_at"]
            if status is None:
                del values["status"]
            elif (status in open_statuses and now_values["status"] not in open_statuses
                  and not moved):
                kept = status != now_values["status"]
                del values["status"]
        if kind == "tasks" and "done_at" in values and values["done_at"] is None:
            kept = now_values["done_at"] is not None  # a done task stays done
            del values["done_at"]
        _diff(plan, row, target, values, now_values, kept)
    return plan


def _apply_dated(conn: sqlite3.Connection, plan: _Plan, kind: str) -> None:
    if kind == "appointments":
        conn.executemany(
            "INSERT INTO appointments (external_id, client_id, starts_at, doctor, service,"
            " status) VALUES (?, ?, ?, ?, ?, ?)",
            [(v.get("external_id"), v["client_id"], v["starts_at"], v.get("doctor", ""),
              v.get("service", ""), v["status"]) for v in plan.inserts])
    else:
        conn.executemany(
            "INSERT INTO tasks (external_id, client_id, kind, title, due_at, done_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(v.get("external_id"), v["client_id"], v["kind"], v.get("title", ""), v["due_at"],
              v.get("done_at")) for v in plan.inserts])
    for update in plan.updates:
        sets = ", ".join(f"{column} = ?" for column in update.new)
        conn.execute(f"UPDATE {kind} SET {sets} WHERE id = ?", (*update.new.values(), update.id))


def _plan_items(conn: sqlite3.Connection, policy: Policy, table: _Table,
                list_name: str | None, create_only: bool, progress: Progress | None) -> _Plan:
    plan = _Plan()
    clients = _Clients(conn)
    lists: dict[str, tuple[int, bool]] = {
        name: (id_, closed is not None) for id_, name, closed in
        conn.execute("SELECT id, name, closed_at FROM call_lists")}
    if create_only and list_name is not None and list_name in lists:
        plan.problems.append(Problem(0, "", _("a call list named {list_name!r} already "
                                              "exists (import into it with 'ringround "
                                              "import call-list --name')").format(
            list_name=list_name)))
        return plan
    if create_only and not table.rows and not table.count:
        plan.problems.append(Problem(0, "", _("the file names no clients; a new call list needs "
                                              "at least one")))
        return plan
    seen: dict[tuple[str, int], int] = {}
    matched: list[tuple[_Row, str, int]] = []
    for row in table.rows:
        good, client_id = clients.resolve(row, plan.problems)
        if not good:
            continue
        if client_id is None:
            plan.problems.append(Problem(row.line, "client_id",
                                         _("names no client (client_id or client_external_id)")))
            continue
        name = list_name if list_name is not None else row.values["list"]
        earlier = seen.get((name, client_id))
        if earlier is not None:
            plan.problems.append(Problem(row.line, "client_id",
                                         _("client {client_id} is on line {earlier} "
                                           "already").format(client_id=client_id, earlier=earlier)))
            continue
        seen[(name, client_id)] = row.line
        if name not in lists and name not in plan.lists_created:
            plan.lists_created[name] = row.line
        matched.append((row, name, client_id))
    list_ids = [lists[name][0] for name in {n for _, n, _ in matched} if name in lists]
    current: dict[tuple[int, int], tuple[int, str, int | None]] = {}
    for list_id in list_ids:
        for item_id, client_id, note, processed in conn.execute(
                "SELECT id, client_id, note, processed_at FROM call_list_items"
                " WHERE list_id = ?", (list_id,)):
            current[(list_id, client_id)] = (item_id, note, processed)
    closed_reported: set[str] = set()
    for done, (row, name, client_id) in enumerate(matched, start=1):
        if progress is not None and done % _PROGRESS_EVERY == 0:
            progress("checking", done, len(matched))
        values = {k: v for k, v in row.values.items() if k in ("note", "processed_at")}
        existing = current.get((lists[name][0], client_id)) if name in lists else None
        if existing is None:
            plan.inserts.append({"line": row.line, "list": name, "client_id": client_id,
                                 **values})
            changed = True
        else:
            item_id, note, processed = existing
            kept = False
            if "processed_at" in values and values["processed_at"] is None:
                kept = processed is not None
                del values["processed_at"]
            before = len(plan.updates)
            _diff(plan, row, item_id, values, {"note": note, "processed_at": processed}, kept)
            changed = len(plan.updates) > before
        if changed:
            plan.touched_lists.add(name)
        if changed and name in lists and lists[name][1] and name not in closed_reported:
            closed_reported.add(name)
            plan.problems.append(Problem(row.line, "list" if list_name is None else "",
                                         _("the call list {name!r} is closed; reopen it "
                                           "first ('ringround lists reopen')").format(name=name)))
    plan.list_ids = {name: lists[name][0] for name in lists}
    return plan


def _apply_items(conn: sqlite3.Connection, plan: _Plan, operator: str, now: int) -> None:
    for name in plan.lists_created:
        list_id = conn.execute(
            "INSERT INTO call_lists (name, created_at, created_by) VALUES (?, ?, ?)"
            " RETURNING id", (name, now, operator)).fetchone()[0]
        plan.list_ids[name] = int(list_id)
        audit(conn, now, operator, None, "list-create", None, None, list=name, list_id=list_id,
              items=sum(1 for v in plan.inserts if v["list"] == name))
    conn.executemany(
        "INSERT INTO call_list_items (list_id, client_id, note, processed_at)"
        " VALUES (?, ?, ?, ?)",
        [(plan.list_ids[v["list"]], v["client_id"], v.get("note", ""), v.get("processed_at"))
         for v in plan.inserts])
    for update in plan.updates:
        sets = ", ".join(f"{column} = ?" for column in update.new)
        conn.execute(f"UPDATE call_list_items SET {sets} WHERE id = ?",
                     (*update.new.values(), update.id))


# -- the import ---------------------------------------------------------------------------------


def import_csv(
    conn: sqlite3.Connection,
    policy: Policy,
    kind: str,
    data: bytes,
    *,
    source: str,
    operator: str,
    supervisor: bool,
    now: int,
    list_name: str | None = None,
    create_only: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Import one CSV file of ``kind`` (see the module text) in one write transaction.

    ``source`` names the file in messages and the audit. ``list_name`` is the
    call list (kind "call-list"); ``create_only`` refuses a list that exists.
    With ``dry_run`` nothing is written (the database is only read).

    Raises BadFile (nothing changed) for any problem in the file, NotAllowed
    when a call list is imported by someone who is not a supervisor, and
    ValueError for a kind or list name that makes no sense.
    """
    if kind not in KINDS:
        raise ValueError(_("cannot import {kind!r}; choose one of {items}").format(
            kind=kind, items=', '.join(KINDS)))
    if kind == "call-list":
        if not supervisor:
            raise NotAllowed(_("Only a supervisor may build call lists."))
        if list_name is not None:
            list_name = list_name.strip()
            if (not list_name or len(list_name) > MAX_LIST_NAME
                    or control_character(list_name) is not None):
                raise ValueError(_("a call list needs a name of 1 to {count} "
                                   "characters, none of them a control character").format(
                    count=MAX_LIST_NAME))
    elif list_name is not None:
        raise ValueError(_("a list name is only for importing a call list"))
    table, problems = read_table(kind, data, policy, list_name=list_name, progress=progress)
    if problems and not table.rows:
        raise BadFile(source, problems)

    def plan_it() -> _Plan:
        if kind == "clients":
            plan = _plan_clients(conn, policy, table, progress)
        elif kind == "call-list":
            plan = _plan_items(conn, policy, table, list_name, create_only, progress)
        else:
            plan = _plan_dated(conn, policy, table, kind, progress)
        if problems or plan.problems:
            raise BadFile(source, [*problems, *plan.problems])
        return plan

    if dry_run or problems:
        # Reads only, outside any transaction: the plan is a preview (or a list of
        # problems); the real import plans again inside its write transaction.
        plan = plan_it()
    else:
        with write(conn):
            rekey_phones(conn, policy.phones)  # matched numbers compare keys of today's rules
            plan = plan_it()
            if plan.inserts or plan.updates or plan.lists_created:
                if kind == "clients":
                    _apply_clients(conn, plan, operator, now, progress)
                elif kind == "call-list":
                    _apply_items(conn, plan, operator, now)
                else:
                    _apply_dated(conn, plan, kind)
                audit(conn, now, operator, None, "import", None, None, **_audit_detail(
                    kind, source, table, plan))
    if progress is not None:
        progress("writing", 1, 1)
    return ImportResult(
        kind=kind, source=source, dry_run=dry_run, rows=table.count,
        added=len(plan.inserts), updated=len(plan.updates), unchanged=plan.unchanged,
        kept=plan.kept,
        changed_fields=dict(Counter(c for u in plan.updates for c in u.new).most_common()),
        lists_created=tuple(plan.lists_created),
        likely_duplicates=tuple(plan.likely_duplicates),
    )


def _audit_detail(kind: str, source: str, table: _Table, plan: _Plan) -> dict[str, object]:
    detail: dict[str, object] = {
        "kind": kind, "file": source, "rows": table.count, "added": len(plan.inserts),
        "updated": len(plan.updates), "unchanged": plan.unchanged,
    }
    if kind == "call-list":
        detail["lists"] = sorted(plan.touched_lists)
    return detail


def describe_result(result: ImportResult) -> str:
    """One sentence saying what the import did (or would do)."""
    fields = ", ".join(f"{name} {count:,}" for name, count in result.changed_fields.items())
    updated = f"{result.updated:,}" + (f" ({fields})" if fields else "")
    kept = (ngettext("; {count} kept a call result the file would have undone",
                     "; {count} kept a call result the file would have undone",
                     result.kept).format(count=f"{result.kept:,}") if result.kept else "")
    lists = ""
    if result.lists_created:
        names = ", ".join(json.dumps(name, ensure_ascii=False) for name in result.lists_created)
        count = len(result.lists_created)
        lists = (ngettext("; would make the call list {names}",
                          "; would make the call lists {names}", count)
                 if result.dry_run else
                 ngettext("; made the call list {names}", "; made the call lists {names}",
                          count)).format(names=names)
    # "rows" after 1 as well: scripts read these lines (tests/test_cli_data.py).
    rows = ngettext("{count} rows", "{count} rows", result.rows).format(
        count=f"{result.rows:,}")
    if result.dry_run:
        return _("Dry run of {source} ({rows}): would add {added}, update {updated}, leave "
                 "{unchanged} unchanged{kept}{lists}; nothing was changed.").format(
            source=result.source, rows=rows, added=f"{result.added:,}", updated=updated,
            unchanged=f"{result.unchanged:,}", kept=kept, lists=lists)
    return _("Imported {source} ({rows}): added {added}, updated {updated}, unchanged "
             "{unchanged}{kept}{lists}.").format(
        source=result.source, rows=rows, added=f"{result.added:,}", updated=updated,
        unchanged=f"{result.unchanged:,}", kept=kept, lists=lists)
