"""The lock protocol: who may call a row, and saving what came of the call.

Every function here runs its writes in one write transaction
(``storage.engine.write``: ``BEGIN IMMEDIATE`` on SQLite, so nobody commits
between what a step reads and what it writes) and records each lock event in
the audit table. Times come in as ``now``, read by the caller from the
engine's clock (docs/design.md, "The storage seam").
A claim bumps the row's epoch; finishing deletes the lock only where session
and epoch are still the caller's, so an operator whose lock was taken over
or removed can never save over the new owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storage.audit import audit
from storage.connection import Connection, execute_soon, preparable
from storage.database import StorageError
from storage.engine import write
from storage.errors import EXIT_BAD_INPUT, NotAllowed, RingroundError
from storage.i18n import _
from storage.policy import Outcome, Policy
from storage.rows import APPOINTMENT, ITEM, TASK, RowKey
from storage.sessions import ALIVE_SQL, Session, alive_since
from storage.sources import Source, source_sql


@dataclass(frozen=True)
class Lock:
    """A lock as someone activating the row sees it."""

    operator: str
    session_id: int
    since: int
    epoch: int
    alive: bool  # the holder's session is still running
    stale: bool  # held longer than the policy's stale_after
    mine: bool  # held by the asking session
    mine_earlier: bool  # held by the same operator's session that is gone (C9)
    mine_elsewhere: bool  # held by the same operator's other live session (another window)
    host: str = ""  # where the holder's session runs: the server's name
    tty: str = ""  # and its terminal (e.g. /dev/pts/3), as the session recorded them

    @property
    def ours(self) -> bool:
        """Held by the asking operator, in this session or another."""
        return self.mine or self.mine_earlier or self.mine_elsewhere

    @property
    def offers_takeover(self) -> bool:
        """Someone else's stale lock whose owner is still working (C10)."""
        return self.stale and self.alive and not self.ours


@dataclass(frozen=True)
class Refusal:
    """Why a row cannot be called now, in words the UI can render.

    reason is one of: "locked", "missing", "closed", "do-not-call", "call-back",
    "personal-call-back", "too-soon", "attempt-cap".
    """

    reason: str
    lock: Lock | None = None
    until: int | None = None  # when the row becomes callable (time-based reasons)
    operator: str | None = None  # whose personal call-back it is


@dataclass(frozen=True)
class Claim:
    """A lock this session holds: the ticket needed to finish or abort the call."""

    key: RowKey
    client_id: int
    session_id: int
    epoch: int
    since: int


@dataclass(frozen=True)
class RowState:
    """What activating a row shows (C2, C8–C12)."""

    key: RowKey
    lock: Lock | None
    refusal: Refusal | None  # None: the row can be called right now
    removed_stale_lock: str | None  # operator whose dead, stale lock was just removed
    last_comment: str | None


class CallBackNotInFuture(StorageError):
    """The outcome asks for a call-back, and no time in the future was given."""

    exit_code = EXIT_BAD_INPUT


class NotLocked(StorageError):
    """A lock was to be released, and the row holds none."""

    exit_code = EXIT_BAD_INPUT


class LockLost(RingroundError):
    """The caller's lock was taken over or removed: nothing was saved."""

    def __init__(self, holder: str | None, *, own_window: bool = False) -> None:
        self.holder = holder
        if own_window:
            message = _(
                "This call was taken over in another window of yours; nothing was saved here."
            )
        elif holder:
            message = _(
                "Your lock on this row was taken over by {operator}; nothing was saved."
            ).format(operator=holder)
        else:
            message = _("Your lock on this row was removed; nothing was saved.")
        super().__init__(message)


# A row's lock and whether its holder's session is alive (bind alive_since first).
_LOCK_COLUMNS = (
    f"l.operator, l.session_id, l.since, l.epoch, {ALIVE_SQL},"
    " coalesce(s.host, ''), coalesce(s.tty, '')"
)


def _lock_of(policy: Policy, session: Session, columns: tuple[Any, ...], now: int) -> Lock | None:
    """The lock :data:`_LOCK_COLUMNS` read; None when there is none."""
    operator, session_id, since, epoch, alive, host, tty = columns
    if operator is None:
        return None
    mine = session_id == session.id
    other_own = not mine and operator == session.operator
    return Lock(
        operator=operator,
        session_id=session_id,
        since=since,
        epoch=epoch,
        alive=bool(alive),
        stale=now - since >= policy.stale_after,
        mine=mine,
        mine_earlier=other_own and not alive,
        mine_elsewhere=other_own and bool(alive),
        host=host,
        tty=tty,
    )


