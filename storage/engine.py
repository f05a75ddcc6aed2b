"""The storage seam: what differs between database engines, behind one small interface.

Every SQL statement lives in storage/, written once. What a database engine
does its own way is an :class:`Engine`:

- opening a connection (:meth:`Engine.connect`): for SQLite a file on the
  server's own disk, WAL, ``synchronous=FULL``, busy handling, the schema
  migrated (storage/database.py); for PostgreSQL a connection to the server
  made to behave as SQLite's (storage/postgres_connection.py), the schema
  migrated (storage/postgres_schema.py);
- refusing a damaged database before the first write
  (:meth:`Engine.check_integrity`);
- starting a write transaction (:func:`write`, which picks the engine by the
  connection): for SQLite ``BEGIN IMMEDIATE``, for PostgreSQL ``BEGIN`` and
  the writers' advisory lock; either way writers take turns, so a
  transaction that reads and then writes cannot be overtaken;
- noticing other sessions' commits (:meth:`Engine.watch`): for SQLite
  ``PRAGMA data_version``, for PostgreSQL LISTEN/NOTIFY, and then the change
  feed (storage/changes.py);
- the clock that liveness and staleness are measured by (:meth:`Engine.now`):
  the SQLite server's own, the PostgreSQL server's for every application
  server (:meth:`Engine.resync`).

The lock protocol (storage/locks.py) and the other storage modules use
:func:`write` from here and take ``now`` from their caller, who reads it from
the engine's clock; so a second engine is a module of its own and one more
case in :func:`open_engine` and :func:`write`, and no other module changes.
Nothing on the SQLite path imports psycopg: the PostgreSQL modules are
imported when a ``postgresql://`` location is opened.
docs/design.md ("The storage seam") says what each engine must guarantee.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from storage.changes import Changes
from storage.connection import Connection
from storage.database import database_path
from storage.database import write as sqlite_write
from storage.errors import BadInput
from storage.i18n import _
from storage.sqlite_engine import SqliteEngine


class ChangeWatch(Protocol):
    """Tells what others committed since the last look; used by one thread at a time."""

    def changes(self) -> Changes | None:
        """What changed since the last call; None when nobody committed at all.

        Raises StorageError when the database cannot be read just now; the
        next call reports what changed meanwhile. An SQLite file deleted,
        renamed or replaced raises DatabaseGone at every look until it is back.
        """
        ...

    def wait(self, seconds: float) -> None:
        """Return after ``seconds``, or sooner: when a commit may have been announced, or
        when the watch is closed. Reads nothing (the next :meth:`changes` does)."""
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

    def check_integrity(self, conn: Connection) -> None:
        """Refuse (NotADatabase) a damaged database before anything is written to it."""
        ...

    def now(self) -> int:
        """Seconds since 1970 on the one clock every session of this database shares."""
        ...

    def resync(self, conn: Connection) -> None:
        """Read that clock again through ``conn``, if it is another computer's (the heartbeat)."""
        ...


def open_engine(location: str | Path) -> Engine:
    """The engine for ``--db``: a ``postgresql://`` URL's server, or an SQLite file.

    BadInput when the URL holds a password, or when psycopg (the extra
    ``ringround[postgresql]``) is not installed.
    """
    if not is_server_address(location):
        return SqliteEngine(location)
    if holds_password(str(location)):
        raise BadInput(
            _(
                "A password does not belong in the database address, where others can read it "
                "(ps, shell history); put it in ~/.pgpass, PGPASSWORD or a service file."
            )
        )
    try:
        from storage.postgres_engine import PostgresEngine
    except ModuleNotFoundError as error:
        if error.name is None or error.name.partition(".")[0] != "psycopg":
            raise
        raise BadInput(
            _(
                "{location} is a PostgreSQL database, and this ringround was installed without "
                "PostgreSQL support; install it with pip install 'ringround[postgresql]'."
            ).format(location=location)
        ) from None
    return PostgresEngine(str(location))


def write(conn: Connection) -> AbstractContextManager[Connection]:
    """Run the block as one write transaction on ``conn``, begun as its engine begins one.

    What reads inside it cannot change before it commits; it commits at the
    end and rolls back on an error (which leaves as StorageError); a write
    inside a write is a savepoint of the outer one, so several protocol steps
    can be one transaction. The engine is told by the connection, since the
    code that writes holds only that: an SQLite connection begins with
    ``BEGIN IMMEDIATE`` (storage/database.py), any other is PostgreSQL's
    (storage/postgres_connection.py, imported already by whoever made it).
    """
    if isinstance(conn, sqlite3.Connection):
        return sqlite_write(conn)
    from storage.postgres_connection import write as postgres_write

    return postgres_write(conn)


def location_of(conn: Connection) -> str:
    """The database ``conn`` is connected to, as messages name it (never with a password)."""
    if isinstance(conn, sqlite3.Connection):
        return database_path(conn)
    from storage.postgres_connection import PostgresConnection

    assert isinstance(conn, PostgresConnection), conn
    return conn.location


def is_server_address(location: str | Path) -> bool:
    """Whether ``--db`` names a PostgreSQL server (a URL) rather than an SQLite file."""
    return str(location).startswith(("postgresql://", "postgres://"))


def holds_password(address: str) -> bool:
    """Whether a server's address carries a password: ``user:password@`` or ``?password=``.

    An address whose host part cannot be read (a ``[`` without its ``]``) is
    judged by its user part alone.
    """
    try:
        parts = urlsplit(address)
    except ValueError:  # "Invalid IPv6 URL"
        return ":" in address.partition("//")[2].partition("/")[0].rpartition("@")[0]
    return parts.password is not None or "password" in parse_qs(parts.query)
