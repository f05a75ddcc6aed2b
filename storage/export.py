"""CSV and Excel export of clinic data (``ringround export KIND [-o FILE]``).

Format, the same for every kind (``import`` reads exactly this back):

- UTF-8 text, one header row, fields separated by commas and quoted only
  when needed (RFC 4180: a comma, a quote, a carriage return or a line feed);
  lines end with ``\\n``. A field a spreadsheet would evaluate (it starts
  with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) gets an
  apostrophe before it, and one starting with an apostrophe gets one more;
  so does a field of a text column (any but VALUE_COLUMNS) that a spreadsheet
  would read as a number, date, time or yes/no (``0012``, ``1,5``, ``12:30``);
  ``import`` removes them again (storage/cells.py). ``bom=True`` puts a UTF-8
  byte-order mark first so that Excel shows Cyrillic correctly; scripts and
  LibreOffice do not need it.
- Times are ISO 8601 in the clinic's time zone with its offset, to the second:
  ``2026-11-27T10:30:00+03:00``. A missing time or value is an empty field.
- Yes/no fields (``do_not_call``, ``alive``) are ``1`` or ``0``.
- A call row is written ``kind:id``: ``appointment:12``, ``item:7``, ``task:3``.
- ``phones`` holds the client's numbers as written, separated by ``;``, the
  main number first.

``export_workbook`` writes the same rows and columns as an Excel workbook,
with text cells and date cells (storage/export_workbook.py).

Columns by kind (the first ones are a contract with the clinic's scripts; more may be added
at the end, never removed or reordered):

- clients: id, name, phones, do_not_call, external_id, birth_date (YYYY-MM-DD),
  email, notes
- appointments: id, client_id, client, starts_at, doctor, service, status,
  external_id
- tasks: id, client_id, client, kind, title, due_at, done_at, external_id
- calls (attempts): row, client, operator, started_at, ended_at, mode, outcome,
  comment, number, callback_at, client_id, session
- locks: row, client, operator, session, since, alive
- audit: at, operator, session, event, row, client_id, detail (JSON text)
- call-list (items of call lists): list, client_id, client, phones, note,
  processed_at, client_external_id, state (pending / processed / given up)

Filters (:class:`Filter`): ``since`` / ``until`` keep the calls started, or
the audit events written, in ``[since, until)``; ``list_id`` keeps the calls
of, the audit events about, or the items of one call list. Other kinds take
no filter.

Rows are read in batches by id, each batch in its own short read, so a slow
reader of the output (a pager, a network pipe) never holds the database open
against checkpoints. The export holds the rows that existed when it began
(as they are when their batch is read); it is not one snapshot of the file.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from storage.cells import Writer, write_csv
from storage.connection import Connection
from storage.export_workbook import DATE_COLUMNS, TIME_COLUMNS, write_workbook
from storage.policy import Policy
from storage.sessions import ALIVE_SQL, alive_since

COLUMNS: dict[str, tuple[str, ...]] = {
    "clients": (
        "id",
        "name",
        "phones",
        "do_not_call",
        "external_id",
        "birth_date",
        "email",
        "notes",
    ),
    "appointments": (
        "id",
        "client_id",
        "client",
        "starts_at",
        "doctor",
        "service",
        "status",
        "external_id",
    ),
    "tasks": ("id", "client_id", "client", "kind", "title", "due_at", "done_at", "external_id"),
    "calls": (
        "row",
        "client",
        "operator",
        "started_at",
        "ended_at",
        "mode",
        "outcome",
        "comment",
        "number",
        "callback_at",
        "client_id",
        "session",
    ),
    "locks": ("row", "client", "operator", "session", "since", "alive"),
    "audit": ("at", "operator", "session", "event", "row", "client_id", "detail"),
    "call-list": (
        "list",
        "client_id",
        "client",
        "phones",
        "note",
        "processed_at",
        "client_external_id",
        "state",
    ),
}
KINDS = tuple(COLUMNS)
VALUE_COLUMNS = frozenset({"id", "client_id", "session", "do_not_call", "alive"})
VALUE_COLUMNS |= TIME_COLUMNS | DATE_COLUMNS
"""Columns of ids, yes/no, dates and times; every other column holds texts (storage/cells.py)."""
BATCH = 2000


@dataclass(frozen=True)
class Filter:
    """Which rows to export (see the module text); None: no limit."""

    since: int | None = None
    until: int | None = None
    list_id: int | None = None

    def conditions(self, time_column: str, row_kind: str, row_id: str) -> tuple[str, list[object]]:
        """SQL to put before ``<id> > ?`` (ending in " AND ", or empty) and its parameters."""
        sql, params = "", list[object]()
        if self.since is not None:
            sql += f"{time_column} >= ? AND "
            params.append(self.since)
        if self.until is not None:
            sql += f"{time_column} < ? AND "
            params.append(self.until)
        if self.list_id is not None:
            sql += (
                f"{row_kind} = 'item' AND {row_id} IN"
                " (SELECT id FROM call_list_items WHERE list_id = ?) AND "
            )
            params.append(self.list_id)
        return sql, params


FILTERS: dict[str, frozenset[str]] = {
    "calls": frozenset({"since", "until", "list_id"}),
    "audit": frozenset({"since", "until", "list_id"}),
    "call-list": frozenset({"list_id"}),
}
"""The filters each kind takes."""

Row = Sequence[Any]


def iso_time(seconds: int | None, policy: Policy) -> str:
    """``2026-11-27T10:30:00+03:00`` in the clinic's zone; empty for None."""
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, policy.timezone).isoformat()


