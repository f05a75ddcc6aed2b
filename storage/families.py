"""Same phone, several rows (B6): families who share a number, settled by one call.

When a mother confirms her own appointment she can often confirm her
children's too. :func:`family_rows` finds the other open rows, on every work
list, of the *other* clients who share any phone number (``phones.digits``)
with the active row's client; "open" means exactly what the work lists show
(storage.worklists.open_rows_sql), so the two never disagree.

:func:`finish_family` saves one outcome for the call and for the family rows
the operator chose, in one transaction. Each family row is claimed and
finished like a row called on its own (storage.locks): rows locked by someone
else or not callable now (do-not-call, retry delay, call-back, attempt cap)
are skipped and reported, never forced.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from storage.audit import audit
from storage.connection import Connection
from storage.engine import write
from storage.locks import Claim, Finished, Refusal, claim_row, finish_call
from storage.policy import Policy
from storage.rows import RowKey
from storage.sessions import Session
from storage.sources import read_source
from storage.worklists import WorkList, all_work_lists, open_rows_sql

FAMILY_LIMIT = 50
"""At most this many rows: a number shared more widely (a care home's) is not a family."""

NOT_FAMILY = "not-family"
"""Refusal reason: the row is no longer open, or its client no longer shares the phone."""


@dataclass(frozen=True)
class FamilyRow:
    """An open row of another client who shares a phone number with the active row's client."""

    key: RowKey
    work_list: WorkList
    client_id: int
    client: str
    subject: str
    due: int | None  # the appointment's start, the task's due time; None for a list item
    group: int  # storage.worklists CALLBACK_DUE, CALLABLE, LATER or BLOCKED
    lock_operator: str | None
    lock_mine: bool  # locked by this operator (this or an earlier session)


@dataclass(frozen=True)
class FamilySkip:
    """A family row that was not settled, and why."""

    key: RowKey
    client: str
    refusal: Refusal


@dataclass(frozen=True)
class FamilyFinished(Finished):
    """What saving the call did, and which family rows got the same outcome."""

    settled: tuple[FamilyRow, ...] = field(default=())
    skipped: tuple[FamilySkip, ...] = field(default=())


_SHARING_SQL = (
    "SELECT other.client_id FROM phones mine"
    " JOIN phones other ON other.digits = mine.digits AND other.client_id != mine.client_id"
    " WHERE mine.client_id = ? AND mine.digits != ''"
)


def sharing_clients(conn: Connection, client_id: int) -> list[int]:
    """Other clients with a phone number whose digits equal one of ``client_id``'s numbers."""
    return [
        row[0]
        for row in conn.execute(
            f"SELECT DISTINCT client_id FROM ({_SHARING_SQL}) AS sharing ORDER BY client_id",
            (client_id,),
        )
    ]


def family_rows(
    conn: Connection, policy: Policy, session: Session, client_id: int, now: int
) -> list[FamilyRow]:
    """The open rows (any work list) of other clients sharing a phone with ``client_id``.

    In work-list order (confirmation, call lists, tasks), then by due time.
    Cheap when nobody shares the number (one indexed lookup), as it runs on
    every activation of a row.
    """
    others = sharing_clients(conn, client_id)
    if not others:
        return []
    lists = all_work_lists(conn, policy)
    parts, params = [], []
    # The clients as a list of values, which SQLite looks up by index inside each list's
    # query; with a subquery there it read every row of every list (0.3 s at 1M rows).
    marks = ",".join("?" * len(others))
    for index, work_list in enumerate(lists):
        sql, list_params = open_rows_sql(policy, session, work_list, now)
        parts.append(
            f"SELECT {index} AS list_index, ? AS kind, w.id, w.client_id, w.due, w.subject,"
            f" w.grp FROM ({sql}) w WHERE w.client_id IN ({marks})"
        )
        params += [work_list.kind, *list_params, *others]
    rows = conn.execute(
        "SELECT f.list_index, f.kind, f.id, f.client_id, c.name, f.subject, f.due, f.grp,"
        " l.operator FROM (" + " UNION ALL ".join(parts) + ") f"
        " JOIN clients c ON c.id = f.client_id"
        " LEFT JOIN locks l ON l.kind = f.kind AND l.source_id = f.id"
        " ORDER BY f.list_index, coalesce(f.due, 0), f.id LIMIT ?",
        [*params, FAMILY_LIMIT],
    ).fetchall()
    return [
        FamilyRow(
            key=RowKey(kind, source_id),
            work_list=lists[index],
            client_id=client,
            client=name,
            subject=subject or "",
            due=due,
            group=group,
            lock_operator=lock_operator,
            lock_mine=lock_operator == session.operator,
        )
        for index, kind, source_id, client, name, subject, due, group, lock_operator in rows
    ]


def _client_name(conn: Connection, policy: Policy, key: RowKey) -> str:
    """The client of any row, for the report of a skipped one ("" if the row is gone)."""
    source = read_source(conn, policy, key)
    row = (
        None
        if source is None
        else conn.execute("SELECT name FROM clients WHERE id = ?", (source.client_id,)).fetchone()
    )
    return "" if row is None else str(row[0])


def finish_family(
    conn: Connection,
    policy: Policy,
    session: Session,
    claim: Claim,
    outcome_code: str,
    comment: str,
    now: int,
    *,
    family: Collection[RowKey],
    callback_at: int | None = None,
    callback_anyone: bool = False,
    mode: str = "manual",
    number: str = "",
) -> FamilyFinished:
    """C5 for the call and the same outcome for the ``family`` rows, in one transaction.

    The call itself is saved as :func:`storage.locks.finish_call` saves it
    (LockLost: nothing at all is saved; an appointment moved meanwhile: its
    lock released, no family row settled); with no ``family`` that is all. Each
    family row must still be one of :func:`family_rows` of the call's client;
    it is then claimed and finished under the usual rules, and skipped with the
    refusal when they say no. Every settled row is audited (``family-settled``,
    naming the call's row).
    """
    with write(conn):
        current = (
            {row.key: row for row in family_rows(conn, policy, session, claim.client_id, now)}
            if family
            else {}
        )
        finished = finish_call(
            conn,
            policy,
            session,
            claim,
            outcome_code,
            comment,
            now,
            callback_at=callback_at,
            callback_anyone=callback_anyone,
            mode=mode,
            number=number,
        )
        if finished.moved is not None:  # the call itself was not saved: nor are the others
            return FamilyFinished(closed=False, unreachable=False, moved=finished.moved)
        settled: list[FamilyRow] = []
        skipped: list[FamilySkip] = []
        for key in sorted(set(family) - {claim.key}):
            row = current.get(key)
            if row is None:
                name = _client_name(conn, policy, key)
                skipped.append(FamilySkip(key, name, Refusal(NOT_FAMILY)))
                continue
            result = claim_row(conn, policy, session, key, now)
            if isinstance(result, Refusal):
                skipped.append(FamilySkip(key, row.client, result))
                continue
            finish_call(
                conn,
                policy,
                session,
                result,
                outcome_code,
                comment,
                now,
                callback_at=callback_at,
                callback_anyone=callback_anyone,
                mode=mode,
                number=number,
            )
            audit(
                conn,
                now,
                session.operator,
                session.id,
                "family-settled",
                key,
                result.client_id,
                call=str(claim.key),
                outcome=outcome_code,
            )
            settled.append(row)
    order = list(current)
    settled.sort(key=lambda row: order.index(row.key))
    return FamilyFinished(
        closed=finished.closed,
        unreachable=finished.unreachable,
        records_changed=finished.records_changed,
        settled=tuple(settled),
        skipped=tuple(skipped),
    )
