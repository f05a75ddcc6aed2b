"""Moving a whole clinic from one database to another (``ringround copy FROM TO``).

A clinic moves from its SQLite file to PostgreSQL when it joins a chain, or
back. What moves, table by table (:data:`COPIED`, parents before children):
everything a clinic has written - settings, clients and phones, appointments,
tasks, call lists and their items, sessions, calling state (call_rows), locks,
attempts, row notes and the audit trail. What does not:

- ``changes``, the change feed (storage/changes.py): it only tells open
  screens what to read again since they last looked, and a new database has
  no open screens; the target starts a feed of its own (:func:`bulk_load`);
- the schema's own bookkeeping (its version): both databases are at the
  current version once opened.

The copy is refused while anyone works on FROM (a live session, by the
policy's ``alive_for``): their later saves would be missing from the copy, so
every ringround on it must stop first. Sessions that ended or whose app
stopped are copied, with the locks they left (C9): the moved clinic shows the
same rows locked as the old one would. A target that holds anything is
refused before anything is written to it.

How it is done: one write transaction on each side. The one on FROM holds it
still while it is read (no operator can start or save meanwhile); the one on
TO receives every row, or none. Ids are kept as they are, since every
reference and the audit chain (each entry's hash covers its content, the
chain runs in id order) depend on them, and so is the audit trail's "highest
id ever given", so that entries deleted from the end of FROM's trail still
show as missing in TO's. Before TO commits, each table is read back from TO
and compared with what was read from FROM: the row count and a checksum
(:class:`Tally`); if anything differs TO rolls back and stays empty.

The checksum is computed here in Python from the values as the engine
returns them (integers, text, NULL), so it is the same on either engine: the
SHA-256 of each row's JSON, added up modulo 2**256. A sum does not depend on
the order the rows come in, which differs between engines for text keys
(each engine sorts text by its own collation); every row still counts, a
changed, missing or extra row changes the sum. Rows are read in primary-key
order, a page at a time, so memory stays small for a clinic of any size.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache

from storage.audit import highest_id
from storage.changes import bulk_load
from storage.connection import Connection
from storage.database import StorageError
from storage.engine import is_server_address, location_of, write
from storage.errors import EXIT_BAD_INPUT, BadInput
from storage.i18n import _, ngettext
from storage.id_sequences import (
    catch_up_ids,
    highest_id_goes_back_with_a_failed_save,
    set_highest_id_given,
)
from storage.policy import Policy
from storage.schema_parts import layouts
from storage.sessions import ALIVE_SQL, alive_since

# Parents before children, so every reference points at a row already there.
COPIED = (
    "settings",
    "clients",
    "phones",
    "appointments",
    "tasks",
    "call_lists",
    "call_list_items",
    "sessions",
    "call_rows",
    "locks",
    "attempts",
    "row_notes",
    "audit",
)
# Tables of the schema that are not copied, and why (the module's docstring says more).
NOT_COPIED = {"changes": "the change feed of open screens; the target starts its own"}

PAGE = 5000  # rows read at a time
AUDIT_MARK = "audit: highest id ever given"  # what the audit's checksum also covers

Progress = Callable[[str, int, int], None]  # (table, rows copied, rows in all)


class NotEmpty(StorageError):
    """The target already holds a clinic's data; a copy never mixes with it."""

    exit_code = EXIT_BAD_INPUT


class NothingToCopy(StorageError):
    """The source holds no clinic (every table is empty): most likely the wrong database."""

    exit_code = EXIT_BAD_INPUT


class PeopleAtWork(StorageError):
    """Operators are working on the source; their saves would be missing from the copy."""


class CopyDiffers(StorageError):
    """What the target received is not what was read from the source; it was rolled back."""

    def __init__(self, message: str, tallies: Sequence[TablePair]) -> None:
        super().__init__(message)
        self.tallies = tuple(tallies)


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]  # the primary key: the order rows are read in, page by page
    kinds: tuple[type, ...]  # what each column holds: int (INTEGER) or str (TEXT)


@cache
def tables() -> tuple[Table, ...]:
    """The copied tables with their columns and keys, as the migrations make them.

    Read from the schema itself (storage/schema_parts.py), so a column a later
    migration adds is copied without a change here.
    """
    found = layouts()
    return tuple(Table(name, *found[name]) for name in COPIED)