def _read_lock(
    conn: Connection, policy: Policy, session: Session, key: RowKey, now: int
) -> Lock | None:
    row = conn.execute(
        f"SELECT {_LOCK_COLUMNS} FROM locks l LEFT JOIN sessions s ON s.id = l.session_id"
        " WHERE l.kind = ? AND l.source_id = ?",
        (alive_since(policy, now), key.kind, key.source_id),
    ).fetchone()
    return None if row is None else _lock_of(policy, session, tuple(row), now)


@dataclass(frozen=True)
class _RowRead:
    """A row as the lock protocol reads it in one statement."""

    lock: Lock | None
    refusal: Refusal | None  # why it may not be called now, locks aside; None: it may
    client_id: int | None  # None: the source is gone
    epoch: int  # the row's epoch (0: never claimed)
    shown: tuple[Any, Any]  # what a claim shows of the source (SourceSql.shown)


def _read_row(
    conn: Connection, policy: Policy, session: Session, key: RowKey, now: int
) -> _RowRead:
    """The row's lock and whether it may be called now, locks aside (one round trip to a
    database server): the source, its calling state and the client's do-not-call flag."""
    source = source_sql(policy, key.kind)
    # The CASTs give the row's key a type of its own, so a server can prepare the statement.
    row = conn.execute(
        preparable(
            f"SELECT {_LOCK_COLUMNS}, src.id, {source.columns}, r.closed_at,"
            " coalesce(r.failed_attempts, 0), r.not_before, r.callback_at, r.callback_operator,"
            f" c.do_not_call, coalesce(r.epoch, 0), {', '.join(source.shown)}"
            " FROM (SELECT CAST(? AS TEXT) AS kind, CAST(? AS BIGINT) AS source_id) k"
            " LEFT JOIN locks l ON l.kind = k.kind AND l.source_id = k.source_id"
            " LEFT JOIN sessions s ON s.id = l.session_id"
            f" LEFT JOIN {source.table} ON src.id = k.source_id"
            " LEFT JOIN call_rows r ON r.kind = k.kind AND r.source_id = k.source_id"
            " LEFT JOIN clients c ON c.id = src.client_id"
        ),
        (alive_since(policy, now), *source.parameters, key.kind, key.source_id),
    ).fetchone()
    lock = _lock_of(policy, session, tuple(row[:7]), now)
    epoch, shown = int(row[16]), (row[17], row[18])
    if row[7] is None:
        return _RowRead(lock, Refusal("missing"), None, epoch, shown)
    client_id = int(row[8])
    refusal = _refusal(policy, session, Source(client_id, bool(row[9])), tuple(row[10:16]), now)
    return _RowRead(lock, refusal, client_id, epoch, shown)


def _remove_dead_stale_lock(
    conn: Connection, session: Session, key: RowKey, lock: Lock, now: int
) -> bool:
    """C11: inside a write transaction, delete a stale lock whose session is gone."""
    gone = conn.execute(
        "DELETE FROM locks WHERE kind = ? AND source_id = ? AND session_id = ? AND epoch = ?"
        " RETURNING client_id",
        (key.kind, key.source_id, lock.session_id, lock.epoch),
    ).fetchone()
    if gone is None:
        return False
    audit(
        conn,
        now,
        session.operator,
        session.id,
        "auto-removal",
        key,
        gone[0],
        holder=lock.operator,
        holder_session=lock.session_id,
        since=lock.since,
    )
    return True


def _note_stale_lock(conn: Connection, session: Session, key: RowKey, lock: Lock, now: int) -> None:
    """C10: once per lock, add a note about it to the row's comment history."""
    noted = conn.execute(
        "UPDATE locks SET stale_noted = 1 WHERE kind = ? AND source_id = ? AND session_id = ?"
        " AND epoch = ? AND stale_noted = 0 RETURNING client_id",
        (key.kind, key.source_id, lock.session_id, lock.epoch),
    ).fetchone()
    if noted is None:
        return
    conn.execute(
        "INSERT INTO row_notes (kind, source_id, at, event, operator, since, written_by)"
        " VALUES (?, ?, ?, 'stale-lock', ?, ?, ?)",
        (key.kind, key.source_id, now, lock.operator, lock.since, session.operator),
    )
    audit(
        conn,
        now,
        session.operator,
        session.id,
        "stale-noted",
        key,
        noted[0],
        holder=lock.operator,
        holder_session=lock.session_id,
        since=lock.since,
    )


