"""The SQLite engine: one database file on the clinic server's own disk (storage/engine.py).

Opening and write transactions are storage/database.py's (WAL,
``synchronous=FULL``, busy handling; ``BEGIN IMMEDIATE``, which
storage.engine.write begins for SQLite connections); noticing commits is
:class:`ChangeWatcher`; the clock is the server's own. Every session of an
SQLite database runs on the one computer that holds the file (WAL needs
shared memory, docs/sqlite.md), so that computer's clock is the one clock all
of them share, and liveness and staleness mean the same for every operator.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from storage.changes import Changes, changes_since, latest
from storage.connection import Connection
from storage.database import (
    FileIdentity,
    check_in_place,
    check_integrity,
    database_gone,
    database_path,
    describe,
    file_identity,
    open_database,
    still_in_place,
)


class SqliteEngine:
    """An SQLite database file; follows storage.engine.Engine.

    The engine keeps to the file its first connection opened: once that file
    is deleted, renamed or replaced, a new connection is refused (DatabaseGone)
    rather than opened on whatever has the name now, or on a new empty file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.location = str(path)
        self._first: FileIdentity | None = None  # the file the first connection opened

    def connect(
        self, *, create: bool = False, reading: bool = False, shared: bool = False
    ) -> sqlite3.Connection:
        if self._first is not None and not still_in_place(self.path, self._first):
            raise database_gone(self.location)
        conn = open_database(
            self.path, create=create, reading=reading, check_same_thread=not shared
        )
        if self._first is None:
            self._first = file_identity(self.path)
        return conn

    def watch(self) -> ChangeWatcher:
        conn = self.connect(shared=True)
        try:
            return ChangeWatcher(conn)
        except BaseException:
            conn.close()
            raise

    def check_integrity(self, conn: Connection) -> None:
        check_integrity(conn, self.location)

    def now(self) -> int:
        return int(time.time())

    def resync(self, conn: Connection) -> None:
        """Nothing to read: this computer's clock is the one clock (see above)."""


class ChangeWatcher:
    """Tells cheaply what others committed since the last look.

    First a stat() of the file: DatabaseGone when it was deleted, renamed or
    replaced (storage.database.check_in_place). Then ``PRAGMA data_version`` (no
    read of the file: it changes when anyone commits); only when it moved, the
    change feed (storage.changes). So an idle clinic costs one stat and one
    pragma a second, and a heartbeat, which changes nothing shown, an empty
    read of the feed. data_version is per connection, so the
    watcher keeps one connection of its own, used by one thread at a time (the
    guard), whichever thread that is.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._shown = database_path(conn)
        self._guard = threading.Lock()
        self._closed = threading.Event()
        self._version = self._read()
        self._seq = latest(self._conn)

    def _read(self) -> int:
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def changes(self) -> Changes | None:
        """What changed since the last call; None when nobody committed at all."""
        with self._guard:
            check_in_place(self._conn, working_files=False)  # one stat() a look
            try:
                version = self._read()
                if version == self._version:
                    return None
                found = changes_since(self._conn, self._seq)
            except sqlite3.Error as error:
                raise describe(error, self._shown) from None
            self._version = version
            self._seq = found.seq
            return found

    def wait(self, seconds: float) -> None:
        """SQLite announces nothing: the next look is after ``seconds`` (sooner if closed)."""
        self._closed.wait(seconds)

    def close(self) -> None:
        self._closed.set()
        with self._guard:
            self._conn.close()