@dataclass
class Tally:
    """The row count and checksum of one table, added up row by row."""

    rows: int = 0
    sum: int = 0

    def add(self, row: Sequence[object]) -> None:
        self.rows += 1
        self.cover(row)

    def cover(self, values: Sequence[object]) -> None:
        """Let the checksum cover ``values`` too (not a row: the count stays)."""
        payload = json.dumps(list(values), ensure_ascii=False, separators=(",", ":"))
        digest = hashlib.sha256(payload.encode("utf-8")).digest()
        self.sum = (self.sum + int.from_bytes(digest, "big")) % 2**256

    @property
    def checksum(self) -> str:
        return f"{self.sum:064x}"


@dataclass(frozen=True)
class TablePair:
    """One table's tally on each side."""

    table: str
    source: Tally
    target: Tally

    @property
    def same(self) -> bool:
        return self.source == self.target


def _pages(conn: Connection, table: Table) -> Iterator[list[tuple[object, ...]]]:
    """The table's rows in primary-key order, PAGE at a time (the key where the last one ended)."""
    columns = ", ".join(table.columns)
    order = ", ".join(table.key)
    after = f"({order}) > ({', '.join('?' for _ in table.key)})"
    at = [table.columns.index(column) for column in table.key]
    last: tuple[object, ...] | None = None
    while True:
        if last is None:
            sql = f"SELECT {columns} FROM {table.name} ORDER BY {order} LIMIT ?"
            params: tuple[object, ...] = (PAGE,)
        else:
            sql = f"SELECT {columns} FROM {table.name} WHERE {after} ORDER BY {order} LIMIT ?"
            params = (*last, PAGE)
        rows = [tuple(row) for row in conn.execute(sql, params).fetchall()]
        if rows:
            yield rows
        if len(rows) < PAGE:
            return
        last = tuple(rows[-1][i] for i in at)


def tally(conn: Connection, table: Table) -> Tally:
    """Count and checksum one table as ``conn`` sees it."""
    found = Tally()
    for page in _pages(conn, table):
        for row in page:
            found.add(row)
    if table.name == "audit":
        found.cover((AUDIT_MARK, highest_id(conn)))
    return found


def _highest_to_carry(source: Connection, target: Connection) -> int:
    """The audit trail's highest id ever given, as the target is to keep it: the source's.

    But from a PostgreSQL sequence, which skips ids of its own accord (after a server
    crash, a switch to the standby, a failed save: a warning there), into SQLite's count,
    which takes every id no entry holds for a deleted entry: the newest entry's id, so
    that the copy does not call those ids deleted (storage.id_sequences).
    """
    if highest_id_goes_back_with_a_failed_save(
        target
    ) and not highest_id_goes_back_with_a_failed_save(source):
        return int(source.execute("SELECT coalesce(max(id), 0) FROM audit").fetchone()[0])
    return highest_id(source)


def _refuse_people_at_work(conn: Connection, shown: str, policy: Policy, now: int) -> None:
    found = conn.execute(
        f"SELECT DISTINCT s.operator FROM sessions s WHERE {ALIVE_SQL} = 1 ORDER BY s.operator",
        (alive_since(policy, now),),
    ).fetchall()
    if found:
        names = ", ".join(str(row[0]) for row in found)
        raise PeopleAtWork(
            ngettext(
                "{names} is working in {source}; every ringround on it must stop before it "
                "is copied, or their later saves would be missing from the copy.",
                "{names} are working in {source}; every ringround on it must stop before it "
                "is copied, or their later saves would be missing from the copy.",
                len(found),
            ).format(names=names, source=shown)
        )


def _holding(conn: Connection) -> list[str]:
    """The copied tables that hold at least one row."""
    return [
        table.name
        for table in tables()
        if conn.execute(f"SELECT 1 FROM {table.name} LIMIT 1").fetchone() is not None
    ]


def _refuse_nothing_to_copy(conn: Connection, shown: str) -> None:
    if not _holding(conn):
        raise NothingToCopy(
            _(
                "{source} holds no clinic yet (every table is empty); there is nothing to copy."
            ).format(source=shown)
        )


def _refuse_not_empty(conn: Connection, shown: str) -> None:
    holding = _holding(conn)
    if holding:
        raise NotEmpty(
            _(
                "{target} is not empty (it holds {tables}); copy only into a new database, "
                "so that nothing in it is mixed with or lost under the copy."
            ).format(target=shown, tables=", ".join(holding))
        )