def _expire(
    conn: Connection, policy: Policy, session: Session, key: RowKey, now: int
) -> tuple[Lock | None, str | None]:
    """C10/C11 checks inside a write transaction: (the lock left, whose lock was removed)."""
    return _expire_lock(conn, session, key, _read_lock(conn, policy, session, key, now), now)


def _expire_lock(
    conn: Connection, session: Session, key: RowKey, lock: Lock | None, now: int
) -> tuple[Lock | None, str | None]:
    """:func:`_expire` of the lock read already inside the same write transaction."""
    if lock is None or not lock.stale:
        return lock, None
    if not lock.alive:
        _remove_dead_stale_lock(conn, session, key, lock, now)
        return None, lock.operator
    if not lock.ours:
        _note_stale_lock(conn, session, key, lock, now)
    return lock, None


def _refusal(
    policy: Policy, session: Session, source: Source, state: tuple[Any, ...], now: int
) -> Refusal | None:
    """Why a row whose source and calling state (:func:`_read_row`) are these may not be
    called now, locks aside; None when it may."""
    closed_at, failed, not_before, callback_at, callback_operator, do_not_call = state
    if not source.is_open or closed_at is not None:
        return Refusal("closed")
    if do_not_call:
        return Refusal("do-not-call")
    if failed >= policy.max_attempts:
        return Refusal("attempt-cap")
    if callback_at is not None:
        # Another operator's promise: told when they may call, before the promised time too.
        handover = callback_at + policy.personal_callback_grace
        if callback_operator not in (None, session.operator) and handover > now:
            return Refusal("personal-call-back", until=handover, operator=callback_operator)
        if callback_at > now:
            return Refusal("call-back", until=callback_at, operator=callback_operator)
    elif not_before is not None and not_before > now:
        return Refusal("too-soon", until=not_before)
    return None


def last_comment(conn: Connection, key: RowKey) -> str | None:
    """The newest non-empty comment written on the row, for the next caller (C6)."""
    row = conn.execute(
        "SELECT comment FROM attempts WHERE kind = ? AND source_id = ? AND comment != ''"
        " ORDER BY ended_at DESC, id DESC LIMIT 1",
        (key.kind, key.source_id),
    ).fetchone()
    return None if row is None else str(row[0])


def inspect_row(
    conn: Connection, policy: Policy, session: Session, key: RowKey, now: int
) -> RowState:
    """Activation of a row (C12): apply C10/C11, then report lock, callability, comment.

    A cheap read first; only a stale lock needs a write transaction.
    """
    read = _read_row(conn, policy, session, key, now)
    lock = read.lock
    removed = None
    if lock is not None and lock.stale:  # what C10/C11 change is the lock, nothing else read
        with write(conn):
            lock, removed = _expire(conn, policy, session, key, now)
    if lock is not None and not (lock.mine or lock.mine_earlier):
        refusal: Refusal | None = Refusal("locked", lock=lock)
    else:
        refusal = read.refusal
    return RowState(key, lock, refusal, removed, last_comment(conn, key))


# Whether the row's call is closed (NULL: the row was never claimed, it has no call row),
# and whether anyone holds it: from the call row and the locks alone (two index lookups).
_CALL_STATE = preparable(
    "SELECT (SELECT closed_at IS NOT NULL FROM call_rows WHERE kind = ? AND source_id = ?),"
    " EXISTS (SELECT 1 FROM locks WHERE kind = ? AND source_id = ?)"
)
_CLOSED = Refusal("closed")


