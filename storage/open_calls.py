"""The calls a session has open, and the ones it lost to a colleague or a supervisor.

An operator who quits (or leaves the work list) while holding a row is asked
first: :func:`open_calls` says what they hold, :func:`abort_open_calls` gives
it back. A lock taken over (C10) or released by a supervisor (B7) is noticed
through the audit trail (:func:`lost_calls`), so the operator hears of it at
once rather than when they try to save.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from storage.audit import audit
from storage.connection import Connection
from storage.engine import write
from storage.rows import RowKey
from storage.sessions import Session

# Audit events that end a lock without its holder's doing (storage.locks).
LOSING_EVENTS = ("takeover", "release-by-supervisor", "auto-removal")


@dataclass(frozen=True)
class OpenCall:
    """A row this session holds the lock of."""

    key: RowKey
    client: str
    since: int


@dataclass(frozen=True)
class LostCall:
    """A lock of this session that someone else ended."""

    key: RowKey
    client: str
    by: str  # the operator who took it over or released it
    at: int
    event: str  # one of LOSING_EVENTS


def open_calls(conn: Connection, session: Session) -> list[OpenCall]:
    """The rows locked by ``session``, oldest first."""
    rows = conn.execute(
        "SELECT l.kind, l.source_id, c.name, l.since FROM locks l"
        " JOIN clients c ON c.id = l.client_id WHERE l.session_id = ?"
        " ORDER BY l.since, l.kind, l.source_id",
        (session.id,),
    ).fetchall()
    return [OpenCall(RowKey(kind, source_id), name, since) for kind, source_id, name, since in rows]


def abort_open_calls(conn: Connection, session: Session, now: int) -> list[RowKey]:
    """Release every lock ``session`` still holds, without recording an outcome; the rows.

    One statement in one write transaction: a lock taken over since the operator was
    asked (listed, then gone) is simply not among them, never an error on the way out.
    """
    with write(conn):
        rows = conn.execute(
            "DELETE FROM locks WHERE session_id = ? RETURNING kind, source_id, client_id",
            (session.id,),
        ).fetchall()
        released = sorted(
            (RowKey(kind, source_id), client_id) for kind, source_id, client_id in rows
        )
        for key, client_id in released:
            audit(
                conn,
                now,
                session.operator,
                session.id,
                "abort",
                key,
                client_id,
                holder_session=session.id,
            )
    return [key for key, _client_id in released]


def last_audit_id(conn: Connection) -> int:
    """Where to start looking for lost calls: the newest audit entry now."""
    return int(conn.execute("SELECT coalesce(max(id), 0) FROM audit").fetchone()[0])


def lost_calls(conn: Connection, session: Session, after: int) -> tuple[list[LostCall], int]:
    """Locks of ``session`` ended by others in audit entries newer than ``after``.

    Returns them and the newest audit id seen (the next ``after``). Reads only
    the entries added since the last look, through the primary key.
    """
    newest = last_audit_id(conn)  # first: entries added meanwhile are read next time
    marks = ",".join("?" * len(LOSING_EVENTS))
    rows = conn.execute(
        "SELECT a.at, a.operator, a.event, a.kind, a.source_id, a.detail,"
        " coalesce(c.name, '') FROM audit a LEFT JOIN clients c ON c.id = a.client_id"
        f" WHERE a.id > ? AND a.id <= ? AND a.event IN ({marks}) ORDER BY a.id",
        (after, newest, *LOSING_EVENTS),
    ).fetchall()
    lost = []
    for at, operator, event, kind, source_id, detail, client in rows:
        try:
            holder_session = json.loads(detail).get("holder_session")
        except (ValueError, AttributeError):
            continue
        if holder_session == session.id:
            lost.append(LostCall(RowKey(kind, source_id), client, operator, at, event))
    return lost, newest


def save_note(conn: Connection, session: Session, key: RowKey, comment: str, now: int) -> None:
    """Add the operator's comment to the row's history as a note (no attempt, no lock).

    For a comment written while the call was taken over or released: it is
    kept for whoever calls the client next.
    """
    with write(conn):
        conn.execute(
            "INSERT INTO row_notes (kind, source_id, at, event, operator, since, written_by,"
            " comment) VALUES (?, ?, ?, 'note', ?, ?, ?, ?)",
            (
                key.kind,
                key.source_id,
                now,
                session.operator,
                now,
                session.operator,
                comment.strip(),
            ),
        )
        audit(conn, now, session.operator, session.id, "note", key)
