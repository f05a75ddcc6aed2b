"""Work lists (C1, C6, B2): which rows, in which order, with which counts."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from storage.connection import Connection
from storage.imports import import_csv
from storage.locks import Claim, abort_call, claim_row, finish_call
from storage.policy import Policy, Window
from storage.row_details import load_rows
from storage.rows import APPOINTMENT, ITEM, TASK, RowKey
from storage.sessions import Session, heartbeat
from storage.worklists import (
    BLOCKED,
    CALLABLE,
    CALLBACK_DUE,
    LATER,
    WorkList,
    confirmation_days,
    confirmation_window,
    row_order,
    work_lists,
)
from tests.stored_clinic import NOW, StoredClinic, clinic_time


def row_ids(
    conn: Connection,
    policy: Policy,
    session: Session,
    work_list: WorkList,
    now: int,
    text: str = "",
) -> list[int]:
    """The list's source ids in list order."""
    return [entry[0] for entry in row_order(conn, policy, session, work_list, now, text)]


MINUTE = 60
HOUR = 60 * MINUTE

WEDNESDAY = clinic_time(2025, 3, 12, 10)
FRIDAY = clinic_time(2025, 3, 14, 15)
SATURDAY = clinic_time(2025, 3, 15, 11)


def claim(conn: Connection, policy: Policy, session: Session, key: RowKey, now: int) -> Claim:
    result = claim_row(conn, policy, session, key, now)
    assert isinstance(result, Claim), result
    return result


def call(
    conn: Connection,
    policy: Policy,
    session: Session,
    key: RowKey,
    now: int,
    outcome: str,
    comment: str = "",
    **kwargs: object,
) -> None:
    """One whole call: claim at ``now``, save the outcome a minute later."""
    finish_call(
        conn,
        policy,
        session,
        claim(conn, policy, session, key, now),
        outcome,
        comment,
        now + MINUTE,
        **kwargs,  # type: ignore[arg-type]
    )


# --- the confirmation window -----------------------------------------------------------------


def test_confirmation_window_is_tomorrow(policy: Policy) -> None:
    assert confirmation_days(policy, WEDNESDAY) == [date(2025, 3, 13)]
    assert confirmation_window(policy, WEDNESDAY) == (
        clinic_time(2025, 3, 13),
        clinic_time(2025, 3, 14),
    )


@pytest.mark.parametrize("now", [FRIDAY, SATURDAY, clinic_time(2025, 3, 16, 23, 59)])
def test_on_a_friday_or_weekend_tomorrow_means_monday(policy: Policy, now: int) -> None:
    assert confirmation_days(policy, now) == [date(2025, 3, 17)]


def test_without_skip_weekends_friday_gives_saturday(policy: Policy) -> None:
    plain = dataclasses.replace(policy, window=Window(1, 1, skip_weekends=False))
    assert confirmation_days(plain, FRIDAY) == [date(2025, 3, 15)]


def test_window_of_several_days_and_from_today(policy: Policy) -> None:
    two = dataclasses.replace(policy, window=Window(1, 2, skip_weekends=True))
    assert confirmation_days(two, clinic_time(2025, 3, 13, 9)) == [
        date(2025, 3, 14),
        date(2025, 3, 17),
    ]
    today = dataclasses.replace(policy, window=Window(0, 0, skip_weekends=True))
    assert confirmation_days(today, WEDNESDAY) == [date(2025, 3, 12)]
    assert confirmation_window(today, WEDNESDAY) == (
        clinic_time(2025, 3, 12),
        clinic_time(2025, 3, 13),
    )
    from_today = dataclasses.replace(policy, window=Window(0, 1, skip_weekends=True))
    assert confirmation_days(from_today, FRIDAY) == [date(2025, 3, 14), date(2025, 3, 17)]
    later = dataclasses.replace(policy, window=Window(2, 3, skip_weekends=False))
    assert confirmation_days(later, WEDNESDAY) == [date(2025, 3, 14), date(2025, 3, 15)]