def _plain_refusal(
    conn: Connection, policy: Policy, session: Session, key: RowKey, now: int
) -> Refusal | None:
    """Why a claim cannot pass, from plain reads; None when only the write transaction can tell.

    The call row and the lock are read first, and two kinds of row need
    nothing more: one whose call is closed and that nobody holds is
    refused (nothing opens a closed call row again; the full read would refuse
    it as closed too), and one that nobody ever claimed nor holds goes to the
    write, whose own read decides (the full read could only refuse it as
    missing, closed in the clinic's records or do-not-call, which a screen
    showed before the operator asked for it; the write refuses those too).
    These are what most claims meet when several operators go through one
    list. The full read also reads the holder's session, the source, its call
    list and the client, and after another writer's commit SQLite reads every
    page it needs from the file again; a database server plans and runs the
    joins and sends the wider row, which the client then reads. So this
    halves what a refused claim costs the processor, and spares a won claim a
    read (docs/performance.md).
    """
    state = (key.kind, key.source_id)
    closed, held = conn.execute(_CALL_STATE, state + state).fetchone()
    if not held and closed:
        return _CLOSED
    if not held and closed is None:
        return None
    read = _read_row(conn, policy, session, key, now)
    lock = read.lock
    if lock is not None:
        if lock.stale or lock.mine or lock.mine_earlier:
            return None  # the stale rules or the operator's own lock: the write decides
        return Refusal("locked", lock=lock)
    return read.refusal


def claim_row(
    conn: Connection,
    policy: Policy,
    session: Session,
    key: RowKey,
    now: int,
    *,
    take_over: Lock | None = None,
) -> Claim | Refusal:
    """Start a call (C4): lock the row in the transaction that checks it is still open.

    A lock of the same operator's session that is gone passes to this session
    (C9). Two locks pass only when ``take_over`` is that very lock (same session
    and epoch), which the operator confirmed: another operator's stale lock
    whose owner is alive (C10), and the operator's own call open in their other
    live window. It is a compare-and-swap, so a takeover loses to a finish or
    claim that came first.

    A claim that a plain read already shows cannot pass (another operator's
    lock that is not stale, a row closed or not callable now) is refused
    without a write transaction, so it never waits for the other writers:
    a refusal read a moment early is the one the operator would have got a
    moment earlier (a row nobody ever claimed goes to the write
    without that read: :func:`_plain_refusal`). Everything that may lead to a
    lock is decided again inside the write transaction.
    """
    if take_over is None:
        refusal = _plain_refusal(conn, policy, session, key, now)
        if refusal is not None:
            return refusal
    with write(conn):
        read = _read_row(conn, policy, session, key, now)
        # C10/C11 change the lock only: what else the statement read still holds after.
        lock, _ = _expire_lock(conn, session, key, read.lock, now)
        if lock is not None and not (lock.mine or lock.mine_earlier):
            offered = (
                (lock.offers_takeover or lock.mine_elsewhere)
                and take_over is not None
                and (take_over.session_id, take_over.epoch) == (lock.session_id, lock.epoch)
            )
            if not offered:
                return Refusal("locked", lock=lock)
        if read.refusal is not None:
            return read.refusal
        client_id = read.client_id
        assert client_id is not None
        if lock is not None and lock.mine:
            return Claim(key, client_id, session.id, lock.epoch, lock.since)
        # The epoch read inside this write is the row's: nobody else writes before it ends.
        epoch = read.epoch + 1
        execute_soon(
            conn,
            preparable(
                "INSERT INTO call_rows (kind, source_id, client_id, epoch) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (kind, source_id) DO UPDATE SET epoch = excluded.epoch"
            ),
            (key.kind, key.source_id, client_id, epoch),
        )
        if lock is None:
            # No lock can appear inside a write transaction; if one did, the primary key
            # would refuse this one and the whole claim would fail: refuse, never share.
            execute_soon(
                conn,
                preparable(
                    "INSERT INTO locks (kind, source_id, client_id, session_id, operator,"
                    " since, epoch, shown_starts_at, shown_doctor) VALUES (?, ?, ?, ?, ?, ?, ?,"
                    " ?, ?)"
                ),
                (
                    key.kind,
                    key.source_id,
                    client_id,
                    session.id,
                    session.operator,
                    now,
                    epoch,
                    *read.shown,
                ),
            )
            audit(conn, now, session.operator, session.id, "claim", key, client_id)
        else:
            conn.execute(
                "UPDATE locks SET session_id = ?, operator = ?, since = ?, epoch = ?,"
                " stale_noted = 0, shown_starts_at = ?, shown_doctor = ? WHERE kind = ?"
                " AND source_id = ? AND session_id = ? AND epoch = ?",
                (
                    session.id,
                    session.operator,
                    now,
                    epoch,
                    *read.shown,
                    key.kind,
                    key.source_id,
                    lock.session_id,
                    lock.epoch,
                ),
            )
            audit(
                conn,
                now,
                session.operator,
                session.id,
                "takeover",
                key,
                client_id,
                holder=lock.operator,
                holder_session=lock.session_id,
                since=lock.since,
                holder_alive=lock.alive,
            )
        return Claim(key, client_id, session.id, epoch, now)


