"""The supervisor's view (B7): who is online, what each operator holds, and release.

Everything here needs the supervisor role: each function checks
``session.supervisor`` itself and raises :class:`storage.errors.NotAllowed`
otherwise, whatever the screen offered. Releases go through
:func:`storage.locks.release_lock`, which audits them.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.connection import Connection
from storage.errors import NotAllowed
from storage.i18n import _
from storage.locks import Holder, LockChangedHands, release_lock
from storage.policy import Policy
from storage.rows import APPOINTMENT, ITEM, TASK, RowKey
from storage.sessions import ALIVE_SQL, Session, alive_since


@dataclass(frozen=True)
class OnlineSession:
    """A running app whose heartbeat is recent (C13)."""

    id: int
    operator: str
    pid: int
    host: str
    tty: str
    started_at: int
    heartbeat_at: int
    locks: int  # rows this session holds now


@dataclass(frozen=True)
class HeldLock:
    """A lock as the supervisor sees it: whose, on what, since when, and is the owner there."""

    key: RowKey
    client_id: int
    client: str
    list_name: str  # the call list's name or the task's kind; "" for confirmation
    subject: str  # the appointment's service or the task's title ("" for list items)
    starts_at: int | None  # the appointment's start (appointment rows)
    operator: str
    session_id: int
    host: str
    tty: str
    since: int
    epoch: int
    alive: bool  # the holder's session is still running
    stale: bool  # held longer than the policy's stale_after


@dataclass(frozen=True)
class Overview:
    sessions: tuple[OnlineSession, ...]
    locks: tuple[HeldLock, ...]


def _require_supervisor(session: Session, message: str) -> None:
    """NotAllowed with ``message`` (translated, with {operator}) unless a supervisor asks."""
    if not session.supervisor:
        raise NotAllowed(message.format(operator=session.operator))


def _may_look(session: Session) -> None:
    _require_supervisor(
        session,
        _("Only a supervisor may see who is online and what they hold; {operator} is not one."),
    )


def online_sessions(
    conn: Connection, policy: Policy, session: Session, now: int
) -> list[OnlineSession]:
    """Sessions alive now, by operator, with how many rows each holds."""
    _may_look(session)
    rows = conn.execute(
        "SELECT s.id, s.operator, s.pid, s.host, s.tty, s.started_at, s.heartbeat_at,"
        " (SELECT count(*) FROM locks l WHERE l.session_id = s.id)"
        f" FROM sessions s WHERE {ALIVE_SQL} = 1 ORDER BY s.operator, s.started_at, s.id",
        (alive_since(policy, now),),
    ).fetchall()
    return [OnlineSession(*row) for row in rows]


def held_locks(conn: Connection, policy: Policy, session: Session, now: int) -> list[HeldLock]:
    """Every lock, by operator and then oldest first, with what the row is about."""
    _may_look(session)
    rows = conn.execute(
        "SELECT l.kind, l.source_id, l.client_id, coalesce(c.name, ''),"
        " CASE l.kind WHEN ? THEN cl.name WHEN ? THEN t.kind END,"
        " CASE l.kind WHEN ? THEN a.service WHEN ? THEN t.title END,"
        " CASE l.kind WHEN ? THEN a.starts_at END,"
        " l.operator, l.session_id, coalesce(s.host, ''), coalesce(s.tty, ''), l.since, l.epoch,"
        f" {ALIVE_SQL}"
        " FROM locks l"
        " LEFT JOIN sessions s ON s.id = l.session_id"
        " LEFT JOIN clients c ON c.id = l.client_id"
        " LEFT JOIN appointments a ON l.kind = ? AND a.id = l.source_id"
        " LEFT JOIN call_list_items i ON l.kind = ? AND i.id = l.source_id"
        " LEFT JOIN call_lists cl ON cl.id = i.list_id"
        " LEFT JOIN tasks t ON l.kind = ? AND t.id = l.source_id"
        " ORDER BY l.operator, l.since, l.kind, l.source_id",
        (
            ITEM,
            TASK,
            APPOINTMENT,
            TASK,
            APPOINTMENT,
            alive_since(policy, now),
            APPOINTMENT,
            ITEM,
            TASK,
        ),
    ).fetchall()
    return [
        HeldLock(
            key=RowKey(kind, source_id),
            client_id=client_id,
            client=client,
            list_name=list_name or "",
            subject=subject or "",
            starts_at=starts_at,
            operator=operator,
            session_id=session_id,
            host=host,
            tty=tty,
            since=since,
            epoch=epoch,
            alive=bool(alive),
            stale=now - since >= policy.stale_after,
        )
        for (
            kind,
            source_id,
            client_id,
            client,
            list_name,
            subject,
            starts_at,
            operator,
            session_id,
            host,
            tty,
            since,
            epoch,
            alive,
        ) in rows
    ]


def overview(conn: Connection, policy: Policy, session: Session, now: int) -> Overview:
    """Both listings of the supervisor screen."""
    return Overview(
        tuple(online_sessions(conn, policy, session, now)),
        tuple(held_locks(conn, policy, session, now)),
    )


def release_held_lock(conn: Connection, session: Session, lock: HeldLock, now: int) -> bool:
    """Release ``lock`` if the row still holds exactly that lock (same session and claim).

    False, and nothing released, when the lock has gone or passed to someone
    else since the supervisor saw it: they must look again rather than
    release a different operator's call. Audited as ``release-by-supervisor``
    (``abort`` for the supervisor's own lock).
    """
    _require_supervisor(
        session, _("Only a supervisor may release another operator's lock; {operator} is not one.")
    )
    try:
        release_lock(
            conn, session, Holder(lock.key, lock.operator, lock.session_id, lock.epoch), now
        )
    except LockChangedHands:
        return False
    return True