def test_window_follows_the_clinic_time_zone(policy: Policy) -> None:
    # 23:30 on Wednesday in Moscow is still Wednesday there (20:30 UTC).
    late = clinic_time(2025, 3, 12, 23, 30)
    assert confirmation_days(policy, late) == [date(2025, 3, 13)]
    assert confirmation_days(policy, clinic_time(2025, 3, 13, 0, 30)) == [date(2025, 3, 14)]


def test_confirmation_list_holds_open_appointments_inside_the_window(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    client = clinic.add_client("Anna")
    inside = [
        clinic.add_appointment(client, clinic_time(2025, 3, 13, 0, 0)),
        clinic.add_appointment(client, clinic_time(2025, 3, 13, 9, 30), status="left message"),
        clinic.add_appointment(client, clinic_time(2025, 3, 13, 23, 59)),
    ]
    clinic.add_appointment(client, clinic_time(2025, 3, 12, 15))  # today
    clinic.add_appointment(client, clinic_time(2025, 3, 14, 0, 0))  # the day after tomorrow
    clinic.add_appointment(client, clinic_time(2025, 3, 13, 12), status="confirmed")
    clinic.add_appointment(client, clinic_time(2025, 3, 13, 13), status="cancelled")
    ids = row_ids(conn, policy, clinic.session("bob"), WorkList(APPOINTMENT), WEDNESDAY)
    assert ids == inside  # by start time


def test_friday_confirmation_list_holds_mondays_appointments(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    client = clinic.add_client("Anna")
    clinic.add_appointment(client, clinic_time(2025, 3, 15, 10))  # Saturday
    monday = clinic.add_appointment(client, clinic_time(2025, 3, 17, 10))
    assert row_ids(conn, policy, clinic.session("bob"), WorkList(APPOINTMENT), FRIDAY) == [monday]


# --- order within a list ---------------------------------------------------------------------


@pytest.fixture
def mixed_list(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> tuple[WorkList, dict[str, int]]:
    """A call list with a row in each state, as Bob sees it at NOW."""
    names = [
        "callable",
        "due",
        "personal",
        "soon-callback",
        "retry",
        "do-not-call",
        "closed",
        "locked",
    ]
    clients = {
        name: clinic.add_client(f"Client {name}", do_not_call=name == "do-not-call")
        for name in names
    }
    list_id, items = clinic.add_call_list("Recall", list(clients.values()))
    rows = dict(zip(names, items, strict=True))
    alice = clinic.session("alice", NOW - 3 * HOUR)
    key = {name: RowKey(ITEM, item) for name, item in rows.items()}
    # A call-back for anyone, due an hour ago.
    call(
        conn,
        policy,
        alice,
        key["due"],
        NOW - 3 * HOUR,
        "call-back",
        callback_at=NOW - HOUR,
        callback_anyone=True,
    )
    # Alice's own call-back, due ten minutes ago: Bob may take it only after the grace.
    call(
        conn,
        policy,
        alice,
        key["personal"],
        NOW - 3 * HOUR,
        "call-back",
        callback_at=NOW - 10 * MINUTE,
    )
    # A call-back for anyone in 30 minutes.
    call(
        conn,
        policy,
        alice,
        key["soon-callback"],
        NOW - 3 * HOUR,
        "call-back",
        callback_at=NOW + 30 * MINUTE,
        callback_anyone=True,
    )
    # No answer a minute ago: callable again in an hour.
    call(conn, policy, alice, key["retry"], NOW - MINUTE, "no-answer", "try after 11")
    call(conn, policy, alice, key["closed"], NOW - 3 * HOUR, "wrong-number")
    heartbeat(conn, alice, NOW)
    claim(conn, policy, alice, key["locked"], NOW)
    return WorkList(ITEM, list_id=list_id, name="Recall"), rows


def test_order_due_call_backs_then_callable_then_later_then_blocked(
    conn: Connection,
    clinic: StoredClinic,
    policy: Policy,
    mixed_list: tuple[WorkList, dict[str, int]],
) -> None:
    work_list, rows = mixed_list
    bob = clinic.session("bob")
    ids = row_ids(conn, policy, bob, work_list, NOW)
    assert ids == [
        rows[name]
        for name in (
            "due",
            "callable",
            "locked",
            "personal",
            "soon-callback",
            "retry",
            "do-not-call",
        )
    ]
    shown = load_rows(conn, policy, bob, work_list, ids, NOW)
    groups = {name: shown[rows[name]].group for name in rows if name != "closed"}
    assert groups == {
        "due": CALLBACK_DUE,
        "callable": CALLABLE,
        "locked": CALLABLE,
        "personal": LATER,
        "soon-callback": LATER,
        "retry": LATER,
        "do-not-call": BLOCKED,
    }
    grace = policy.personal_callback_grace
    assert shown[rows["personal"]].callable_from == NOW - 10 * MINUTE + grace
    assert shown[rows["soon-callback"]].callable_from == NOW + 30 * MINUTE
    assert shown[rows["retry"]].callable_from == NOW + HOUR
    assert shown[rows["callable"]].callable_from is None


def test_own_personal_call_back_is_due_for_its_operator(
    conn: Connection,
    clinic: StoredClinic,
    policy: Policy,
    mixed_list: tuple[WorkList, dict[str, int]],
) -> None:
    work_list, rows = mixed_list
    alice = clinic.session("alice")
    ids = row_ids(conn, policy, alice, work_list, NOW)
    assert ids[:2] == sorted([rows["due"], rows["personal"]])
    shown = load_rows(conn, policy, alice, work_list, ids, NOW)
    assert shown[rows["personal"]].group == CALLBACK_DUE
    assert shown[rows["personal"]].callback_operator == "alice"
    assert shown[rows["locked"]].lock_mine


def test_later_rows_become_callable_as_time_passes(
    conn: Connection,
    clinic: StoredClinic,
    policy: Policy,
    mixed_list: tuple[WorkList, dict[str, int]],
) -> None:
    work_list, rows = mixed_list
    bob = clinic.session("bob")
    later = NOW + 2 * HOUR
    ids = row_ids(conn, policy, bob, work_list, later)
    shown = load_rows(conn, policy, bob, work_list, ids, later)
    assert shown[rows["retry"]].group == CALLABLE
    assert shown[rows["soon-callback"]].group == CALLBACK_DUE
    assert shown[rows["personal"]].group == CALLBACK_DUE
    assert ids[-1] == rows["do-not-call"]


def test_appointments_order_by_start_within_a_group(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    client = clinic.add_client("Anna")
    late = clinic.add_appointment(client, clinic_time(2025, 3, 13, 17))
    early = clinic.add_appointment(client, clinic_time(2025, 3, 13, 9))
    middle = clinic.add_appointment(client, clinic_time(2025, 3, 13, 12))
    alice = clinic.session("alice")
    call(conn, policy, alice, RowKey(APPOINTMENT, early), NOW - 10 * MINUTE, "busy")
    ids = row_ids(conn, policy, alice, WorkList(APPOINTMENT), NOW)
    assert ids == [middle, late, early]


# --- the list of work lists ------------------------------------------------------------------


def test_work_lists_in_spec_order_with_counts(
    conn: Connection,
    clinic: StoredClinic,
    policy: Policy,
    mixed_list: tuple[WorkList, dict[str, int]],
) -> None:
    work_list, _ = mixed_list
    client = clinic.add_client("Anna")
    clinic.add_appointment(client, clinic_time(2025, 3, 13, 10))
    clinic.add_appointment(client, clinic_time(2025, 3, 13, 11))
    clinic.add_appointment(client, clinic_time(2025, 3, 20, 11))  # outside the window
    _, (done_item,) = clinic.add_call_list("Already done", [client])
    conn.execute("UPDATE call_list_items SET processed_at = ? WHERE id = ?", (NOW, done_item))
    _, (closed_item,) = clinic.add_call_list("All wrong numbers", [client])
    bob = clinic.session("bob")
    call(conn, policy, bob, RowKey(ITEM, closed_item), NOW - HOUR, "wrong-number")
    clinic.add_call_list("Closed list", [client])
    conn.execute("UPDATE call_lists SET closed_at = ? WHERE name = 'Closed list'", (NOW,))
    clinic.add_call_list("allergy check", [client])  # sorts before "Recall"
    clinic.add_task(client, "reminder", NOW - HOUR)
    clinic.add_task(client, "reminder", clinic_time(2025, 3, 12, 23, 59))  # later today
    clinic.add_task(client, "reminder", clinic_time(2025, 3, 13, 0, 0))  # tomorrow: not yet
    clinic.add_task(client, "reminder", NOW - HOUR, done_at=NOW - MINUTE)
    clinic.add_task(client, "internal", NOW - HOUR)  # not a callable kind

    summaries = work_lists(conn, policy, bob, NOW)
    got = [(s.work_list.kind, s.work_list.name, s.pending, s.locked_by_others) for s in summaries]
    assert got == [
        (APPOINTMENT, "", 2, 0),
        (ITEM, "allergy check", 1, 0),
        (ITEM, "Recall", 7, 1),  # eight items, one closed; Alice holds one
        (TASK, "recall", 0, 0),
        (TASK, "reminder", 2, 0),
        (TASK, "follow-up", 0, 0),
    ]
    assert summaries[2].work_list == work_list
    assert [s.work_list.task_kind for s in summaries[3:]] == list(policy.callable_task_kinds)
    # Alice does not count her own lock as someone else's.
    alice_view = work_lists(conn, policy, clinic.session("alice"), NOW)
    assert [s.locked_by_others for s in alice_view] == [0, 0, 0, 0, 0, 0]


def test_work_list_counts_now_later_and_locked_by_others(
    conn: Connection,
    clinic: StoredClinic,
    policy: Policy,
    mixed_list: tuple[WorkList, dict[str, int]],
) -> None:
    """The picker's "N to call now · M later · K locked by others" (C1)."""

    def counts(session: Session) -> tuple[int, int, int]:
        [recall] = [
            s for s in work_lists(conn, policy, session, NOW) if s.work_list.name == "Recall"
        ]
        return recall.callable_now, recall.later, recall.locked_by_others

    # Bob: "due" and "callable" now; Alice's personal call-back, the call-back in 30
    # minutes and the retry later; Alice's lock; do-not-call and closed in none.
    assert counts(clinic.session("bob")) == (2, 3, 1)
    # Alice: her lock and her own due call-back are hers to call now.
    assert counts(clinic.session("alice")) == (4, 2, 0)


def test_call_list_disappears_when_its_last_item_is_done(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    client = clinic.add_client("Anna")
    _, (item,) = clinic.add_call_list("Only one", [client])
    alice = clinic.session("alice")
    assert [
        s.work_list.name for s in work_lists(conn, policy, alice, NOW) if s.work_list.kind == ITEM
    ] == ["Only one"]
    call(conn, policy, alice, RowKey(ITEM, item), NOW, "confirmed")
    assert [s for s in work_lists(conn, policy, alice, NOW) if s.work_list.kind == ITEM] == []


def test_task_list_holds_open_tasks_due_by_today(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    client = clinic.add_client("Anna")
    overdue = clinic.add_task(client, "recall", NOW - 30 * 24 * HOUR)
    today = clinic.add_task(client, "recall", NOW + 5 * HOUR)
    clinic.add_task(client, "recall", NOW + 24 * HOUR)
    clinic.add_task(client, "reminder", NOW)
    ids = row_ids(conn, policy, clinic.session("bob"), WorkList(TASK, task_kind="recall"), NOW)
    assert ids == [overdue, today]


# --- the text filter -------------------------------------------------------------------------


@pytest.fixture
def named_list(clinic: StoredClinic) -> tuple[WorkList, dict[str, int]]:
    people = {
        "maria": clinic.add_client("Иванова Мария Петровна", ("+7 (916) 123-45-67",)),
        "ivan": clinic.add_client("Иванов Иван", ("8 495 700-00-01", "+7 903 555 12 34")),
        "john": clinic.add_client("John Smith", ("+44 20 7946 0958",)),
    }
    list_id, items = clinic.add_call_list("People", list(people.values()))
    return WorkList(ITEM, list_id=list_id), dict(zip(people, items, strict=True))


@pytest.mark.parametrize(
    ("text", "who"),
    [
        ("иванова", ["maria"]),
        ("ИВАНОВА", ["maria"]),
        ("Иванов", ["maria", "ivan"]),
        ("  мария ", ["maria"]),
        ("smith", ["john"]),
        ("SMITH", ["john"]),
        ("916 123", ["maria"]),
        ("123-45-67", ["maria"]),
        ("555 12", ["ivan"]),  # the second number counts too
        ("7946", ["john"]),
        # Numbers as people type their start (README, "Phone numbers"): trunk prefix 8, +7,
        # a national number without either, with brackets and dashes; all keyed by the policy's
        # rules.
        ("8916 123", ["maria"]),
        ("+7 916", ["maria"]),
        ("916-123", ["maria"]),
        ("8 (916) 123-45", ["maria"]),
        ("8903 555", ["ivan"]),
        ("+7 903 555", ["ivan"]),
        ("8916 999", []),
        ("петров", ["maria"]),
        ("Сидоров", []),
        ("", ["maria", "ivan", "john"]),
    ],
)
def test_filter_by_name_or_phone(
    conn: Connection,
    clinic: StoredClinic,
    policy: Policy,
    named_list: tuple[WorkList, dict[str, int]],
    text: str,
    who: list[str],
) -> None:
    work_list, items = named_list
    ids = row_ids(conn, policy, clinic.session("bob"), work_list, NOW, text)
    assert ids == [items[name] for name in who]


def test_filter_by_subject(conn: Connection, clinic: StoredClinic, policy: Policy) -> None:
    client = clinic.add_client("Anna")
    root = clinic.add_appointment(
        client, clinic_time(2025, 3, 13, 10), service="Root canal", doctor="Д-р Ёлкина"
    )
    clinic.add_appointment(client, clinic_time(2025, 3, 13, 11), service="Cleaning")
    bob = clinic.session("bob")
    assert row_ids(conn, policy, bob, WorkList(APPOINTMENT), NOW, "CANAL") == [root]
    assert row_ids(conn, policy, bob, WorkList(APPOINTMENT), NOW, "ёлкина") == [root]


# --- the rows on screen ----------------------------------------------------------------------


def test_load_rows_fields(conn: Connection, clinic: StoredClinic, policy: Policy) -> None:
    anna = clinic.add_client("Anna Smirnova", ("+7 900 111-22-33", "+7 900 999-88-77"))
    first = clinic.add_appointment(
        anna, clinic_time(2025, 3, 13, 10), service="Cleaning", doctor="Dr. Lee"
    )
    second = clinic.add_appointment(anna, clinic_time(2025, 3, 13, 12), service="", doctor="")
    outside = clinic.add_appointment(anna, clinic_time(2025, 3, 20, 12))
    alice = clinic.session("alice", NOW - 2 * HOUR)
    call(conn, policy, alice, RowKey(APPOINTMENT, first), NOW - 2 * HOUR, "no-answer", "first")
    call(conn, policy, alice, RowKey(APPOINTMENT, first), NOW - 10 * MINUTE, "busy", "")
    heartbeat(conn, alice, NOW)
    claim(conn, policy, alice, RowKey(APPOINTMENT, second), NOW - MINUTE)
    bob = clinic.session("bob")

    shown = load_rows(conn, policy, bob, WorkList(APPOINTMENT), [first, second, outside], NOW)
    assert set(shown) == {first, second}  # rows not on the list are simply absent
    one = shown[first]
    assert one.key == RowKey(APPOINTMENT, first)
    assert (one.client_id, one.client, one.phone) == (anna, "Anna Smirnova", "+7 900 111-22-33")
    assert one.subject == "Cleaning · Dr. Lee"
    assert one.due == clinic_time(2025, 3, 13, 10)
    assert (one.attempts, one.last_outcome, one.last_comment) == (2, "busy", "first")
    assert one.lock_operator is None and one.lock_since is None and not one.lock_alive
    # busy: retry in 15 minutes, but the minimum gap of 30 minutes wins
    assert one.group == LATER and one.callable_from == NOW - 9 * MINUTE + policy.min_gap
    assert not one.do_not_call and one.callback_at is None
    two = shown[second]
    assert two.subject == ""
    assert (two.lock_operator, two.lock_since, two.lock_alive, two.lock_mine) == (
        "alice",
        NOW - MINUTE,
        True,
        False,
    )
    assert two.attempts == 0 and two.last_outcome is None and two.last_comment is None
    later = load_rows(
        conn, policy, bob, WorkList(APPOINTMENT), [second], NOW + policy.alive_for + 1
    )
    assert not later[second].lock_alive  # Alice stopped beating
    assert load_rows(conn, policy, bob, WorkList(APPOINTMENT), [], NOW) == {}


# --- a row the operator holds stays on their list ----------------------------------------------


@pytest.mark.parametrize("kind", [APPOINTMENT, TASK])
def test_a_row_the_clinic_closed_during_a_call_stays_on_its_callers_list(
    conn: Connection, clinic: StoredClinic, policy: Policy, kind: str
) -> None:
    """An import closes the row's source while alice calls it (the appointment cancelled,
    the task done, in the clinic's own system): the row stays on her list, in every session
    of hers, until she finishes or aborts the call, so the call never vanishes from her
    screen nor a crashed session's lock out of her reach (C9); nobody else sees it."""
    client = clinic.add_client("Anna")
    if kind == APPOINTMENT:
        source = clinic.add_appointment(client, clinic_time(2025, 3, 13, 10))
        work_list = WorkList(APPOINTMENT)
        closing = f"id,status\n{source},cancelled\n"
    else:
        source = clinic.add_task(client, "recall", WEDNESDAY - HOUR)
        clinic.add_task(client, "reminder", WEDNESDAY - HOUR)  # another kind: another list
        work_list = WorkList(TASK, task_kind="recall")
        closing = f"id,done_at\n{source},2025-03-12 09:00\n"
    key = RowKey(kind, source)
    alice, bob = clinic.session("alice", WEDNESDAY), clinic.session("bob", WEDNESDAY)
    claim(conn, policy, alice, key, WEDNESDAY)
    import_csv(
        conn,
        policy,
        f"{kind}s",
        closing.encode(),
        source="closing.csv",
        operator="admin",
        supervisor=True,
        now=WEDNESDAY + MINUTE,
    )
    later = WEDNESDAY + 2 * MINUTE
    again = clinic.session("alice", later)
    assert row_ids(conn, policy, alice, work_list, later) == [source]
    assert row_ids(conn, policy, again, work_list, later) == [source]
    assert row_ids(conn, policy, bob, work_list, later) == []
    assert abort_call(conn, policy, alice, key, later) is True
    assert row_ids(conn, policy, alice, work_list, later) == []
