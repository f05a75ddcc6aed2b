"""Work lists (C1): what operators pick first, and the call rows in each.

The lists, in this order: appointment confirmation, every call list with
pending items, every task kind the policy names as callable. A list is read in
two steps so that 100,000 rows stay cheap: :func:`row_order` gives the ordered
source ids with their sort keys only, storage/row_details.py the details of the few rows on
screen.

Order within a list: due call-backs first, then rows that may be called now,
then rows not callable yet (retry delay, call-back, minimum gap) by the time
they may be called, then rows that cannot be called at all (do-not-call,
attempt cap). Callability is decided here, never by the UI.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from storage.connection import Connection
from storage.phones import digits_only, phone_key
from storage.policy import PhoneRules, Policy
from storage.rows import APPOINTMENT, ITEM, TASK
from storage.sessions import Session

MAX_NUMBER_DIGITS = 15  # the longest international number (ITU-T E.164)

# Row groups, in list order.
CALLBACK_DUE = 0
CALLABLE = 1
LATER = 2
BLOCKED = 3


@dataclass(frozen=True)
class WorkList:
    """One work list: kind "appointment" (confirmation), "item" (a call list) or "task"."""

    kind: str
    list_id: int | None = None  # the call list, for kind "item"
    task_kind: str | None = None  # for kind "task"
    name: str = ""  # the call list's name or the task kind
    closed: bool = False  # a closed call list, listed for an operator who holds a row of it


@dataclass(frozen=True)
class WorkListSummary:
    """A work list's counts, as the list picker shows them."""

    work_list: WorkList
    pending: int  # every open row, callable or not
    locked_by_others: int  # open rows another operator holds now
    callable_now: int = 0  # may be called now and nobody else holds them
    later: int = 0  # not callable yet (retry delay, call-back, minimum gap), nobody else holds

    @property
    def listed(self) -> bool:
        """Call lists show only while they have pending items; the others always."""
        return self.work_list.kind != ITEM or self.pending > 0


def _start_of(day: date, policy: Policy) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=policy.timezone).timestamp())


def confirmation_days(policy: Policy, now: int) -> list[date]:
    """The days whose appointments are confirmed today (weekends skipped if the policy says)."""
    today = datetime.fromtimestamp(now, policy.timezone).date()
    window = policy.window
    days, day, counted = [], today, 0
    if window.from_days == 0:
        days.append(today)
    while counted < window.to_days:
        day += timedelta(days=1)
        if window.skip_weekends and day.weekday() >= 5:
            continue
        counted += 1
        if counted >= window.from_days:
            days.append(day)
    return days


def confirmation_window(policy: Policy, now: int) -> tuple[int, int]:
    """[start, end) of the appointment-confirmation window in seconds."""
    days = confirmation_days(policy, now)
    return _start_of(days[0], policy), _start_of(days[-1] + timedelta(days=1), policy)


def end_of_today(policy: Policy, now: int) -> int:
    today = datetime.fromtimestamp(now, policy.timezone).date()
    return _start_of(today + timedelta(days=1), policy)


def _open_sql(policy: Policy, work_list: WorkList, now: int) -> tuple[str, str, list[object]]:
    """The list's open rows: (SELECT of id, client_id, due, subject FROM the source,
    the condition that the row is open, the condition's parameters)."""
    if work_list.kind == APPOINTMENT:
        start, end = confirmation_window(policy, now)
        marks = ",".join("?" * len(policy.open_statuses))
        return (
            "SELECT a.id, a.client_id, a.starts_at AS due,"
            " trim(a.service || ' · ' || a.doctor, ' ·') AS subject FROM appointments a",
            f"a.starts_at >= ? AND a.starts_at < ? AND a.status IN ({marks})",
            [start, end, *policy.open_statuses],
        )
    if work_list.kind == ITEM:
        return (
            "SELECT i.id, i.client_id, CAST(NULL AS INTEGER) AS due, i.note AS subject"
            " FROM call_list_items i JOIN call_lists cl ON cl.id = i.list_id",
            "i.list_id = ? AND i.processed_at IS NULL AND cl.closed_at IS NULL",
            [work_list.list_id],
        )
    return (
        "SELECT t.id, t.client_id, t.due_at AS due, t.title AS subject FROM tasks t",
        "t.kind = ? AND t.done_at IS NULL AND t.due_at < ?",
        [work_list.task_kind, end_of_today(policy, now)],
    )


