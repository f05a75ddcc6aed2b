"""Connections for a long-running app: one per thread.

Each worker thread gets its own connection (an SQLite connection belongs to
the thread that made it), opened by the engine like every other connection.
"""

from __future__ import annotations

import threading

from storage.connection import Connection
from storage.engine import Engine


class ThreadConnections:
    """Hands each thread its own connection to one database, made on first use."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[Connection] = []

    def get(self) -> Connection:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.engine.connect(shared=True)
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