def copy_clinic(
    source: Connection,
    target: Connection,
    *,
    shown: tuple[str, str],
    policy: Policy,
    now: int,
    progress: Progress | None = None,
) -> list[TablePair]:
    """Copy every table of ``source`` into the empty ``target``; the tallies of both sides.

    ``shown`` names the two databases in messages, as their engines do;
    ``now`` is on the source's clock (who is alive there). Raises NotEmpty,
    NothingToCopy, PeopleAtWork, BadInput (a value PostgreSQL cannot store) or CopyDiffers (after
    rolling the target back).
    """
    # Said at once, before waiting for either side's writers; said again inside the writes,
    # where it holds until the end. Two ways to name one database (two spellings of one
    # server's address) are refused here too, before a second write could wait on the first.
    _refuse_nothing_to_copy(source, shown[0])
    _refuse_not_empty(target, shown[1])
    pairs: list[TablePair] = []
    with write(source), write(target):
        _refuse_people_at_work(source, shown[0], policy, now)
        _refuse_nothing_to_copy(source, shown[0])
        _refuse_not_empty(target, shown[1])
        with bulk_load(target):  # no change recorded for each copied row
            for table in tables():
                read = _copy_table(source, target, table, progress, shown[0])
                if table.name == "audit":
                    highest = _highest_to_carry(source, target)
                    read.cover((AUDIT_MARK, highest))
                    set_highest_id_given(target, "audit", highest)
                pairs.append(TablePair(table.name, read, tally(target, table)))
        catch_up_ids(target)  # PostgreSQL: the next new rows get ids after the copied ones
        differing = [pair.table for pair in pairs if not pair.same]
        if differing:
            raise CopyDiffers(
                _(
                    "The copy in {target} differs from {source} in {tables}; nothing was "
                    "kept in {target}."
                ).format(
                    source=shown[0],
                    target=shown[1],
                    tables=", ".join(differing),
                ),
                pairs,
            )
    return pairs


def _kind_of(value: object) -> str:
    """A value's kind, in words, for a refusal."""
    if isinstance(value, str):
        return _("text")
    if isinstance(value, float):
        return _("a fraction")
    if isinstance(value, bytes):
        return _("binary data")
    return _("a whole number")


def _refuse_unstorable(page: Sequence[Sequence[object]], table: Table, shown: str) -> None:
    """A value PostgreSQL cannot store as it is: BadInput naming its row and column, before
    the server's error. An SQLite file keeps whatever another program wrote: a text with
    NUL, or a value of another kind than its column's (text, a fraction or binary data in
    an INTEGER column, which PostgreSQL refuses or rounds; binary data in a TEXT one)."""
    for row in page:
        for column, kind, value in zip(table.columns, table.kinds, row, strict=True):
            if isinstance(value, str) and "\x00" in value:
                raise BadInput(
                    _(
                        "{source} holds a NUL character in {table} {key}, column {column}, "
                        "which PostgreSQL cannot store; correct it there and copy again."
                    ).format(source=shown, table=table.name, key=row[0], column=column)
                )
            if value is not None and type(value) is not kind:
                raise BadInput(
                    _(
                        "{source} holds {found} in {table} {key}, column {column}, where "
                        "PostgreSQL keeps only {kept}; correct it there and copy again."
                    ).format(
                        source=shown,
                        found=_kind_of(value),
                        table=table.name,
                        key=row[0],
                        column=column,
                        kept=_("whole numbers") if kind is int else _("text"),
                    )
                )


def _copy_table(
    source: Connection,
    target: Connection,
    table: Table,
    progress: Progress | None,
    source_shown: str,
) -> Tally:
    """Insert every row of one table into the target; the tally of the rows read."""
    read = Tally()
    total = int(source.execute(f"SELECT count(*) FROM {table.name}").fetchone()[0])
    insert = (
        f"INSERT INTO {table.name} ({', '.join(table.columns)})"
        f" VALUES ({', '.join('?' for _ in table.columns)})"
    )
    if progress is not None:
        progress(table.name, 0, total)
    stores_anything = not is_server_address(location_of(target))
    for page in _pages(source, table):
        if not stores_anything:
            _refuse_unstorable(page, table, source_shown)
        target.executemany(insert, page)
        for row in page:
            read.add(row)
        if progress is not None:
            progress(table.name, read.rows, max(total, read.rows))
    return read