def _held_condition(session: Session, work_list: WorkList) -> tuple[str, list[object]]:
    """The condition (on :func:`_open_sql`'s source) that the operator holds the row and it
    belongs to this list, with its parameters: any session of theirs, alive or gone."""
    if work_list.kind == APPOINTMENT:
        return (
            "a.id IN (SELECT source_id FROM locks WHERE kind = ? AND operator = ?)",
            [APPOINTMENT, session.operator],
        )
    if work_list.kind == ITEM:
        return (
            "i.id IN (SELECT l.source_id FROM locks l JOIN call_list_items k"
            " ON k.id = l.source_id WHERE l.kind = ? AND l.operator = ? AND k.list_id = ?)",
            [ITEM, session.operator, work_list.list_id],
        )
    return (
        "t.id IN (SELECT l.source_id FROM locks l JOIN tasks k ON k.id = l.source_id"
        " WHERE l.kind = ? AND l.operator = ? AND k.kind = ?)",
        [TASK, session.operator, work_list.task_kind],
    )


def _source_sql(
    policy: Policy, session: Session, work_list: WorkList, now: int
) -> tuple[str, list[object]]:
    """SELECT of (id, client_id, due, subject) for the rows of one list: the open ones, and
    those the operator holds, whatever the clinic's records or a supervisor did to them
    since (an appointment cancelled or moved by an import, a task done, the call list
    closed). Such a row stays on its holder's list until the call is finished or aborted:
    a call under way can still be saved (storage.call_lists.close_list), and one left
    open by a session that died can still be found and aborted (C9).

    Two SELECTs joined by UNION ALL (the held ones less those open anyway), each read
    by its own index: as one OR, PostgreSQL read the whole source table, and SQLite
    does not carry a reading's conditions (these ids, these clients) into a UNION.
    """
    select, condition, params = _open_sql(policy, work_list, now)
    held, held_params = _held_condition(session, work_list)
    return (
        f"{select} WHERE {condition} UNION ALL {select} WHERE {held} AND NOT ({condition})",
        [*params, *held_params, *params],
    )


def _rows_sql(
    policy: Policy, session: Session, work_list: WorkList, now: int
) -> tuple[str, list[object]]:
    """The open rows with their group and callable time, before ordering."""
    source, params = _source_sql(policy, session, work_list, now)
    callable_from = (
        "CASE WHEN r.callback_at IS NOT NULL THEN"
        " max(r.callback_at, CASE WHEN r.callback_operator IS NOT NULL"
        " AND r.callback_operator != ? THEN r.callback_at + ? ELSE 0 END)"
        " ELSE r.not_before END"
    )
    sql = f"""
        SELECT id, client_id, due, subject, callable_from,
            CASE WHEN do_not_call = 1 OR failed >= ? THEN {BLOCKED}
                 WHEN coalesce(callable_from, 0) > ? THEN {LATER}
                 WHEN callback_at IS NOT NULL THEN {CALLBACK_DUE}
                 ELSE {CALLABLE} END AS grp
        FROM (
            SELECT src.id, src.client_id, src.due, src.subject, c.do_not_call,
                coalesce(r.failed_attempts, 0) AS failed, r.callback_at,
                {callable_from} AS callable_from
            FROM ({source}) src
            JOIN clients c ON c.id = src.client_id
            LEFT JOIN call_rows r ON r.kind = ? AND r.source_id = src.id
            WHERE r.closed_at IS NULL
        ) AS open_rows
    """
    return sql, [
        policy.max_attempts,
        now,
        session.operator,
        policy.personal_callback_grace,
        *params,
        work_list.kind,
    ]


def open_rows_sql(
    policy: Policy, session: Session, work_list: WorkList, now: int
) -> tuple[str, list[object]]:
    """SELECT of the list's open rows: id, client_id, due, subject, callable_from, grp.

    For queries outside this module that must agree with the lists exactly
    (storage.row_details: the rows on screen; storage.families: the other rows
    of clients sharing a phone).
    """
    return _rows_sql(policy, session, work_list, now)