def _row_key(kind: str | None, source_id: int | None) -> str:
    return "" if kind is None or source_id is None else f"{kind}:{source_id}"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _pages(
    conn: Connection, table: str, sql: str, params: Sequence[object] = ()
) -> Iterator[list[Row]]:
    """Batches of a query that ends in ``<id> > ? AND <id> <= ? ORDER BY <id> LIMIT ?``.

    ``params`` are those of the query's conditions before ``<id> > ?``.

    The first selected column is the id. Rows added after the export began
    are left out, so it ends even while operators keep saving. Every batch is
    fetched whole: no cursor stays open while the caller writes it out.
    """
    last = conn.execute(f"SELECT max(id) FROM {table}").fetchone()[0]
    if last is None:
        return
    after = -(2**63)
    while after < last:
        rows = conn.execute(sql, (*params, after, last, BATCH)).fetchall()
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def _clients(conn: Connection, policy: Policy, now: int, where: Filter) -> Iterator[list[str]]:
    sql = (
        "SELECT id, name, do_not_call, external_id, birth_date, email, notes FROM clients"
        " WHERE id > ? AND id <= ? ORDER BY id LIMIT ?"
    )
    for rows in _pages(conn, "clients", sql):
        phones: dict[int, list[str]] = {}
        for client_id, number in conn.execute(
            "SELECT client_id, number FROM phones WHERE client_id BETWEEN ? AND ?"
            " ORDER BY client_id, position",
            (rows[0][0], rows[-1][0]),
        ).fetchall():
            phones.setdefault(client_id, []).append(number)
        for client_id, name, dnc, external_id, born, email, notes in rows:
            yield [
                str(client_id),
                name,
                ";".join(phones.get(client_id, ())),
                "1" if dnc else "0",
                _text(external_id),
                _text(born),
                email,
                notes,
            ]