@dataclass(frozen=True)
class Moved:
    """An open appointment the clinic's records moved since it was claimed."""

    shown_at: int  # its start and doctor as the claim showed them to the operator
    shown_doctor: str
    starts_at: int  # and as the records say now
    doctor: str


@dataclass(frozen=True)
class Finished:
    """What saving an outcome did to the row."""

    closed: bool  # the row left the work lists
    unreachable: bool  # closed because the attempt cap was reached
    # The clinic's records closed the row's source during the call (an import cancelled or
    # confirmed the appointment or marked the task done, the call list was closed): the
    # outcome's effect was not applied over them.
    records_changed: bool = False
    # The clinic's records moved the appointment during the call: nothing was saved but the
    # lock's release; the patient agreed to what the operator was shown, not to this.
    moved: Moved | None = None


def _moved(shown: tuple[Any, ...], now: tuple[Any, ...]) -> Moved | None:
    """The move of the appointment a lock showed as ``shown`` (NULLs: not an appointment, or
    claimed before migration 6) and the records say is ``now``; None if it did not move."""
    if shown[0] is None or now[0] is None or tuple(shown) == tuple(now):
        return None
    return Moved(int(shown[0]), str(shown[1]), int(now[0]), str(now[1]))


def _apply_effect(
    conn: Connection, policy: Policy, key: RowKey, outcome: Outcome, now: int
) -> None:
    """C7: change the appointment, list item or task as the outcome says."""
    status = outcome.appointment_status
    if outcome.closes and outcome.completes:
        if key.kind == APPOINTMENT:
            status = status or policy.confirmed_status
        elif key.kind == ITEM:
            execute_soon(
                conn,
                preparable("UPDATE call_list_items SET processed_at = ? WHERE id = ?"),
                (now, key.source_id),
            )
        elif key.kind == TASK:
            execute_soon(
                conn, preparable("UPDATE tasks SET done_at = ? WHERE id = ?"), (now, key.source_id)
            )
    if key.kind == APPOINTMENT and status is not None:
        execute_soon(
            conn,
            preparable("UPDATE appointments SET status = ? WHERE id = ?"),
            (status, key.source_id),
        )


