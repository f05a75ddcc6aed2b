"""The change feed: what committed writes changed, so open screens re-read only that.

Every write that changes something a work list or the list picker shows is
recorded in the ``changes`` table, in the same transaction, by the triggers
that migration 5 puts on the tables behind the lists (:data:`FEED_TRIGGERS`,
made by storage/schema.py on SQLite and by storage/postgres_schema.py on
PostgreSQL, which also notifies listeners at commit); so no write path can
forget to record, and a write that changes nothing shown (a heartbeat, an
audit entry) records nothing. Each change names one thing:

- ``appointment``, ``item`` or ``task`` with the source id: that call row (its
  lock, calling state, attempts or source changed); ``list_id`` is the call
  list of an item;
- ``client`` with the client's id: the name, phones or do-not-call flag, so
  every row of that client;
- ``list`` with a call list's id: the list itself (made, closed, reopened,
  deleted).

Readers ask :func:`changes_since` with the last sequence number they saw.
``seq`` only grows; :func:`prune` (run with the heartbeat) keeps the newest
:data:`KEEP` changes, and a reader that fell further behind is told to read
everything again (``complete`` is False), as it is when more changed at once
than is worth following one by one (an import). This module is the only reader
of the table, so another engine can feed the same :class:`Changes` from its
own notifications.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from storage.connection import Connection
from storage.id_sequences import catch_up_ids

KEEP = 10_000  # changes kept for readers that fall behind (a few minutes of a busy clinic)
FOLLOW_AT_MOST = 2_000  # more changes than this at once: read everything again

CLIENT = "client"
LIST = "list"
# PostgreSQL: a transaction that sets this to 'on' (set_config(..., true), until it ends)
# records no changes (bulk_load; the triggers of storage/postgres_schema.py heed it).
QUIET = "ringround.bulk_load"


@dataclass(frozen=True)
class Change:
    kind: str  # appointment, item, task, client or list
    ref: int  # the source id, client id or call list id
    list_id: int | None = None  # the call list of an item


@dataclass(frozen=True)
class Changes:
    """What changed after sequence number ``since`` up to ``seq``."""

    since: int
    seq: int
    changes: frozenset[Change]
    complete: bool  # False: too much, or too long ago, to follow; read everything again

    @property
    def nothing(self) -> bool:
        return self.complete and not self.changes


def latest(conn: Connection) -> int:
    """The newest sequence number (0 for none): where a reader that has just read starts."""
    row = conn.execute("SELECT max(seq) FROM changes").fetchone()
    return int(row[0] or 0)


def changes_since(conn: Connection, since: int) -> Changes:
    """The changes committed after ``since`` (one statement, so one consistent view)."""
    rows = conn.execute(
        "SELECT seq, kind, ref, list_id, (SELECT min(seq) FROM changes) FROM changes"
        " WHERE seq > ? ORDER BY seq LIMIT ?",
        (since, FOLLOW_AT_MOST + 1),
    ).fetchall()
    if not rows:
        return Changes(since, since, frozenset(), True)
    first = rows[0][4]
    complete = len(rows) <= FOLLOW_AT_MOST and first <= since + 1
    if not complete:
        return Changes(since, latest(conn), frozenset(), False)
    found = frozenset(Change(kind, ref, list_id) for _seq, kind, ref, list_id, _first in rows)
    return Changes(since, rows[-1][0], found, True)


def prune(conn: Connection) -> None:
    """Forget all but the newest KEEP changes; only inside a write transaction."""
    conn.execute("DELETE FROM changes WHERE seq <= (SELECT max(seq) FROM changes) - ?", (KEEP,))


@contextmanager
def bulk_load(conn: Connection) -> Iterator[None]:
    """Fill many rows without a change recorded for each (the demo clinic, a copy, benchmarks).

    Only inside a write transaction. On SQLite the triggers are dropped and
    made again in the same transaction; on PostgreSQL the transaction sets
    :data:`QUIET`, which its triggers heed (no DDL, so no table locks that
    would stop readers). Either way the changes before are forgotten with a
    gap in ``seq``, so a screen that has the database open reads everything
    again.
    """
    on_sqlite = isinstance(conn, sqlite3.Connection)
    if on_sqlite:
        for trigger in FEED_TRIGGERS:
            conn.execute(f"DROP TRIGGER IF EXISTS {trigger.name}")
    else:
        conn.execute("SELECT set_config(?, 'on', true)", (QUIET,))
    yield
    if on_sqlite:
        for statement in TRIGGERS[1:]:
            conn.execute(statement)
    else:
        conn.execute("SELECT set_config(?, 'off', true)", (QUIET,))
    before = latest(conn)
    conn.execute("DELETE FROM changes")
    conn.execute("INSERT INTO changes (seq, kind, ref) VALUES (?, ?, 0)", (before + 2, LIST))
    catch_up_ids(conn)  # PostgreSQL: the next seq follows the one written here


@dataclass(frozen=True)
class FeedTrigger:
    """One trigger of the change feed: after ``event`` on a row of ``table``, ``insert`` runs.

    ``insert`` is one INSERT INTO changes statement reading the row as NEW (OLD
    after a DELETE), in SQL that SQLite and PostgreSQL both accept; each engine
    wraps it its own way (:attr:`sqlite` here, storage/postgres_schema.py there).
    """

    name: str
    event: str  # INSERT, UPDATE, DELETE, or UPDATE OF a column
    table: str
    insert: str

    @property
    def sqlite(self) -> str:
        return (
            f"CREATE TRIGGER {self.name} AFTER {self.event} ON {self.table}"
            f" BEGIN {self.insert}; END"
        )


def _trigger(name: str, event: str, table: str, values: str) -> FeedTrigger:
    insert = f"INSERT INTO changes (kind, ref, list_id) VALUES ({values})"
    return FeedTrigger(f"changes_{name}", event, table, insert)


def _item_list(ref: str) -> str:
    return (
        f"CASE {ref}.kind WHEN 'item' THEN (SELECT list_id FROM call_list_items"
        f" WHERE id = {ref}.source_id) END"
    )


def _state(table: str, events: tuple[str, ...]) -> list[FeedTrigger]:
    """Tables keyed by (kind, source_id): locks, call_rows, attempts, row_notes."""
    triggers = []
    for event in events:
        ref = "OLD" if event == "DELETE" else "NEW"
        triggers.append(
            _trigger(
                f"{table}_{event.lower()}",
                event,
                table,
                f"{ref}.kind, {ref}.source_id, {_item_list(ref)}",
            )
        )
    return triggers


def _source(table: str, kind: str, list_column: str | None) -> list[FeedTrigger]:
    """Tables that are the source of call rows: appointments, call_list_items, tasks."""
    triggers = []
    for event in ("INSERT", "UPDATE", "DELETE"):
        ref = "OLD" if event == "DELETE" else "NEW"
        list_id = f"{ref}.{list_column}" if list_column else "NULL"
        triggers.append(
            _trigger(f"{table}_{event.lower()}", event, table, f"'{kind}', {ref}.id, {list_id}")
        )
    return triggers


def _simple(table: str, kind: str, column: str, events: tuple[str, ...]) -> list[FeedTrigger]:
    triggers = []
    for event in events:
        ref = "OLD" if event == "DELETE" else "NEW"
        triggers.append(
            _trigger(f"{table}_{event.lower()}", event, table, f"'{kind}', {ref}.{column}, NULL")
        )
    return triggers


_ENDED = "UPDATE OF ended_at"
_ENDED_LOCKS = (
    "INSERT INTO changes (kind, ref, list_id) SELECT l.kind, l.source_id,"
    " CASE l.kind WHEN 'item' THEN (SELECT list_id FROM call_list_items WHERE id = l.source_id)"
    " END FROM locks l WHERE l.session_id = NEW.id"
)

# What each engine's triggers record, the same rows on both.
FEED_TRIGGERS: tuple[FeedTrigger, ...] = (
    *_state("locks", ("INSERT", "UPDATE", "DELETE")),
    *_state("call_rows", ("INSERT", "UPDATE", "DELETE")),
    *_state("attempts", ("INSERT", "UPDATE", "DELETE")),
    *_state("row_notes", ("INSERT",)),
    *_source("appointments", "appointment", None),
    *_source("call_list_items", "item", "list_id"),
    *_source("tasks", "task", None),
    *_simple("clients", CLIENT, "id", ("UPDATE", "DELETE")),
    *_simple("phones", CLIENT, "client_id", ("INSERT", "UPDATE", "DELETE")),
    *_simple("call_lists", LIST, "id", ("INSERT", "UPDATE", "DELETE")),
    # A session that ends changes how its locks are shown (no longer alive).
    FeedTrigger("changes_session_end", _ENDED, "sessions", _ENDED_LOCKS),
)

# Migration 5 (storage/schema.py): the table and the triggers that fill it, on SQLite.
TRIGGERS: tuple[str, ...] = (
    """CREATE TABLE changes (
        seq INTEGER PRIMARY KEY,  -- grows with every change; pruning keeps the newest
        kind TEXT NOT NULL,       -- appointment, item, task (a call row), client or list
        ref INTEGER NOT NULL,     -- the source id, client id or call list id
        list_id INTEGER           -- the call list of an item
    )""",
    *(trigger.sqlite for trigger in FEED_TRIGGERS),
)