def number_starts(text: str, rules: PhoneRules) -> list[str]:
    """The keys (storage.phones.phone_key) that a number starting as ``text`` may begin with.

    A half-typed number is keyed as if the rest were typed too (zeros added
    for every possible length), so the policy's own rules turn "8916 222" and
    "916 222" into "7916222" (the trunk prefix or the missing country code),
    whatever the rules are; an added zero that the key does not keep was not
    a real end of the number and gives nothing.
    """
    digits = digits_only(text)
    starts = []
    for added in range(0, MAX_NUMBER_DIGITS - len(digits) + 1):
        key = phone_key(text + "0" * added, rules)
        if added and not key.endswith("0" * added):
            continue
        start = key[: len(key) - added]
        if start and start != digits and start not in starts:
            starts.append(start)
    return starts


OrderEntry = tuple[int, int, int]
"""(source id, group, time): the list is ordered by (group, time, source id)."""


def row_order(
    conn: Connection,
    policy: Policy,
    session: Session,
    work_list: WorkList,
    now: int,
    text: str = "",
    *,
    only: Collection[int] | None = None,
    clients: Collection[int] = (),
) -> Iterator[OrderEntry]:
    """The list's open rows in list order, optionally filtered by text, with their sort keys.

    The filter matches the client's name or the subject, or a phone number as people
    type its start: "8916 222", "+7 916", "916-222" and "(916) 222" find the same
    client (:func:`number_starts`); digits also match anywhere in a number ("45-67").
    ``only`` (source ids) and ``clients`` (client ids) ask for just
    those rows, as they are now: what a screen re-reads after a change
    (storage.changes); rows that left the list are simply absent. Each of
    those is looked up by its own index (an OR of the two would make SQLite
    read the whole list).
    """
    if only is None and not clients:
        yield from _ordered(conn, policy, session, work_list, now, text, "", [])
        return
    found: dict[int, OrderEntry] = {}
    for column, values in (("id", only or ()), ("client_id", clients)):
        if values:
            condition = f"{column} IN ({','.join('?' * len(values))})"
            found.update(
                (entry[0], entry)
                for entry in _ordered(
                    conn, policy, session, work_list, now, text, condition, list(values)
                )
            )
    yield from sorted(found.values(), key=lambda entry: (entry[1], entry[2], entry[0]))


def _ordered(
    conn: Connection,
    policy: Policy,
    session: Session,
    work_list: WorkList,
    now: int,
    text: str,
    condition: str,
    values: list[object],
) -> Iterator[OrderEntry]:
    sql, params = _rows_sql(policy, session, work_list, now)
    conditions = [condition] if condition else []
    params = [*params, *values]
    needle = text.strip().casefold()
    if needle:
        digits = "".join(ch for ch in needle if ch.isdigit())
        matches = (
            "(instr(fold(subject), ?) > 0 OR client_id IN (SELECT id FROM clients"
            " WHERE instr(fold(name), ?) > 0)"
        )
        params = [*params, needle, needle]
        if digits:
            starts = number_starts(text, policy.phones)
            matches += (
                " OR client_id IN (SELECT client_id FROM phones WHERE instr(digits, ?) > 0"
                + " OR digits LIKE ?" * len(starts)
                + ")"
            )
            params += [digits, *(start + "%" for start in starts)]
        conditions.append(matches + ")")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    at = f"CASE grp WHEN {LATER} THEN callable_from ELSE coalesce(due, 0) END"
    cursor = conn.execute(
        f"SELECT id, grp, {at} AS at FROM ({sql}) AS w{where} ORDER BY grp, at, id", params
    )
    # Read to the end at once (an unfinished cursor would hold a read transaction), a batch
    # at a time: a million rows never exist as a million Python tuples.
    while batch := cursor.fetchmany(10_000):
        yield from batch