def _appointments(conn: Connection, policy: Policy, now: int, where: Filter) -> Iterator[list[str]]:
    sql = (
        "SELECT a.id, a.client_id, c.name, a.starts_at, a.doctor, a.service, a.status,"
        " a.external_id FROM appointments a LEFT JOIN clients c ON c.id = a.client_id"
        " WHERE a.id > ? AND a.id <= ? ORDER BY a.id LIMIT ?"
    )
    for rows in _pages(conn, "appointments", sql):
        for id_, client_id, client, starts_at, doctor, service, status, external_id in rows:
            yield [
                str(id_),
                str(client_id),
                _text(client),
                iso_time(starts_at, policy),
                doctor,
                service,
                status,
                _text(external_id),
            ]


def _tasks(conn: Connection, policy: Policy, now: int, where: Filter) -> Iterator[list[str]]:
    sql = (
        "SELECT t.id, t.client_id, c.name, t.kind, t.title, t.due_at, t.done_at,"
        " t.external_id FROM tasks t LEFT JOIN clients c ON c.id = t.client_id"
        " WHERE t.id > ? AND t.id <= ? ORDER BY t.id LIMIT ?"
    )
    for rows in _pages(conn, "tasks", sql):
        for id_, client_id, client, kind, title, due_at, done_at, external_id in rows:
            yield [
                str(id_),
                str(client_id),
                _text(client),
                kind,
                title,
                iso_time(due_at, policy),
                iso_time(done_at, policy),
                _text(external_id),
            ]


def _calls(conn: Connection, policy: Policy, now: int, where: Filter) -> Iterator[list[str]]:
    sql = (
        "SELECT a.id, a.kind, a.source_id, c.name, a.operator, a.started_at, a.ended_at,"
        " a.mode, a.outcome, a.comment, a.number, a.callback_at, a.client_id, a.session_id"
        " FROM attempts a LEFT JOIN clients c ON c.id = a.client_id WHERE "
    )
    conditions, params = where.conditions("a.started_at", "a.kind", "a.source_id")
    sql += conditions + "a.id > ? AND a.id <= ? ORDER BY a.id LIMIT ?"
    for rows in _pages(conn, "attempts", sql, params):
        for (
            _id,
            kind,
            source_id,
            client,
            operator,
            started_at,
            ended_at,
            mode,
            outcome,
            comment,
            number,
            callback_at,
            client_id,
            session_id,
        ) in rows:
            yield [
                _row_key(kind, source_id),
                _text(client),
                operator,
                iso_time(started_at, policy),
                iso_time(ended_at, policy),
                mode,
                outcome,
                comment,
                number,
                iso_time(callback_at, policy),
                str(client_id),
                str(session_id),
            ]


def _locks(conn: Connection, policy: Policy, now: int, where: Filter) -> Iterator[list[str]]:
    # A handful of rows at most (one per operator calling): read at once.
    rows = conn.execute(
        f"SELECT l.kind, l.source_id, c.name, l.operator, l.session_id, l.since,"
        f" {ALIVE_SQL} FROM locks l LEFT JOIN clients c ON c.id = l.client_id"
        " LEFT JOIN sessions s ON s.id = l.session_id ORDER BY l.since, l.kind, l.source_id",
        (alive_since(policy, now),),
    ).fetchall()
    for kind, source_id, client, operator, session_id, since, alive in rows:
        yield [
            _row_key(kind, source_id),
            _text(client),
            operator,
            str(session_id),
            iso_time(since, policy),
            "1" if alive else "0",
        ]


def _audit(conn: Connection, policy: Policy, now: int, where: Filter) -> Iterator[list[str]]:
    conditions, params = where.conditions("at", "kind", "source_id")
    sql = (
        "SELECT id, at, operator, session_id, event, kind, source_id, client_id, detail"
        f" FROM audit WHERE {conditions}id > ? AND id <= ? ORDER BY id LIMIT ?"
    )
    for rows in _pages(conn, "audit", sql, params):
        for _id, at, operator, session_id, event, kind, source_id, client_id, detail in rows:
            yield [
                iso_time(at, policy),
                operator,
                _text(session_id),
                event,
                _row_key(kind, source_id),
                _text(client_id),
                detail,
            ]