def finish_call(
    conn: Connection,
    policy: Policy,
    session: Session,
    claim: Claim,
    outcome_code: str,
    comment: str,
    now: int,
    *,
    callback_at: int | None = None,
    callback_anyone: bool = False,
    mode: str = "manual",
    number: str = "",
) -> Finished:
    """C5: record the attempt, apply the effect and release the lock, all in one transaction.

    Raises LockLost (and saves nothing) if the lock is no longer this claim's.

    An appointment still open but moved since the claim (another start or
    doctor than the operator was shown, ``Finished.moved``): the patient
    agreed to the old one, so nothing is saved but the lock's release (and its
    audit): no attempt, no count, no effect; the row is callable again.

    A claim is made only on an open row, so a source found closed here was
    closed by the clinic's records during the call (an import, a list closed):
    those are newer than what the operator knew. The attempt is recorded, counted
    and the lock released, but the outcome changes neither the source nor the
    row's calling state: both stay as the records left them (``records_changed``).
    """
    outcome = policy.outcome(outcome_code)
    if outcome.asks_callback and (callback_at is None or callback_at <= now):
        raise CallBackNotInFuture(_("This outcome needs a call-back time in the future."))
    key = claim.key
    source = source_sql(policy, key.kind)
    with write(conn):
        # The release reads, in the same statement, the row's count of failed attempts,
        # whether its source still needs the call (NULL: the source is gone), and what the
        # claim showed of it and what its records say now.
        now_shown = ", ".join(
            column  # NULL: a kind that shows nothing of this sort (no look-up)
            if column == "NULL"
            else f"(SELECT {column} FROM {source.table} WHERE src.id = locks.source_id)"
            for column in source.shown
        )
        released = conn.execute(
            preparable(
                "DELETE FROM locks WHERE kind = ? AND source_id = ? AND session_id = ?"
                " AND epoch = ? RETURNING since, coalesce((SELECT failed_attempts"
                " FROM call_rows r WHERE r.kind = locks.kind AND r.source_id = locks.source_id),"
                f" 0), (SELECT {source.is_open} FROM {source.table}"
                " WHERE src.id = locks.source_id), shown_starts_at, shown_doctor,"
                f" {now_shown}"
            ),
            (key.kind, key.source_id, claim.session_id, claim.epoch, *source.parameters),
        ).fetchone()
        if released is None:
            holder = conn.execute(
                "SELECT operator FROM locks WHERE kind = ? AND source_id = ?",
                (key.kind, key.source_id),
            ).fetchone()
            if holder is None:
                raise LockLost(None)
            raise LockLost(str(holder[0]), own_window=holder[0] == session.operator)
        moved = _moved(released[3:5], released[5:7]) if released[2] else None
        if moved is not None:
            audit(
                conn,
                now,
                session.operator,
                session.id,
                "release",
                key,
                claim.client_id,
                outcome=outcome.code,
                moved_from=moved.shown_at,
                moved_to=moved.starts_at,
            )
            return Finished(closed=False, unreachable=False, moved=moved)  # commits the release
        execute_soon(
            conn,
            preparable(
                "INSERT INTO attempts (kind, source_id, client_id, operator, session_id,"
                " started_at, ended_at, mode, number, outcome, comment, callback_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            (
                key.kind,
                key.source_id,
                claim.client_id,
                session.operator,
                session.id,
                released[0],
                now,
                mode,
                number,
                outcome.code,
                comment.strip(),
                callback_at if outcome.asks_callback else None,
            ),
        )
        # The count read with the lock's release is the row's: nobody else writes before
        # this write ends. One UPDATE writes the row's new state.
        failed = int(released[1]) + int(outcome.failed)
        records_changed = not released[2]
        unreachable = outcome.failed and failed >= policy.max_attempts and not records_changed
        closed = records_changed or outcome.closes or unreachable
        if records_changed:
            state = ""  # the attempt only: the records decide the rest
            values: tuple[object, ...] = ()
        elif closed:
            reason = "unreachable" if unreachable and not outcome.closes else outcome.code
            state = (
                ", closed_at = ?, closed_reason = ?, callback_at = NULL, callback_operator = NULL"
            )
            values = (now, reason)
        elif outcome.asks_callback:
            state = ", callback_at = ?, callback_operator = ?, not_before = NULL"
            values = (callback_at, None if callback_anyone else session.operator)
        else:
            wait = max(policy.min_gap, outcome.retry_after or 0)
            state = ", not_before = ?, callback_at = NULL, callback_operator = NULL"
            values = (now + wait,)
        execute_soon(
            conn,
            preparable(
                f"UPDATE call_rows SET failed_attempts = ?, last_attempt_at = ?{state}"
                " WHERE kind = ? AND source_id = ?"
            ),
            (failed, now, *values, key.kind, key.source_id),
        )
        if not records_changed:
            _apply_effect(conn, policy, key, outcome, now)
        if outcome.do_not_call:
            execute_soon(
                conn, "UPDATE clients SET do_not_call = 1 WHERE id = ?", (claim.client_id,)
            )
            audit(
                conn,
                now,
                session.operator,
                session.id,
                "card-edit",
                key,
                claim.client_id,
                field="do_not_call",
                old=False,
                new=True,
            )
        audit(
            conn,
            now,
            session.operator,
            session.id,
            "release",
            key,
            claim.client_id,
            outcome=outcome.code,
            unreachable=unreachable,
            **({"records_changed": True} if records_changed else {}),
        )
    return Finished(closed=closed, unreachable=unreachable, records_changed=records_changed)


def saved_finish(conn: Connection, claim: Claim) -> Finished | None:
    """What the finish of ``claim`` did, if it was saved already; None if it was not.

    A finish whose COMMIT reached a database server that then stopped
    answering may have been saved without its caller hearing so. Trying again
    is refused (its lock is gone, LockLost); this tells that case apart from a
    lock taken over or removed: the attempt the finish wrote (this session,
    started when the claim was made) is there.
    """
    key = claim.key
    row = conn.execute(
        "SELECT r.closed_at, r.closed_reason FROM attempts a"
        " JOIN call_rows r ON r.kind = a.kind AND r.source_id = a.source_id"
        " WHERE a.kind = ? AND a.source_id = ? AND a.session_id = ? AND a.started_at = ?",
        (key.kind, key.source_id, claim.session_id, claim.since),
    ).fetchone()
    if row is None:
        return None
    return Finished(closed=row[0] is not None, unreachable=row[1] == "unreachable")


