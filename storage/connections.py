"""Connections for a long-running app: one per thread, and one that watches for changes.

Each worker thread gets its own connection (sqlite3 connections belong to the
thread that made them), opened through storage.database.open_database like
every other connection.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from storage.changes import Changes, changes_since, latest
from storage.database import open_database


class ThreadConnections:
    """Hands each thread its own connection to one database, made on first use."""

    def __init__(self, path: str | Path) -> None:
        self.path = path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []

    def get(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = open_database(self.path, check_same_thread=False)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def close_all(self) -> None:
        """Close every connection; only when no thread uses them any more."""
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()


class ChangeWatcher:
    """Tells cheaply what others committed since the last look.

    First ``PRAGMA data_version`` (no read of the file: it changes when anyone
    commits); only when it moved, the change feed (storage.changes). So an idle
    clinic costs one pragma a second, and a heartbeat, which changes nothing
    shown, an empty read of the feed. data_version is per connection, so the
    watcher keeps one connection of its own, used by one thread at a time (the
    guard), whichever thread that is.
    """

    def __init__(self, path: str | Path) -> None:
        self._conn = open_database(path, check_same_thread=False)
        self._guard = threading.Lock()
        self._version = self._read()
        self._seq = latest(self._conn)

    def _read(self) -> int:
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def changes(self) -> Changes | None:
        """What changed since the last call; None when nobody committed at all."""
        with self._guard:
            version = self._read()
            if version == self._version:
                return None
            self._version = version
            found = changes_since(self._conn, self._seq)
            self._seq = found.seq
            return found

    def close(self) -> None:
        with self._guard:
            self._conn.close()
