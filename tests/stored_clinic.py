"""The clinic as the storage tests see it: an empty database they fill row by row.

The database is a file or a PostgreSQL database (its ``location``, as
``--db`` takes it). Records are added with plain SQL inside
``storage.engine.write``, the same on both engines, so that the
tests do not depend on the import or demo code they may be checking. The app
tests use the fixed clinic of tests/clinic_fixtures.py (``DeskClinic``)
instead; each has its fixture in tests/conftest.py (``clinic`` and ``desk``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from storage.connection import Connection
from storage.engine import write
from storage.locks import lock_holder, release_lock
from storage.policy import default_policy
from storage.rows import RowKey
from storage.sessions import Session, start_session

CLINIC_ZONE = default_policy().timezone

# Wednesday 12 March 2025, 10:00 in the clinic's time zone: a working day
# whose "tomorrow" is a working day too.
NOW = int(datetime(2025, 3, 12, 10, 0, tzinfo=CLINIC_ZONE).timestamp())


def clinic_time(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    """Seconds since 1970 of a wall-clock moment in the clinic's time zone."""
    return int(datetime(year, month, day, hour, minute, tzinfo=CLINIC_ZONE).timestamp())


class StoredClinic:
    """Adds clients, appointments, tasks and call lists to one database."""

    def __init__(self, conn: Connection, location: str | Path) -> None:
        self.conn = conn
        self.location = str(location)  # a file, or a postgresql:// URL

    def add_client(
        self,
        name: str = "Client",
        phones: tuple[str, ...] = ("+7 900 000-00-00",),
        *,
        birth_date: str | None = None,
        do_not_call: bool = False,
        email: str = "",
        notes: str = "",
    ) -> int:
        with write(self.conn):
            client_id = int(
                self.conn.execute(
                    "INSERT INTO clients (name, birth_date, email, notes, do_not_call)"
                    " VALUES (?, ?, ?, ?, ?) RETURNING id",
                    (name, birth_date, email, notes, int(do_not_call)),
                ).fetchone()[0]
            )
            self.conn.executemany(
                "INSERT INTO phones (client_id, position, number, digits) VALUES (?, ?, ?, ?)",
                [
                    (client_id, position, number, "".join(c for c in number if c.isdigit()))
                    for position, number in enumerate(phones, start=1)
                ],
            )
        return client_id

    def add_appointment(
        self,
        client_id: int,
        starts_at: int,
        *,
        status: str = "unconfirmed",
        doctor: str = "Dr. House",
        service: str = "Check-up",
    ) -> int:
        with write(self.conn):
            return int(
                self.conn.execute(
                    "INSERT INTO appointments (client_id, starts_at, doctor, service, status)"
                    " VALUES (?, ?, ?, ?, ?) RETURNING id",
                    (client_id, starts_at, doctor, service, status),
                ).fetchone()[0]
            )

    def add_task(
        self, client_id: int, kind: str, due_at: int, *, title: str = "", done_at: int | None = None
    ) -> int:
        with write(self.conn):
            return int(
                self.conn.execute(
                    "INSERT INTO tasks (client_id, kind, title, due_at, done_at)"
                    " VALUES (?, ?, ?, ?, ?) RETURNING id",
                    (client_id, kind, title, due_at, done_at),
                ).fetchone()[0]
            )

    def add_call_list(
        self, name: str, client_ids: list[int], *, created_at: int = NOW
    ) -> tuple[int, list[int]]:
        """A call list with one pending item per client: (list id, item ids in order)."""
        with write(self.conn):
            list_id = int(
                self.conn.execute(
                    "INSERT INTO call_lists (name, created_at, created_by) VALUES (?, ?, 'root')"
                    " RETURNING id",
                    (name, created_at),
                ).fetchone()[0]
            )
            items = [
                int(
                    self.conn.execute(
                        "INSERT INTO call_list_items (list_id, client_id) VALUES (?, ?) RETURNING "
                        "id",
                        (list_id, client_id),
                    ).fetchone()[0]
                )
                for client_id in client_ids
            ]
        return list_id, items

    def add_clients_on_list(self, count: int, name: str = "List") -> tuple[int, list[int]]:
        """``count`` new clients, each with one item on a new call list."""
        with write(self.conn):
            self.conn.executemany(
                "INSERT INTO clients (name) VALUES (?)",
                [(f"Client {n}",) for n in range(count)],
            )
            ids = [
                row[0]
                for row in self.conn.execute(
                    "SELECT id FROM clients ORDER BY id DESC LIMIT ?", (count,)
                )
            ]
        return self.add_call_list(name, sorted(ids))

    def session(
        self, operator: str = "alice", now: int = NOW, *, supervisor: bool = False
    ) -> Session:
        return start_session(self.conn, operator, now, supervisor=supervisor)

    def scalar(self, sql: str, params: tuple[object, ...] = ()) -> object:
        return self.conn.execute(sql, params).fetchone()[0]


def release_held(conn: Connection, session: Session, key: RowKey, now: int) -> str:
    """``session`` releases the lock ``key`` holds now; returns whose it was."""
    holder = lock_holder(conn, key)
    assert holder is not None, f"{key} holds no lock"
    release_lock(conn, session, holder, now)
    return holder.operator