def abort_call(conn: Connection, policy: Policy, session: Session, key: RowKey, now: int) -> bool:
    """Release one's own lock without recording an outcome (C9). False if there was none.

    Works for locks of the operator's sessions that are gone too; raises
    NotAllowed for another operator's lock and for the operator's own call
    open in their other live window (that window may still save it).
    """
    with write(conn):
        lock = _read_lock(conn, policy, session, key, now)
        if lock is None:
            return False
        if lock.mine_elsewhere:
            raise NotAllowed(
                _(
                    "This call is open in your other window; finish or abort it "
                    "there, or take it over here with c."
                )
            )
        if not lock.ours:
            raise NotAllowed(
                _(
                    "This row is locked by {operator}; only they or a supervisor may release it."
                ).format(operator=lock.operator)
            )
        client_id = conn.execute(
            "DELETE FROM locks WHERE kind = ? AND source_id = ? RETURNING client_id",
            (key.kind, key.source_id),
        ).fetchone()[0]
        audit(
            conn,
            now,
            session.operator,
            session.id,
            "abort",
            key,
            client_id,
            holder_session=lock.session_id,
        )
    return True


@dataclass(frozen=True)
class Holder:
    """Whose lock a row holds, as read before someone decides to release it."""

    key: RowKey
    operator: str
    session_id: int
    epoch: int


class LockChangedHands(StorageError):
    """The lock someone decided to release was finished, released or claimed anew meanwhile."""


def lock_holder(conn: Connection, key: RowKey) -> Holder | None:
    """Whose lock ``key`` holds now; None if it holds none."""
    row = conn.execute(
        "SELECT operator, session_id, epoch FROM locks WHERE kind = ? AND source_id = ?",
        (key.kind, key.source_id),
    ).fetchone()
    return None if row is None else Holder(key, str(row[0]), int(row[1]), int(row[2]))


def release_lock(conn: Connection, session: Session, holder: Holder, now: int) -> None:
    """A supervisor releases anyone's lock (B7), an operator their own: exactly ``holder``'s.

    A compare-and-swap on session and epoch: if the row changed hands since
    ``holder`` was read (that call was finished and a colleague claimed the
    row), releasing "the row's lock" would end a call nobody decided to end;
    LockChangedHands says so and releases nothing. Raises NotAllowed for an
    operator who is not a supervisor, unless the lock is their own.
    """
    key = holder.key
    if not session.supervisor and holder.operator != session.operator:
        raise NotAllowed(_("Only a supervisor may release another operator's lock."))
    with write(conn):
        row = conn.execute(
            "DELETE FROM locks WHERE kind = ? AND source_id = ? AND session_id = ? AND epoch = ?"
            " RETURNING client_id",
            (key.kind, key.source_id, holder.session_id, holder.epoch),
        ).fetchone()
        if row is None:
            raise LockChangedHands(
                _(
                    "The lock on row {row} changed hands meanwhile (the call was finished"
                    " or taken over); nothing was released."
                ).format(row=key)
            )
        event = "abort" if holder.operator == session.operator else "release-by-supervisor"
        audit(
            conn,
            now,
            session.operator,
            session.id,
            event,
            key,
            row[0],
            holder=holder.operator,
            holder_session=holder.session_id,
        )


def remove_stale_locks(conn: Connection, policy: Policy, session: Session, now: int) -> int:
    """C11 on a timer: remove every stale lock whose session is gone; returns how many."""
    rows = conn.execute(
        f"SELECT l.kind, l.source_id FROM locks l LEFT JOIN sessions s ON s.id = l.session_id"
        f" WHERE l.since <= ? AND {ALIVE_SQL} = 0",
        (now - policy.stale_after, alive_since(policy, now)),
    ).fetchall()
    removed = 0
    for kind, source_id in rows:
        key = RowKey(kind, source_id)
        with write(conn):
            lock = _read_lock(conn, policy, session, key, now)
            if lock is not None and lock.stale and not lock.alive:
                removed += _remove_dead_stale_lock(conn, session, key, lock, now)
    return removed
