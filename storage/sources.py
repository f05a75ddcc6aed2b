"""The source of a call row: the appointment, call-list item or task it is about.

Read as the clinic's own records say now, when an operator activates a row
or a claim checks it. Apart from storage/rows.py (the rows' keys, which the
app needs to start) so that the app loads this when a list is opened
(docs/performance.md, "What loads before the first paint").
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.connection import Connection
from storage.policy import Policy
from storage.rows import APPOINTMENT, ITEM, RowKey


@dataclass(frozen=True)
class Source:
    """What the row is about, as the clinic's own records say now."""

    client_id: int
    is_open: bool  # the appointment, list item or task still needs this call


@dataclass(frozen=True)
class SourceSql:
    """How to read a row's source in SQL.

    ``table`` is the source, named ``src`` (keyed by ``src.id``), so that a
    query may join it where it likes; ``client`` is its client's id and
    ``is_open`` whether it still needs this call, both columns of ``src``;
    ``parameters`` are ``is_open``'s. ``shown`` is what the client pane's
    "Confirm:" line tells the operator of an appointment, which the patient
    then agrees to: its start and its doctor (two NULLs for other kinds; the
    service names what is done, not when or with whom). :func:`read_source`
    and the lock protocol's reads of a row (storage/locks.py) use it.
    """

    client: str
    is_open: str
    table: str
    parameters: tuple[object, ...]
    shown: tuple[str, str] = ("NULL", "NULL")

    @property
    def columns(self) -> str:
        """The client's id and whether the source still needs this call."""
        return f"{self.client}, {self.is_open}"


def source_sql(policy: Policy, kind: str) -> SourceSql:
    """How to read the source of a row of ``kind`` in SQL (:class:`SourceSql`)."""
    if kind == APPOINTMENT:
        marks = ",".join("?" * len(policy.open_statuses))
        return SourceSql(
            "src.client_id",
            f"src.status IN ({marks})",
            "appointments src",
            tuple(policy.open_statuses),
            ("src.starts_at", "src.doctor"),
        )
    if kind == ITEM:
        return SourceSql(
            "src.client_id",
            "src.processed_at IS NULL"
            " AND (SELECT closed_at FROM call_lists WHERE id = src.list_id) IS NULL",
            "call_list_items src",
            (),
        )
    return SourceSql("src.client_id", "src.done_at IS NULL", "tasks src", ())


def read_source(conn: Connection, policy: Policy, key: RowKey) -> Source | None:
    """The row's client and whether its source still needs a call (None: it is gone)."""
    sql = source_sql(policy, key.kind)
    row = conn.execute(
        f"SELECT {sql.columns} FROM {sql.table} WHERE src.id = ?",
        (*sql.parameters, key.source_id),
    ).fetchone()
    return None if row is None else Source(int(row[0]), bool(row[1]))


@dataclass(frozen=True)
class Subject:
    """What the call is about, for the client pane: why the operator is calling."""

    kind: str
    at: int | None  # the appointment's start or the task's due time
    title: str  # the service, the call list's name, or the task kind
    detail: str  # the doctor, the item's note, or the task's title
    status: str = ""  # the appointment's confirmation status


def read_subject(conn: Connection, key: RowKey) -> Subject | None:
    """The row's subject as its source says now (None: the source is gone)."""
    if key.kind == APPOINTMENT:
        row = conn.execute(
            "SELECT starts_at, service, doctor, status FROM appointments WHERE id = ?",
            (key.source_id,),
        ).fetchone()
        return None if row is None else Subject(key.kind, row[0], row[1], row[2], row[3])
    if key.kind == ITEM:
        row = conn.execute(
            "SELECT l.name, i.note FROM call_list_items i JOIN call_lists l ON l.id = i.list_id"
            " WHERE i.id = ?",
            (key.source_id,),
        ).fetchone()
        return None if row is None else Subject(key.kind, None, row[0], row[1])
    row = conn.execute(
        "SELECT due_at, kind, title FROM tasks WHERE id = ?", (key.source_id,)
    ).fetchone()
    return None if row is None else Subject(key.kind, row[0], row[1], row[2])
