"""The details of a work list's rows on screen (:class:`WorkRow`), read for those rows only.

The list's order is read first (storage.worklists.row_order); the work
screen then reads the details of the few rows it shows. Apart from the lists
themselves, which the list picker needs, so that the app loads this when a
list is opened (docs/performance.md, "What loads before the first paint").
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.connection import Connection
from storage.policy import Policy
from storage.rows import RowKey
from storage.sessions import ALIVE_SQL, Session, alive_since
from storage.worklists import WorkList, open_rows_sql


@dataclass(frozen=True)
class WorkRow:
    """One line of a work list, as shown to the operator."""

    key: RowKey
    client_id: int
    client: str
    phone: str
    subject: str
    due: int | None
    attempts: int
    last_outcome: str | None
    last_comment: str | None
    lock_operator: str | None
    lock_since: int | None
    lock_alive: bool
    lock_mine: bool  # held by this operator (this or an earlier session)
    group: int
    callable_from: int | None
    callback_at: int | None
    callback_operator: str | None
    do_not_call: bool


def load_rows(
    conn: Connection,
    policy: Policy,
    session: Session,
    work_list: WorkList,
    ids: list[int],
    now: int,
) -> dict[int, WorkRow]:
    """Details of the given rows (those on screen), by source id.

    Rows that have left the list since the ids were read are simply absent.
    """
    if not ids:
        return {}
    sql, params = open_rows_sql(policy, session, work_list, now)
    marks = ",".join("?" * len(ids))
    kind = work_list.kind
    query = f"""
        SELECT w.id, w.client_id, c.name, c.do_not_call,
            (SELECT number FROM phones p WHERE p.client_id = w.client_id ORDER BY position
             LIMIT 1),
            w.subject, w.due, w.grp, w.callable_from,
            r.callback_at, r.callback_operator,
            (SELECT count(*) FROM attempts a WHERE a.kind = ? AND a.source_id = w.id),
            (SELECT outcome FROM attempts a WHERE a.kind = ? AND a.source_id = w.id
             ORDER BY ended_at DESC, id DESC LIMIT 1),
            (SELECT comment FROM attempts a WHERE a.kind = ? AND a.source_id = w.id
             AND comment != '' ORDER BY ended_at DESC, id DESC LIMIT 1),
            l.operator, l.since, {ALIVE_SQL}
        FROM ({sql}) w
        JOIN clients c ON c.id = w.client_id
        LEFT JOIN call_rows r ON r.kind = ? AND r.source_id = w.id
        LEFT JOIN locks l ON l.kind = ? AND l.source_id = w.id
        LEFT JOIN sessions s ON s.id = l.session_id
        WHERE w.id IN ({marks})
    """
    rows = conn.execute(
        query, [kind, kind, kind, alive_since(policy, now), *params, kind, kind, *ids]
    ).fetchall()
    result = {}
    for (
        source_id,
        client_id,
        name,
        do_not_call,
        phone,
        subject,
        due,
        group,
        callable_from,
        callback_at,
        callback_operator,
        attempts,
        last_outcome,
        last_comment,
        lock_operator,
        lock_since,
        lock_alive,
    ) in rows:
        result[source_id] = WorkRow(
            key=RowKey(kind, source_id),
            client_id=client_id,
            client=name,
            phone=phone or "",
            subject=subject or "",
            due=due,
            attempts=attempts,
            last_outcome=last_outcome,
            last_comment=last_comment,
            lock_operator=lock_operator,
            lock_since=lock_since,
            lock_alive=bool(lock_alive),
            lock_mine=lock_operator == session.operator,
            group=group,
            callable_from=callable_from,
            callback_at=callback_at,
            callback_operator=callback_operator,
            do_not_call=bool(do_not_call),
        )
    return result