def _call_list(conn: Connection, policy: Policy, now: int, where: Filter) -> Iterator[list[str]]:
    list_only = "i.list_id = ? AND " if where.list_id is not None else ""
    sql = (
        "SELECT i.id, l.name, i.client_id, c.name, i.note, i.processed_at, c.external_id,"
        " r.closed_at FROM call_list_items i JOIN call_lists l ON l.id = i.list_id"
        " LEFT JOIN clients c ON c.id = i.client_id"
        " LEFT JOIN call_rows r ON r.kind = 'item' AND r.source_id = i.id"
        f" WHERE {list_only}i.id > ? AND i.id <= ? ORDER BY i.id LIMIT ?"
    )
    params = [] if where.list_id is None else [where.list_id]
    for rows in _pages(conn, "call_list_items", sql, params):
        phones: dict[int, list[str]] = {}
        client_ids = sorted({row[2] for row in rows})
        marks = ",".join("?" * len(client_ids))
        for client_id, number in conn.execute(
            f"SELECT client_id, number FROM phones WHERE client_id IN ({marks})"
            " ORDER BY client_id, position",
            client_ids,
        ).fetchall():
            phones.setdefault(client_id, []).append(number)
        for _id, name, client_id, client, note, processed_at, external_id, row_closed_at in rows:
            state = (
                "processed"
                if processed_at is not None
                else "given up"
                if row_closed_at is not None
                else "pending"
            )
            yield [
                name,
                str(client_id),
                _text(client),
                ";".join(phones.get(client_id, ())),
                note,
                iso_time(processed_at, policy),
                _text(external_id),
                state,
            ]


_READERS: dict[str, Callable[[Connection, Policy, int, Filter], Iterator[list[str]]]] = {
    "clients": _clients,
    "appointments": _appointments,
    "tasks": _tasks,
    "calls": _calls,
    "locks": _locks,
    "audit": _audit,
    "call-list": _call_list,
}


def export_rows(
    conn: Connection,
    policy: Policy,
    kind: str,
    *,
    now: int,
    where: Filter | None = None,
) -> Iterator[list[str]]:
    """The data rows of one kind as text fields in COLUMNS order (no header).

    ``where`` filters the rows; ValueError for a filter the kind does not take.
    """
    if kind not in _READERS:
        raise ValueError(f"cannot export {kind!r}; choose one of {', '.join(KINDS)}")
    where = where or Filter()
    given = {name for name in ("since", "until", "list_id") if getattr(where, name) is not None}
    refused = given - FILTERS.get(kind, frozenset())
    if refused:
        raise ValueError(f"{kind} cannot be filtered by {', '.join(sorted(refused))}")
    return _READERS[kind](conn, policy, now, where)


def export_csv(
    conn: Connection,
    policy: Policy,
    kind: str,
    out: Writer,
    *,
    now: int,
    bom: bool = False,
    where: Filter | None = None,
) -> int:
    """Write one kind as CSV with a header row to ``out``; returns the number of data rows.

    ``now`` decides whether a lock's session is still alive; ``where`` filters.
    """
    rows = export_rows(conn, policy, kind, now=now, where=where)
    first = next(rows, None)  # the first read fixes which rows belong to the export
    return write_csv(
        out,
        COLUMNS[kind],
        itertools.chain(() if first is None else (first,), rows),
        bom=bom,
        texts=frozenset(COLUMNS[kind]) - VALUE_COLUMNS,
    )


def export_workbook(
    conn: Connection,
    policy: Policy,
    kind: str,
    out: str | Path | BinaryIO,
    *,
    now: int,
    where: Filter | None = None,
) -> int:
    """Write one kind as an Excel workbook (storage/export_workbook.py); returns the data rows."""
    rows = export_rows(conn, policy, kind, now=now, where=where)
    return write_workbook(out, kind, COLUMNS[kind], rows, policy.timezone)
