"""The storage seam: what differs between database engines, behind one small interface.

Every SQL statement lives in storage/, written once. What a database engine
does its own way is an :class:`Engine`:

- opening a connection (:meth:`Engine.connect`): for SQLite a file on the
  server's own disk, WAL, ``synchronous=FULL``, busy handling, the schema
  migrated (storage/database.py);
- starting a write transaction (:func:`write`, which picks the engine by the
  connection): for SQLite ``BEGIN IMMEDIATE``, so a transaction that reads
  and then writes cannot be overtaken;
- noticing other sessions' commits (:meth:`Engine.watch`): for SQLite
  ``PRAGMA data_version`` and then the change feed (storage/changes.py);
- the clock that liveness and staleness are measured by (:meth:`Engine.now`).

The lock protocol (storage/locks.py) and the other storage modules use
:func:`write` from here and take ``now`` from their caller, who reads it from
the engine's clock; so a second engine is a module of its own and one more
case in :func:`open_engine` and :func:`write`, and no other module changes.
docs/design.md ("The storage seam") says what each engine must guarantee.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from storage.changes import Changes
from storage.connection import Connection
from storage.database import write as sqlite_write
from storage.sqlite_engine import SqliteEngine


class ChangeWatch(Protocol):
    """Tells what others committed since the last look; used by one thread at a time."""

    def changes(self) -> Changes | None:
        """What changed since the last call; None when nobody committed at all.

        Raises StorageError when the database cannot be read just now; the
        next call reports what changed meanwhile.
        """
        ...

    def close(self) -> None: ...


class Engine(Protocol):
    """One clinic database on one engine: how to open it, watch it and tell the time."""

    location: str  # the database as messages name it (a file path; never a password)

    def connect(
        self, *, create: bool = False, reading: bool = False, shared: bool = False
    ) -> Connection:
        """A connection, the schema brought up to date; StorageError with a sentence if not.

        ``create``: make the database if there is none. ``reading``: the caller
        only reads, so a user who may only read gets a read-only connection
        rather than a refusal. ``shared``: the connection is handed from thread
        to thread by an owner who lets one use it at a time.
        """
        ...

    def watch(self) -> ChangeWatch:
        """A watch on other sessions' commits, with a connection of its own."""
        ...

    def now(self) -> int:
        """Seconds since 1970 on the one clock every session of this database shares."""
        ...


def open_engine(location: str | Path) -> Engine:
    """The engine for ``--db``: today every location is an SQLite file."""
    return SqliteEngine(location)


def write(conn: Connection) -> AbstractContextManager[Connection]:
    """Run the block as one write transaction on ``conn``, begun as its engine begins one.

    What reads inside it cannot change before it commits; it commits at the
    end and rolls back on an error (which leaves as StorageError); a write
    inside a write is a savepoint of the outer one, so several protocol steps
    can be one transaction. The engine is told by the connection, since the
    code that writes holds only that: every connection today is SQLite's,
    begun with ``BEGIN IMMEDIATE`` (storage/database.py).
    """
    if not isinstance(conn, sqlite3.Connection):
        raise TypeError(f"no engine makes connections like {conn!r}")
    return sqlite_write(conn)


def is_server_address(location: str | Path) -> bool:
    """Whether ``--db`` names a PostgreSQL server (a URL) rather than an SQLite file."""
    return str(location).startswith(("postgresql://", "postgres://"))