def first_rows(
    conn: Connection,
    policy: Policy,
    session: Session,
    work_list: WorkList,
    now: int,
    count: int,
) -> list[OrderEntry]:
    """The first ``count`` rows of the list in list order, without reading the whole list.

    What a screen paints first while :func:`row_order` reads everything (a
    second or more at a million rows): the call-backs that are due (few, from
    the partial index of call-backs), then callable rows, found by walking the
    list's source in its index order a batch at a time (most rows of a big list
    were never called, and come in that order). Rows not callable yet or not at
    all come after those and are left to the full reading, so fewer than
    ``count`` may come back.
    """
    kind = work_list.kind
    callbacks = [
        row[0]
        for row in conn.execute(
            "SELECT source_id FROM call_rows WHERE kind = ? AND callback_at IS NOT NULL"
            " AND closed_at IS NULL",
            (kind,),
        ).fetchall()
    ]
    found = (
        [
            e
            for e in row_order(conn, policy, session, work_list, now, only=callbacks)
            if e[1] == CALLBACK_DUE
        ]
        if callbacks
        else []
    )
    # The walk reads the open rows alone, in the source's index order; rows the operator
    # holds on a source closed since come with the whole reading.
    select, condition, params = _open_sql(policy, work_list, now)
    source = f"{select} WHERE {condition}"
    order = {APPOINTMENT: "due", ITEM: "id", TASK: "due"}[kind]
    after: tuple[int, int] = (-(2**62), -1)  # (the walk's sort value, id) read so far
    while len(found) < count:
        batch = conn.execute(
            f"SELECT id, coalesce({order}, 0) FROM ({source}) AS src"
            f" WHERE ({order}, id) > (?, ?) ORDER BY {order}, id LIMIT ?",
            [*params, *after, count * 4],
        ).fetchall()
        if not batch:
            break
        after = (int(batch[-1][1]), int(batch[-1][0]))
        wanted = [row[0] for row in batch]
        found += [
            e
            for e in row_order(conn, policy, session, work_list, now, only=wanted)
            if e[1] == CALLABLE
        ]
    return found[:count]


def work_lists(
    conn: Connection, policy: Policy, session: Session, now: int
) -> list[WorkListSummary]:
    """Every work list in the picker's order (C1), with pending rows and rows locked by others.

    Call lists appear only while they have pending items; the confirmation list
    and the callable task kinds always appear, so operators see they are done.
    """
    summaries = [
        summarize(conn, policy, session, work_list, now)
        for work_list in all_work_lists(conn, policy, session.operator)
    ]
    return [summary for summary in summaries if summary.listed]


def summarize(
    conn: Connection, policy: Policy, session: Session, work_list: WorkList, now: int
) -> WorkListSummary:
    """One list's counts (a reading of the whole list: done off the first paint)."""
    sql, params = _rows_sql(policy, session, work_list, now)
    # One query per list: the counts come from the same rows the list shows.
    pending, locked, callable_now, later = conn.execute(
        "SELECT count(*), count(l.operator),"
        " coalesce(sum(CASE WHEN l.operator IS NULL"
        f" AND grp IN ({CALLBACK_DUE}, {CALLABLE}) THEN 1 ELSE 0 END), 0),"
        f" coalesce(sum(CASE WHEN l.operator IS NULL AND grp = {LATER} THEN 1 ELSE 0 END), 0)"
        f" FROM ({sql}) w LEFT JOIN locks l"
        " ON l.kind = ? AND l.source_id = w.id AND l.operator != ?",
        [*params, work_list.kind, session.operator],
    ).fetchone()
    return WorkListSummary(work_list, pending, locked, callable_now, later)


def all_work_lists(conn: Connection, policy: Policy, operator: str = "") -> list[WorkList]:
    """The work lists in the picker's order (C1): confirmation, open call lists, tasks.

    With ``operator``, also the closed call lists where that operator holds a row:
    the only way back to a call left open there (:func:`_source_sql`).
    """
    lists = [WorkList(APPOINTMENT)]
    lists += [
        WorkList(ITEM, list_id=row[0], name=row[1], closed=bool(row[2]))
        for row in conn.execute(
            "SELECT l.id, l.name, l.closed_at IS NOT NULL FROM call_lists l"
            " WHERE (l.closed_at IS NULL AND EXISTS"
            " (SELECT 1 FROM call_list_items i WHERE i.list_id = l.id AND i.processed_at IS NULL))"
            " OR EXISTS (SELECT 1 FROM locks k JOIN call_list_items i ON i.id = k.source_id"
            " WHERE k.kind = ? AND k.operator = ? AND i.list_id = l.id)"
            " ORDER BY l.name COLLATE NOCASE, l.id",
            (ITEM, operator),
        ).fetchall()
    ]
    lists += [WorkList(TASK, task_kind=kind, name=kind) for kind in policy.callable_task_kinds]
    return lists
