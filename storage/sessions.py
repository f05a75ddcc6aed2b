"""Operator sessions: one per running app, alive while its heartbeat is recent (C13)."""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass

from storage.changes import prune
from storage.connection import Connection
from storage.engine import write
from storage.policy import Policy


@dataclass(frozen=True)
class Session:
    """Who is acting: the session's id, its operator, and whether they are a supervisor."""

    id: int
    operator: str
    supervisor: bool = False


def _terminal() -> str:
    for stream in (sys.stdin, sys.stdout):
        try:
            return os.ttyname(stream.fileno())
        except (OSError, ValueError, AttributeError):
            continue
    return ""


def start_session(
    conn: Connection, operator: str, now: int, *, supervisor: bool = False
) -> Session:
    with write(conn):
        row = conn.execute(
            "INSERT INTO sessions (operator, pid, host, tty, started_at, heartbeat_at)"
            " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (operator, os.getpid(), socket.gethostname(), _terminal(), now, now),
        ).fetchone()
    return Session(int(row[0]), operator, supervisor)


def heartbeat(conn: Connection, session: Session, now: int) -> None:
    """The session is alive; also the moment old changes are pruned from the change feed."""
    with write(conn):
        conn.execute(
            "UPDATE sessions SET heartbeat_at = ? WHERE id = ? AND ended_at IS NULL",
            (now, session.id),
        )
        prune(conn)


def end_session(conn: Connection, session: Session, now: int) -> None:
    """A clean exit: the session is gone at once (its locks stay, C9)."""
    with write(conn):
        conn.execute(
            "UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
            (now, session.id),
        )


def alive_since(policy: Policy, now: int) -> int:
    """A session whose last heartbeat is at or after this moment is alive."""
    return now - policy.alive_for


ALIVE_SQL = "(CASE WHEN s.ended_at IS NULL AND s.heartbeat_at >= ? THEN 1 ELSE 0 END)"
"""1 when the `sessions s` row is alive, else 0 (also when a LEFT JOIN found none); bind
alive_since(policy, now). An integer, not a condition, so that both engines read it alike:
compare it (``= 1``) in a WHERE."""
