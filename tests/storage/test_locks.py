"""The lock protocol (C4–C13, B2, B3, B5) on a real file, with a fake clock."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from storage.call_lists import close_list
from storage.connection import Connection
from storage.engine import open_engine, write
from storage.errors import NotAllowed
from storage.imports import import_csv
from storage.locks import (
    CallBackNotInFuture,
    Claim,
    Finished,
    Holder,
    Lock,
    LockChangedHands,
    LockLost,
    Moved,
    Refusal,
    abort_call,
    claim_row,
    finish_call,
    inspect_row,
    lock_holder,
    release_lock,
    remove_stale_locks,
    saved_finish,
)
from storage.policy import Policy, default_policy
from storage.rows import APPOINTMENT, ITEM, TASK, RowKey
from storage.sessions import Session, end_session, heartbeat, start_session
from tests.stored_clinic import NOW, StoredClinic, release_held

MINUTE = 60
HOUR = 60 * MINUTE
TOMORROW_10 = NOW + 24 * HOUR


def new_item(clinic: StoredClinic, name: str = "Ivan Petrov", **client: object) -> RowKey:
    client_id = clinic.add_client(name, **client)  # type: ignore[arg-type]
    count = clinic.scalar("SELECT count(*) FROM call_lists")
    _, (item,) = clinic.add_call_list(f"List {count}", [client_id])
    return RowKey(ITEM, item)


def new_appointment(clinic: StoredClinic, status: str = "unconfirmed") -> RowKey:
    client_id = clinic.add_client("Anna Smirnova")
    return RowKey(APPOINTMENT, clinic.add_appointment(client_id, TOMORROW_10, status=status))


def new_task(clinic: StoredClinic, kind: str = "recall") -> RowKey:
    client_id = clinic.add_client("Oleg Sidorov")
    return RowKey(TASK, clinic.add_task(client_id, kind, NOW - HOUR, title="6-month recall"))


def claimed(
    conn: Connection,
    policy: Policy,
    session: Session,
    key: RowKey,
    now: int = NOW,
    **kwargs: object,
) -> Claim:
    result = claim_row(conn, policy, session, key, now, **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, Claim), result
    return result


def refused(
    conn: Connection,
    policy: Policy,
    session: Session,
    key: RowKey,
    now: int,
    **kwargs: object,
) -> Refusal:
    result = claim_row(conn, policy, session, key, now, **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, Refusal), result
    return result


def table(conn: Connection, sql: str, *params: object) -> list[tuple[object, ...]]:
    return [tuple(row) for row in conn.execute(sql, params).fetchall()]


def locks(conn: Connection) -> list[tuple[object, ...]]:
    return table(conn, "SELECT kind, source_id, operator, session_id, since, epoch FROM locks")


def attempts(conn: Connection, key: RowKey) -> list[tuple[object, ...]]:
    return table(
        conn,
        "SELECT operator, outcome, started_at, ended_at, comment FROM attempts"
        " WHERE kind = ? AND source_id = ? ORDER BY id",
        key.kind,
        key.source_id,
    )


def call_row(conn: Connection, key: RowKey) -> dict[str, object]:
    cursor = conn.execute(
        "SELECT * FROM call_rows WHERE kind = ? AND source_id = ?", (key.kind, key.source_id)
    )
    names = [d[0] for d in cursor.description]
    row = cursor.fetchone()
    return dict(zip(names, row, strict=True)) if row else {}


def events(conn: Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT event FROM audit ORDER BY id")]


def audit_rows(conn: Connection, event: str) -> list[dict[str, object]]:
    cursor = conn.execute("SELECT * FROM audit WHERE event = ? ORDER BY id", (event,))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def appointment_status(conn: Connection, key: RowKey) -> str:
    return str(
        conn.execute("SELECT status FROM appointments WHERE id = ?", (key.source_id,)).fetchone()[0]
    )


# --- claim and finish: the effect of each outcome (C4, C5, C7, B1) ---------------------------


def test_confirmed_appointment_gets_the_confirmed_status(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_appointment(clinic)
    alice = clinic.session("alice")
    claim = claimed(conn, policy, alice, key)
    assert (claim.key, claim.session_id, claim.since, claim.epoch) == (key, alice.id, NOW, 1)
    assert locks(conn) == [(APPOINTMENT, key.source_id, "alice", alice.id, NOW, 1)]

    done = finish_call(conn, policy, alice, claim, "confirmed", "  will come  ", NOW + 90)
    assert done == Finished(closed=True, unreachable=False)
    assert appointment_status(conn, key) == "confirmed"
    assert locks(conn) == []
    assert attempts(conn, key) == [("alice", "confirmed", NOW, NOW + 90, "will come")]
    row = call_row(conn, key)
    assert row["closed_at"] == NOW + 90 and row["closed_reason"] == "confirmed"
    assert row["failed_attempts"] == 0
    assert events(conn) == ["claim", "release"]
    # The row has left the list for everybody, including the one who closed it.
    assert refused(conn, policy, clinic.session("bob"), key, NOW + 2 * HOUR).reason == "closed"
    assert refused(conn, policy, alice, key, NOW + 2 * HOUR).reason == "closed"


def _clinic_records_change(location: str, policy: Policy, key: RowKey) -> None:
    """On another connection, as the clinic's side does it: an import cancels the
    appointment or marks the task done, a supervisor closes the item's call list."""
    if key.kind == APPOINTMENT:
        _clinic_imports(location, policy, "appointments", f"id,status\n{key.source_id},cancelled\n")
    elif key.kind == ITEM:
        other = open_engine(location).connect()
        try:
            close_list(other, start_session(other, "root", NOW, supervisor=True), "List 0", NOW + 1)
        finally:
            other.close()
    else:
        _clinic_imports(
            location, policy, "tasks", f"id,done_at\n{key.source_id},2025-03-12 10:00\n"
        )


def _clinic_imports(location: str, policy: Policy, kind: str, csv: str) -> None:
    """The clinic's system imports ``csv`` into ``kind``, on a connection of its own."""
    other = open_engine(location).connect()
    try:
        import_csv(
            other,
            policy,
            kind,
            csv.encode(),
            source="schedule.csv",
            operator="root",
            supervisor=True,
            now=NOW + 1,
        )
    finally:
        other.close()


def _source_now(conn: Connection, key: RowKey) -> object:
    if key.kind == APPOINTMENT:
        return appointment_status(conn, key)
    if key.kind == ITEM:
        sql = "SELECT processed_at FROM call_list_items WHERE id = ?"
    else:
        sql = "SELECT done_at FROM tasks WHERE id = ?"
    return conn.execute(sql, (key.source_id,)).fetchone()[0]


@pytest.mark.parametrize("kind", [APPOINTMENT, ITEM, TASK])
def test_an_outcome_leaves_a_source_the_clinics_records_closed_during_the_call(
    conn: Connection, clinic: StoredClinic, policy: Policy, engine_location: str, kind: str
) -> None:
    """The clinic's records are newer than what the operator knew: "Confirmed" saved on an
    appointment an import cancelled meanwhile (a task marked done, a list closed) records
    the call and releases the lock, and leaves the source as the records say."""
    makers: dict[str, Callable[[StoredClinic], RowKey]] = {
        APPOINTMENT: new_appointment,
        ITEM: new_item,
        TASK: new_task,
    }
    key = makers[kind](clinic)
    alice = clinic.session("alice")
    claim = claimed(conn, policy, alice, key)
    _clinic_records_change(engine_location, policy, key)
    records_say = _source_now(conn, key)
    done = finish_call(conn, policy, alice, claim, "confirmed", "will come", NOW + 90)
    assert done == Finished(closed=True, unreachable=False, records_changed=True)
    assert _source_now(conn, key) == records_say
    assert locks(conn) == []
    assert attempts(conn, key) == [("alice", "confirmed", NOW, NOW + 90, "will come")]
    row = call_row(conn, key)
    assert (row["closed_at"], row["last_attempt_at"]) == (None, NOW + 90)
    (release,) = audit_rows(conn, "release")
    assert json.loads(str(release["detail"]))["records_changed"] is True
    assert refused(conn, policy, alice, key, NOW + 2 * HOUR).reason == "closed"


def _front_desk_moves(location: str, policy: Policy, key: RowKey, change: str) -> None:
    """On another connection, as the clinic's side does it: an import moves the appointment
    (still unconfirmed, so still to call about) to 11:30, to another doctor, or both."""
    rows = {
        "time": "id,starts_at\n{id},13.03.2025 11:30\n",
        "doctor": "id,doctor\n{id},Dr. Wilson\n",
        "both": "id,starts_at,doctor\n{id},13.03.2025 11:30,Dr. Wilson\n",
    }
    _clinic_imports(location, policy, "appointments", rows[change].format(id=key.source_id))


@pytest.mark.parametrize("change", ["time", "doctor", "both"])
def test_an_outcome_on_an_appointment_moved_during_the_call_saves_nothing(
    conn: Connection, clinic: StoredClinic, policy: Policy, engine_location: str, change: str
) -> None:
    """Alice told the patient "tomorrow at 10:00 with Dr. House" and the front desk moved the
    appointment meanwhile, still open: "Confirmed" must not confirm a visit the patient never
    agreed to. Only her lock is released (audited); no attempt, no count, no effect, and the
    row can be called again at once, about the new time."""
    key = new_appointment(clinic)
    alice = clinic.session("alice")
    claim = claimed(conn, policy, alice, key)
    _front_desk_moves(engine_location, policy, key, change)
    starts_at = TOMORROW_10 + (90 * MINUTE if change != "doctor" else 0)
    doctor = "Dr. House" if change == "time" else "Dr. Wilson"
    done = finish_call(conn, policy, alice, claim, "confirmed", "will come", NOW + 90)
    assert done == Finished(
        closed=False,
        unreachable=False,
        moved=Moved(TOMORROW_10, "Dr. House", starts_at, doctor),
    )
    assert appointment_status(conn, key) == "unconfirmed"
    assert locks(conn) == []
    assert attempts(conn, key) == []
    row = call_row(conn, key)
    assert (row["closed_at"], row["last_attempt_at"], row["failed_attempts"]) == (None, None, 0)
    (release,) = audit_rows(conn, "release")
    detail = json.loads(str(release["detail"]))
    assert (detail["outcome"], detail["moved_from"], detail["moved_to"]) == (
        "confirmed",
        TOMORROW_10,
        starts_at,
    )
    # Called again about the new time, the call saves as usual.
    again = claimed(conn, policy, alice, key, NOW + 120)
    assert finish_call(conn, policy, alice, again, "confirmed", "", NOW + 180) == Finished(
        closed=True, unreachable=False
    )
    assert appointment_status(conn, key) == "confirmed"
    assert attempts(conn, key) == [("alice", "confirmed", NOW + 120, NOW + 180, "")]


def test_a_call_claimed_before_the_upgrade_saves_as_before(
    conn: Connection, clinic: StoredClinic, policy: Policy, engine_location: str
) -> None:
    """A lock claimed by a ringround older than migration 6 holds nothing of what its
    operator was shown: its finish cannot tell a move and saves, as it did then."""
    key = new_appointment(clinic)
    alice = clinic.session("alice")
    claim = claimed(conn, policy, alice, key)
    with write(conn):
        conn.execute("UPDATE locks SET shown_starts_at = NULL, shown_doctor = NULL")
    _front_desk_moves(engine_location, policy, key, "time")
    done = finish_call(conn, policy, alice, claim, "confirmed", "", NOW + 90)
    assert done == Finished(closed=True, unreachable=False)
    assert appointment_status(conn, key) == "confirmed"


def test_a_takeover_shows_the_appointment_as_it_is_then(
    conn: Connection, clinic: StoredClinic, policy: Policy, engine_location: str
) -> None:
    """Bob takes over alice's stale call after the move: he saw the new time, so his
    "Confirmed" is saved."""
    key = new_appointment(clinic)
    alice, bob = clinic.session("alice"), clinic.session("bob")
    claimed(conn, policy, alice, key)
    _front_desk_moves(engine_location, policy, key, "time")
    later = NOW + policy.stale_after + MINUTE
    heartbeat(conn, alice, later)
    offered = refused(conn, policy, bob, key, later).lock
    assert offered is not None and offered.offers_takeover
    taken = claimed(conn, policy, bob, key, later, take_over=offered)
    done = finish_call(conn, policy, bob, taken, "confirmed", "", later + 60)
    assert done == Finished(closed=True, unreachable=False)
    assert appointment_status(conn, key) == "confirmed"


def test_client_cancels_sets_the_appointment_cancelled(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_appointment(clinic)
    alice = clinic.session("alice")
    finish_call(conn, policy, alice, claimed(conn, policy, alice, key), "cancels", "", NOW + 30)
    assert appointment_status(conn, key) == "cancelled"
    assert call_row(conn, key)["closed_reason"] == "cancels"


def test_left_message_sets_the_status_and_keeps_the_row(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_appointment(clinic)
    alice = clinic.session("alice")
    done = finish_call(
        conn,
        policy,
        alice,
        claimed(conn, policy, alice, key),
        "left-message",
        "voicemail",
        NOW + 60,
    )
    assert done == Finished(closed=False, unreachable=False)
    assert appointment_status(conn, key) == "left message"  # still an open status
    row = call_row(conn, key)
    assert row["closed_at"] is None and row["failed_attempts"] == 1
    assert row["not_before"] == NOW + 60 + 2 * HOUR
    state = inspect_row(conn, policy, alice, key, NOW + 2 * MINUTE)
    assert state.refusal == Refusal("too-soon", until=NOW + 60 + 2 * HOUR)
    assert state.last_comment == "voicemail"


def test_call_list_item_becomes_processed(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic)
    alice = clinic.session("alice")
    finish_call(conn, policy, alice, claimed(conn, policy, alice, key), "confirmed", "", NOW + 5)
    assert (
        clinic.scalar("SELECT processed_at FROM call_list_items WHERE id = ?", (key.source_id,))
        == NOW + 5
    )


def test_task_becomes_done(conn: Connection, clinic: StoredClinic, policy: Policy) -> None:
    key = new_task(clinic)
    alice = clinic.session("alice")
    finish_call(conn, policy, alice, claimed(conn, policy, alice, key), "confirmed", "", NOW + 5)
    assert clinic.scalar("SELECT done_at FROM tasks WHERE id = ?", (key.source_id,)) == NOW + 5


@pytest.mark.parametrize("maker", [new_task, new_item, new_appointment])
def test_wrong_number_closes_the_row_and_leaves_the_object(
    conn: Connection, clinic: StoredClinic, policy: Policy, maker: object
) -> None:
    key = maker(clinic)  # type: ignore[operator]
    alice = clinic.session("alice")
    done = finish_call(
        conn, policy, alice, claimed(conn, policy, alice, key), "wrong-number", "", NOW + 5
    )
    assert done.closed and not done.unreachable
    assert call_row(conn, key)["closed_reason"] == "wrong-number"
    if key.kind == TASK:
        assert clinic.scalar("SELECT done_at FROM tasks") is None
    if key.kind == ITEM:
        assert clinic.scalar("SELECT processed_at FROM call_list_items") is None
    if key.kind == APPOINTMENT:
        assert appointment_status(conn, key) == "unconfirmed"
    assert refused(conn, policy, alice, key, NOW + 3 * HOUR).reason == "closed"


def test_do_not_call_marks_the_client_and_audits_the_card(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_appointment(clinic)
    client_id = clinic.scalar("SELECT client_id FROM appointments WHERE id = ?", (key.source_id,))
    other = RowKey(TASK, clinic.add_task(client_id, "recall", NOW))  # type: ignore[arg-type]
    alice = clinic.session("alice")
    claim = claimed(conn, policy, alice, key)
    done = finish_call(conn, policy, alice, claim, "do-not-call", "asked us to stop", NOW + 5)
    assert done.closed
    assert clinic.scalar("SELECT do_not_call FROM clients WHERE id = ?", (client_id,)) == 1
    assert appointment_status(conn, key) == "unconfirmed"
    (edit,) = audit_rows(conn, "card-edit")
    assert (edit["operator"], edit["session_id"], edit["client_id"]) == (
        "alice",
        alice.id,
        client_id,
    )
    assert json.loads(str(edit["detail"])) == {"field": "do_not_call", "old": False, "new": True}
    # The client's other rows cannot be called any more (B5).
    assert refused(conn, policy, clinic.session("bob"), other, NOW + HOUR).reason == "do-not-call"


# --- refusals (C8, C6, B2, B3, B5) -----------------------------------------------------------


def test_locked_row_names_the_holder_and_since(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic)
    alice, bob = clinic.session("alice"), clinic.session("bob")
    claimed(conn, policy, alice, key, NOW)
    refusal = refused(conn, policy, bob, key, NOW + 5 * MINUTE)
    assert refusal.reason == "locked"
    assert refusal.lock is not None
    assert (refusal.lock.operator, refusal.lock.session_id, refusal.lock.since) == (
        "alice",
        alice.id,
        NOW,
    )
    assert not refusal.lock.stale and not refusal.lock.offers_takeover
    assert not refusal.lock.mine and not refusal.lock.mine_earlier
    state = inspect_row(conn, policy, bob, key, NOW + 5 * MINUTE)
    assert state.refusal == refusal and state.lock == refusal.lock
    assert locks(conn)[0][2:4] == ("alice", alice.id)  # unchanged
    assert events(conn) == ["claim"]


def test_a_closed_row_someone_still_holds_is_refused_as_locked_by_them(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    """A closed call row is refused at once only when nobody holds it (storage/locks.py)."""
    key = new_item(clinic)
    alice, bob = clinic.session("alice"), clinic.session("bob")
    claimed(conn, policy, alice, key, NOW)
    # Closed behind the holder's back (another program writing to the database).
    conn.execute(
        "UPDATE call_rows SET closed_at = ?, closed_reason = 'confirmed'"
        " WHERE kind = ? AND source_id = ?",
        (NOW, key.kind, key.source_id),
    )
    refusal = refused(conn, policy, bob, key, NOW + MINUTE)
    assert refusal.reason == "locked"
    assert refusal.lock is not None and refusal.lock.operator == "alice"
    assert locks(conn)[0][2:4] == ("alice", alice.id)


def test_own_lock_is_reported_as_mine_and_claiming_again_keeps_it(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic)
    alice = clinic.session("alice")
    first = claimed(conn, policy, alice, key, NOW)
    state = inspect_row(conn, policy, alice, key, NOW + MINUTE)
    assert state.lock is not None and state.lock.mine and state.refusal is None
    assert claimed(conn, policy, alice, key, NOW + MINUTE) == first
    assert events(conn) == ["claim"]


def test_closed_in_the_clinic_records_is_refused(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    confirmed = new_appointment(clinic, status="confirmed")
    assert refused(conn, policy, clinic.session("alice"), confirmed, NOW).reason == "closed"
    key = new_task(clinic)
    conn.execute("UPDATE tasks SET done_at = ? WHERE id = ?", (NOW, key.source_id))
    assert refused(conn, policy, clinic.session("alice"), key, NOW).reason == "closed"
    assert locks(conn) == []


def test_item_of_a_closed_call_list_is_refused(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic)
    conn.execute("UPDATE call_lists SET closed_at = ?", (NOW,))
    assert refused(conn, policy, clinic.session("alice"), key, NOW).reason == "closed"


def test_missing_row_is_refused(conn: Connection, clinic: StoredClinic, policy: Policy) -> None:
    alice = clinic.session("alice")
    assert refused(conn, policy, alice, RowKey(TASK, 999), NOW) == Refusal("missing")
    assert inspect_row(conn, policy, alice, RowKey(ITEM, 999), NOW).refusal == Refusal("missing")


def test_do_not_call_client_is_refused(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic, do_not_call=True)
    alice = clinic.session("alice")
    assert refused(conn, policy, alice, key, NOW).reason == "do-not-call"
    assert inspect_row(conn, policy, alice, key, NOW).refusal == Refusal("do-not-call")
    assert locks(conn) == [] and events(conn) == []


@pytest.mark.parametrize(
    ("outcome", "wait"),
    [
        ("busy", 30 * MINUTE),  # retry_after 15m < min_gap 30m
        ("no-answer", HOUR),  # retry_after 1h > min_gap
        ("left-message", 2 * HOUR),
    ],
)
def test_too_soon_until_the_larger_of_min_gap_and_retry_delay(
    conn: Connection, clinic: StoredClinic, policy: Policy, outcome: str, wait: int
) -> None:
    key = new_appointment(clinic)
    alice, bob = clinic.session("alice"), clinic.session("bob")
    ended = NOW + 2 * MINUTE
    finish_call(conn, policy, alice, claimed(conn, policy, alice, key), outcome, "", ended)
    assert wait == max(policy.min_gap, policy.outcome(outcome).retry_after or 0)
    for who in (alice, bob):
        assert refused(conn, policy, who, key, ended + wait - 1) == Refusal(
            "too-soon", until=ended + wait
        )
    assert locks(conn) == []
    again = claimed(conn, policy, bob, key, ended + wait)
    assert again.epoch == 2


def test_call_back_for_anyone_is_refused_until_due(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic)
    alice, bob = clinic.session("alice"), clinic.session("bob")
    back = NOW + 3 * HOUR
    done = finish_call(
        conn,
        policy,
        alice,
        claimed(conn, policy, alice, key),
        "call-back",
        "after lunch",
        NOW + MINUTE,
        callback_at=back,
        callback_anyone=True,
    )
    assert not done.closed
    row = call_row(conn, key)
    assert (row["callback_at"], row["callback_operator"], row["failed_attempts"]) == (back, None, 0)
    assert clinic.scalar("SELECT callback_at FROM attempts") == back
    for who in (alice, bob):
        assert refused(conn, policy, who, key, back - 1) == Refusal("call-back", until=back)
    claimed(conn, policy, bob, key, back)


def test_personal_call_back_is_only_mine_until_the_grace_passes(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic)
    alice, bob = clinic.session("alice"), clinic.session("bob")
    back = NOW + 3 * HOUR
    finish_call(
        conn,
        policy,
        alice,
        claimed(conn, policy, alice, key),
        "call-back",
        "",
        NOW + MINUTE,
        callback_at=back,
    )
    assert call_row(conn, key)["callback_operator"] == "alice"
    assert refused(conn, policy, alice, key, back - 1) == Refusal(
        "call-back", until=back, operator="alice"
    )
    handover = back + policy.personal_callback_grace
    # Before the promised time too, the others hear when they may call (the list shows it):
    # "Call back at 16:00" sent them back at 16:00 only to be refused until 16:30.
    for moment in (back - 1, back, handover - 1):
        assert refused(conn, policy, bob, key, moment) == Refusal(
            "personal-call-back", until=handover, operator="alice"
        )
    # Alice may call at the promised time; nobody else has claimed meanwhile.
    claim = claimed(conn, policy, alice, key, back)
    abort_call(conn, policy, alice, key, back + 1)
    assert claim.epoch == 2
    # Once the grace has passed, anyone's.
    assert claimed(conn, policy, bob, key, handover).session_id == bob.id


def test_call_back_outcome_needs_a_future_time(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic)
    alice = clinic.session("alice")
    claim = claimed(conn, policy, alice, key)
    for moment in (None, NOW + 10, NOW):
        with pytest.raises(CallBackNotInFuture):
            finish_call(conn, policy, alice, claim, "call-back", "", NOW + 10, callback_at=moment)
    assert attempts(conn, key) == []
    assert len(locks(conn)) == 1  # the lock is kept for another try


def test_attempt_cap_closes_the_row_as_unreachable(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_appointment(clinic)
    alice = clinic.session("alice")
    now = NOW
    # A call-back promise is not a failed attempt.
    finish_call(
        conn,
        policy,
        alice,
        claimed(conn, policy, alice, key, now),
        "call-back",
        "",
        now + 1,
        callback_at=now + HOUR,
    )
    now += HOUR
    for number in range(1, policy.max_attempts + 1):
        claim = claimed(conn, policy, alice, key, now)
        done = finish_call(conn, policy, alice, claim, "no-answer", f"try {number}", now + 1)
        last = number == policy.max_attempts
        assert done == Finished(closed=last, unreachable=last)
        assert call_row(conn, key)["failed_attempts"] == number
        now += 2 * HOUR
    row = call_row(conn, key)
    assert row["closed_reason"] == "unreachable" and row["closed_at"] == now - 2 * HOUR + 1
    assert appointment_status(conn, key) == "unconfirmed"  # the object is unchanged
    assert len(attempts(conn, key)) == policy.max_attempts + 1
    assert refused(conn, policy, alice, key, now).reason == "closed"
    release = audit_rows(conn, "release")[-1]
    assert json.loads(str(release["detail"])) == {"outcome": "no-answer", "unreachable": True}


def test_attempt_cap_lowered_later_blocks_the_row(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic)
    alice = clinic.session("alice")
    for round_ in range(2):
        now = NOW + round_ * 2 * HOUR
        finish_call(
            conn, policy, alice, claimed(conn, policy, alice, key, now), "busy", "", now + 1
        )
    stricter = dataclasses.replace(policy, max_attempts=2)
    assert refused(conn, stricter, alice, key, NOW + 10 * HOUR).reason == "attempt-cap"


# --- C9: the operator's own lock from an earlier session -------------------------------------


def test_new_session_of_the_same_operator_takes_over_the_old_lock(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic)
    crashed = clinic.session("alice", NOW)
    old = claimed(conn, policy, crashed, key, NOW)
    later = NOW + 5 * MINUTE  # the app died; fewer than stale_after have passed
    again = clinic.session("alice", later)
    state = inspect_row(conn, policy, again, key, later)
    assert state.lock is not None and state.lock.mine_earlier and not state.lock.mine
    assert state.refusal is None  # not "locked": it is hers
    assert not state.lock.offers_takeover
    claim = claimed(conn, policy, again, key, later)
    assert claim.epoch == old.epoch + 1 and claim.session_id == again.id
    assert locks(conn) == [(ITEM, key.source_id, "alice", again.id, later, claim.epoch)]
    assert events(conn) == ["claim", "takeover"]
    assert attempts(conn, key) == []
    # The dead session's ticket is worthless now.
    with pytest.raises(LockLost):
        finish_call(conn, policy, crashed, old, "confirmed", "", later + 1)
    finish_call(conn, policy, again, claim, "confirmed", "", later + 2)
    assert [a[0:2] for a in attempts(conn, key)] == [("alice", "confirmed")]


def test_abort_by_the_new_session_releases_the_old_lock(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic)
    crashed = clinic.session("alice", NOW)
    claimed(conn, policy, crashed, key, NOW)
    back = NOW + policy.alive_for + 1  # the crashed session is gone by now
    again = clinic.session("alice", back)
    assert abort_call(conn, policy, again, key, back) is True
    assert locks(conn) == []
    assert attempts(conn, key) == []
    assert call_row(conn, key)["failed_attempts"] == 0
    (abort,) = audit_rows(conn, "abort")
    assert (abort["operator"], abort["session_id"]) == ("alice", again.id)
    assert json.loads(str(abort["detail"])) == {"holder_session": crashed.id}
    assert abort_call(conn, policy, again, key, back) is False  # nothing left to abort
    # The row is callable at once by anyone: no outcome, no retry delay.
    claimed(conn, policy, clinic.session("bob"), key, back)


def test_abort_of_another_operators_lock_is_not_allowed(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic)
    alice, bob = clinic.session("alice"), clinic.session("bob")
    claimed(conn, policy, alice, key)
    with pytest.raises(NotAllowed, match="alice"):
        abort_call(conn, policy, bob, key, NOW)
    assert len(locks(conn)) == 1 and events(conn) == ["claim"]


# --- C10: stale lock, owner still working ----------------------------------------------------


def stale_live_lock(
    conn: Connection, clinic: StoredClinic, policy: Policy, key: RowKey
) -> tuple[Session, Claim, int]:
    """Alice holds ``key`` since NOW and is still working at NOW + stale_after."""
    alice = clinic.session("alice")
    claim = claimed(conn, policy, alice, key, NOW)
    later = NOW + policy.stale_after
    heartbeat(conn, alice, later - 1)
    return alice, claim, later


def test_stale_lock_of_a_live_owner_is_noted_once_and_offered(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic)
    alice, claim, later = stale_live_lock(conn, clinic, policy, key)
    bob, carol = clinic.session("bob", later), clinic.session("carol", later)
    state = inspect_row(conn, policy, bob, key, later)
    assert state.lock is not None
    assert state.lock.stale and state.lock.alive and state.lock.offers_takeover
    assert state.refusal == Refusal("locked", lock=state.lock)
    assert state.removed_stale_lock is None
    for who in (bob, carol, bob, carol):
        inspect_row(conn, policy, who, key, later + 10)
    refused(conn, policy, bob, key, later + 20)
    notes = table(conn, "SELECT kind, source_id, at, event, operator, since FROM row_notes")
    assert notes == [(ITEM, key.source_id, later, "stale-lock", "alice", NOW)]
    assert events(conn).count("stale-noted") == 1
    assert locks(conn)[0][2:] == ("alice", alice.id, NOW, claim.epoch)  # still Alice's


def test_the_owner_and_her_other_sessions_do_not_note_their_own_stale_lock(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic)
    alice, _, later = stale_live_lock(conn, clinic, policy, key)
    state = inspect_row(conn, policy, alice, key, later)
    assert state.lock is not None and state.lock.mine and not state.lock.offers_takeover
    assert state.refusal is None
    other = inspect_row(conn, policy, clinic.session("alice", later), key, later)
    assert other.lock is not None and other.lock.mine_elsewhere  # her other window
    assert not other.lock.offers_takeover
    assert clinic.scalar("SELECT count(*) FROM row_notes") == 0


def test_just_under_stale_after_nothing_happens(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic)
    alice = clinic.session("alice")
    claimed(conn, policy, alice, key, NOW)  # and alice never beats again: her session is gone
    bob = clinic.session("bob")
    almost = NOW + policy.stale_after - 1
    state = inspect_row(conn, policy, bob, key, almost)
    assert state.lock is not None and not state.lock.stale and not state.lock.alive
    assert state.refusal == Refusal("locked", lock=state.lock)
    assert not state.lock.offers_takeover
    assert refused(conn, policy, bob, key, almost).reason == "locked"
    assert remove_stale_locks(conn, policy, bob, almost) == 0
    assert len(locks(conn)) == 1
    assert clinic.scalar("SELECT count(*) FROM row_notes") == 0
    assert events(conn) == ["claim"]


def test_claim_without_take_over_is_refused_and_with_it_succeeds(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_appointment(clinic)
    alice, old, later = stale_live_lock(conn, clinic, policy, key)
    bob = clinic.session("bob", later)
    refusal = refused(conn, policy, bob, key, later)
    assert refusal.reason == "locked" and refusal.lock is not None
    assert refusal.lock.offers_takeover
    assert locks(conn)[0][2] == "alice"

    claim = claimed(conn, policy, bob, key, later + 5, take_over=refusal.lock)
    assert claim.epoch == old.epoch + 1 and claim.session_id == bob.id and claim.since == later + 5
    assert locks(conn) == [(APPOINTMENT, key.source_id, "bob", bob.id, later + 5, claim.epoch)]
    assert call_row(conn, key)["epoch"] == claim.epoch
    (takeover,) = audit_rows(conn, "takeover")
    assert (takeover["operator"], takeover["session_id"]) == ("bob", bob.id)
    assert json.loads(str(takeover["detail"])) == {
        "holder": "alice",
        "holder_session": alice.id,
        "holder_alive": True,
        "since": NOW,
    }
    # The new lock is fresh: it is not stale and not flagged any more.
    state = inspect_row(conn, policy, alice, key, later + 10)
    assert state.lock is not None and not state.lock.stale and state.lock.operator == "bob"
    assert clinic.scalar("SELECT stale_noted FROM locks") == 0


def test_takeover_with_an_old_epoch_is_refused(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic)
    alice, _, later = stale_live_lock(conn, clinic, policy, key)
    bob = clinic.session("bob", later)
    state = inspect_row(conn, policy, bob, key, later)
    assert state.lock is not None
    for wrong in (
        dataclasses.replace(state.lock, epoch=state.lock.epoch - 1),
        dataclasses.replace(state.lock, session_id=bob.id),
    ):
        assert refused(conn, policy, bob, key, later, take_over=wrong).reason == "locked"
    assert locks(conn)[0][2:4] == ("alice", alice.id)
    # Carol took it over first; Bob's offer (for Alice's lock) is now out of date.
    carol = clinic.session("carol", later)
    claimed(conn, policy, carol, key, later + 1, take_over=state.lock)
    late = refused(conn, policy, bob, key, later + 2, take_over=state.lock)
    assert late.reason == "locked" and late.lock is not None and late.lock.operator == "carol"
    assert locks(conn)[0][2] == "carol"
    assert events(conn).count("takeover") == 1


def test_takeover_of_a_fresh_lock_is_refused(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic)
    alice, bob = clinic.session("alice"), clinic.session("bob")
    claimed(conn, policy, alice, key, NOW)
    state = inspect_row(conn, policy, bob, key, NOW + MINUTE)
    assert state.lock is not None
    assert refused(conn, policy, bob, key, NOW + MINUTE, take_over=state.lock).reason == "locked"


def test_old_owner_cannot_finish_after_a_takeover(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_appointment(clinic)
    alice, old, later = stale_live_lock(conn, clinic, policy, key)
    bob = clinic.session("bob", later)
    offer = inspect_row(conn, policy, bob, key, later).lock
    claimed(conn, policy, bob, key, later, take_over=offer)
    row_before = call_row(conn, key)
    audit_before = events(conn)
    with pytest.raises(LockLost) as caught:
        finish_call(conn, policy, alice, old, "cancels", "too late", later + 1)
    assert caught.value.holder == "bob"
    assert "bob" in str(caught.value)
    assert attempts(conn, key) == []
    assert call_row(conn, key) == row_before
    assert appointment_status(conn, key) == "unconfirmed"
    assert events(conn) == audit_before
    assert locks(conn)[0][2] == "bob"


def test_finish_after_the_lock_was_removed_raises_lock_lost(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic)
    alice = clinic.session("alice")
    claim = claimed(conn, policy, alice, key)
    release_held(conn, clinic.session("root", supervisor=True), key, NOW + 1)
    with pytest.raises(LockLost) as caught:
        finish_call(conn, policy, alice, claim, "confirmed", "", NOW + 2)
    assert caught.value.holder is None
    assert attempts(conn, key) == []
    assert clinic.scalar("SELECT processed_at FROM call_list_items") is None


def test_a_finish_saved_already_is_told_apart_from_a_lost_lock(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    """A save whose answer never came (the server went during its COMMIT) is found saved."""
    key, other = new_item(clinic), new_item(clinic, "Anna Smirnova")
    alice = clinic.session("alice")
    claim = claimed(conn, policy, alice, key)
    assert saved_finish(conn, claim) is None  # nothing saved yet
    saved = finish_call(conn, policy, alice, claim, "confirmed", "", NOW + 1)
    with pytest.raises(LockLost):  # the try again: its lock is gone
        finish_call(conn, policy, alice, claim, "confirmed", "", NOW + 2)
    assert saved_finish(conn, claim) == saved == Finished(closed=True, unreachable=False)
    assert len(attempts(conn, key)) == 1
    # A lock removed by a supervisor was not saved.
    removed = claimed(conn, policy, alice, other, NOW + 3)
    release_held(conn, clinic.session("root", supervisor=True), other, NOW + 4)
    assert saved_finish(conn, removed) is None


@pytest.mark.parametrize(
    ("outcome", "reason"), [("confirmed", "closed"), ("no-answer", "too-soon")]
)
def test_takeover_loses_to_a_finish_that_came_first(
    conn: Connection, clinic: StoredClinic, policy: Policy, outcome: str, reason: str
) -> None:
    key = new_item(clinic)
    alice, claim, later = stale_live_lock(conn, clinic, policy, key)
    bob = clinic.session("bob", later)
    offer = inspect_row(conn, policy, bob, key, later).lock
    assert offer is not None and offer.offers_takeover
    finish_call(conn, policy, alice, claim, outcome, "", later + 1)  # Alice saves first
    result = refused(conn, policy, bob, key, later + 2, take_over=offer)
    assert result.reason == reason
    assert locks(conn) == []
    assert "takeover" not in events(conn)
    assert len(attempts(conn, key)) == 1


# --- C11: stale lock, owner gone -------------------------------------------------------------


def test_stale_lock_of_a_gone_owner_is_removed_on_inspect(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic)
    alice = clinic.session("alice")
    claimed(conn, policy, alice, key, NOW)
    later = NOW + policy.stale_after
    bob = clinic.session("bob", later)
    state = inspect_row(conn, policy, bob, key, later)
    assert state.removed_stale_lock == "alice"
    assert state.lock is None and state.refusal is None
    assert locks(conn) == []
    (removal,) = audit_rows(conn, "auto-removal")
    assert (removal["operator"], removal["session_id"], removal["source_id"]) == (
        "bob",
        bob.id,
        key.source_id,
    )
    assert json.loads(str(removal["detail"])) == {
        "holder": "alice",
        "holder_session": alice.id,
        "since": NOW,
    }
    assert attempts(conn, key) == []
    assert clinic.scalar("SELECT count(*) FROM row_notes") == 0


def test_stale_lock_of_an_ended_session_is_removed_on_claim(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic)
    alice = clinic.session("alice")
    old = claimed(conn, policy, alice, key, NOW)
    later = NOW + policy.stale_after
    heartbeat(conn, alice, later - 1)
    end_session(conn, alice, later - 1)  # a clean exit: gone although it beat just now
    heartbeat(conn, alice, later)  # an ended session cannot come back to life
    bob = clinic.session("bob", later)
    claim = claimed(conn, policy, bob, key, later)
    assert claim.epoch == old.epoch + 1
    assert events(conn) == ["claim", "auto-removal", "claim"]
    assert locks(conn)[0][2] == "bob"
    with pytest.raises(LockLost):
        finish_call(conn, policy, alice, old, "confirmed", "", later + 1)


def test_own_stale_lock_of_a_dead_session_is_removed_like_anyones(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic)
    claimed(conn, policy, clinic.session("alice"), key, NOW)
    later = NOW + policy.stale_after + 1
    state = inspect_row(conn, policy, clinic.session("alice", later), key, later)
    assert state.removed_stale_lock == "alice" and state.lock is None
    assert locks(conn) == []


def test_a_live_session_keeps_its_stale_lock(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic)
    alice = clinic.session("alice")
    claimed(conn, policy, alice, key, NOW)
    later = NOW + policy.stale_after
    heartbeat(conn, alice, later - policy.alive_for)  # exactly at the edge: still alive
    bob = clinic.session("bob", later)
    assert remove_stale_locks(conn, policy, bob, later) == 0
    assert inspect_row(conn, policy, bob, key, later).lock is not None
    assert len(locks(conn)) == 1
    # One second later her last beat is too old: gone.
    assert remove_stale_locks(conn, policy, bob, later + 1) == 1
    assert locks(conn) == []


def test_remove_stale_locks_sweeps_only_stale_locks_of_gone_sessions(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    rows = [new_item(clinic, f"Client {n}") for n in range(5)]
    gone1, gone2, working = (clinic.session(name) for name in ("gone1", "gone2", "working"))
    claimed(conn, policy, gone1, rows[0], NOW)
    claimed(conn, policy, gone2, rows[1], NOW)
    claimed(conn, policy, gone1, rows[2], NOW + 10 * MINUTE)  # gone, but not stale yet
    claimed(conn, policy, working, rows[3], NOW)  # stale, but its owner is working
    later = NOW + policy.stale_after + MINUTE
    heartbeat(conn, working, later)
    sweeper = clinic.session("sweeper", later)
    assert remove_stale_locks(conn, policy, sweeper, later) == 2
    assert {(r[0], r[1]) for r in locks(conn)} == {(k.kind, k.source_id) for k in rows[2:4]}
    removals = audit_rows(conn, "auto-removal")
    assert len(removals) == 2
    assert {r["source_id"] for r in removals} == {k.source_id for k in rows[:2]}
    assert all(r["operator"] == "sweeper" for r in removals)
    assert remove_stale_locks(conn, policy, sweeper, later) == 0  # nothing twice


# --- supervisors and the audit trail (B7, B11) -----------------------------------------------


def test_release_lock_needs_a_supervisor_for_anothers_lock(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic)
    alice, bob = clinic.session("alice"), clinic.session("bob")
    claimed(conn, policy, alice, key)
    with pytest.raises(NotAllowed):
        release_held(conn, bob, key, NOW + 1)
    assert len(locks(conn)) == 1
    root = clinic.session("root", supervisor=True)
    assert release_held(conn, root, key, NOW + 2) == "alice"
    assert locks(conn) == []
    (release,) = audit_rows(conn, "release-by-supervisor")
    assert (release["operator"], release["session_id"]) == ("root", root.id)
    assert json.loads(str(release["detail"])) == {"holder": "alice", "holder_session": alice.id}
    assert lock_holder(conn, key) is None


def test_a_release_refuses_a_lock_that_changed_hands_since_it_was_read(
    conn: Connection, clinic: StoredClinic, policy: Policy, engine_location: str
) -> None:
    """ringround locks --release reads the holder, then releases: never a newer call."""
    key = new_appointment(clinic)
    alice, bob = clinic.session("alice"), clinic.session("bob")
    root = clinic.session("root", supervisor=True)
    claim = claimed(conn, policy, alice, key)
    seen = lock_holder(conn, key)
    assert seen is not None and (seen.operator, seen.epoch) == ("alice", claim.epoch)
    # Between the read and the release, on another connection: Alice ends her call
    # and Bob claims the row.
    other = open_engine(engine_location).connect()
    try:
        assert abort_call(other, policy, alice, key, NOW + 1)
        bobs = claimed(other, policy, bob, key, NOW + 2)
    finally:
        other.close()
    with pytest.raises(LockChangedHands, match="changed hands meanwhile"):
        release_lock(conn, root, seen, NOW + 3)
    assert lock_holder(conn, key) == Holder(key, "bob", bob.id, bobs.epoch)
    assert audit_rows(conn, "release-by-supervisor") == []


def test_release_lock_of_ones_own_lock_is_allowed(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic)
    alice = clinic.session("alice")
    claimed(conn, policy, alice, key)
    assert release_held(conn, alice, key, NOW + 1) == "alice"
    assert locks(conn) == []


def test_every_lock_event_is_audited_with_who_and_when(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    rows = [new_item(clinic, f"Client {n}") for n in range(5)]
    alice = clinic.session("alice")
    bob = clinic.session("bob")
    root = clinic.session("root", supervisor=True)
    # claim + release (finish)
    finish_call(
        conn, policy, alice, claimed(conn, policy, alice, rows[0], NOW), "confirmed", "", NOW + 1
    )
    # claim + abort
    claimed(conn, policy, alice, rows[1], NOW + 2)
    abort_call(conn, policy, alice, rows[1], NOW + 3)
    # claim + release by a supervisor
    claimed(conn, policy, alice, rows[2], NOW + 4)
    release_held(conn, root, rows[2], NOW + 5)
    # claim, then takeover of a stale lock whose owner is alive
    claimed(conn, policy, alice, rows[3], NOW + 6)
    # claim by a session that dies, then auto-removal
    claimed(conn, policy, bob, rows[4], NOW + 7)
    later = NOW + 6 + policy.stale_after
    heartbeat(conn, alice, later)
    carol = clinic.session("carol", later)
    offer = inspect_row(conn, policy, carol, rows[3], later).lock
    claimed(conn, policy, carol, rows[3], later, take_over=offer)
    inspect_row(conn, policy, carol, rows[4], later + 1)

    got = table(
        conn,
        "SELECT at, operator, session_id, event, kind, source_id FROM audit"
        " WHERE event != 'stale-noted' ORDER BY id",
    )
    assert got == [
        (NOW, "alice", alice.id, "claim", ITEM, rows[0].source_id),
        (NOW + 1, "alice", alice.id, "release", ITEM, rows[0].source_id),
        (NOW + 2, "alice", alice.id, "claim", ITEM, rows[1].source_id),
        (NOW + 3, "alice", alice.id, "abort", ITEM, rows[1].source_id),
        (NOW + 4, "alice", alice.id, "claim", ITEM, rows[2].source_id),
        (NOW + 5, "root", root.id, "release-by-supervisor", ITEM, rows[2].source_id),
        (NOW + 6, "alice", alice.id, "claim", ITEM, rows[3].source_id),
        (NOW + 7, "bob", bob.id, "claim", ITEM, rows[4].source_id),
        (later, "carol", carol.id, "takeover", ITEM, rows[3].source_id),
        (later + 1, "carol", carol.id, "auto-removal", ITEM, rows[4].source_id),
    ]
    client_ids = {
        row[0]: row[1] for row in conn.execute("SELECT id, client_id FROM call_list_items")
    }
    for source_id, client_id in conn.execute("SELECT source_id, client_id FROM audit"):
        assert client_id == client_ids[source_id]


# --- sessions (C13) --------------------------------------------------------------------------


def test_session_records_who_and_beats(conn: Connection, clinic: StoredClinic) -> None:
    alice = clinic.session("alice", NOW)
    assert alice.operator == "alice" and not alice.supervisor
    row = conn.execute(
        "SELECT operator, pid, started_at, heartbeat_at, ended_at FROM sessions WHERE id = ?",
        (alice.id,),
    ).fetchone()
    assert tuple(row) == ("alice", os.getpid(), NOW, NOW, None)
    heartbeat(conn, alice, NOW + 20)
    end_session(conn, alice, NOW + 30)
    end_session(conn, alice, NOW + 40)  # a second end keeps the first time
    heartbeat(conn, alice, NOW + 50)
    assert tuple(
        conn.execute(
            "SELECT heartbeat_at, ended_at FROM sessions WHERE id = ?", (alice.id,)
        ).fetchone()
    ) == (NOW + 20, NOW + 30)


def test_lock_offers_takeover_only_for_others_stale_live_locks() -> None:
    base = Lock(
        operator="alice",
        session_id=1,
        since=NOW,
        epoch=1,
        alive=True,
        stale=True,
        mine=False,
        mine_earlier=False,
        mine_elsewhere=False,
    )
    assert base.offers_takeover
    for change in (
        {"alive": False},
        {"stale": False},
        {"mine": True},
        {"mine_earlier": True},
        {"mine_elsewhere": True},
    ):
        assert not dataclasses.replace(base, **change).offers_takeover  # type: ignore[arg-type]


# --- random sequences of everything operators do ---------------------------------------------


OPERATORS = ("alice", "bob", "carol")
OUTCOMES = ("confirmed", "no-answer", "busy", "left-message", "call-back", "wrong-number")


class LockProtocol(RuleBasedStateMachine):
    """Operators claim, finish, abort, crash and take over on three rows while time moves.

    After every step the database must tell one consistent story, and every
    finish must succeed exactly when the caller's lock (session and epoch) is
    still in the locks table.
    """

    def __init__(self, location: str) -> None:
        super().__init__()
        self.conn = open_engine(location).connect()
        self.policy = default_policy()
        clinic = StoredClinic(self.conn, location)
        client = clinic.add_client("Anna")
        self.rows = [
            RowKey(APPOINTMENT, clinic.add_appointment(client, TOMORROW_10)),
            RowKey(TASK, clinic.add_task(client, "recall", NOW)),
            RowKey(ITEM, clinic.add_call_list("List", [client])[1][0]),
        ]
        self.now = NOW
        self.sessions = {name: clinic.session(name, NOW) for name in OPERATORS}
        self.claims: dict[tuple[str, RowKey], Claim] = {}

    def teardown(self) -> None:
        self.conn.close()

    def current_lock(self, key: RowKey) -> tuple[object, ...] | None:
        row = self.conn.execute(
            "SELECT session_id, epoch FROM locks WHERE kind = ? AND source_id = ?",
            (key.kind, key.source_id),
        ).fetchone()
        return None if row is None else tuple(row)

    @rule(seconds=st.sampled_from([1, 59, 61, 600, 899, 901, 1800, 3601, 7201]))
    def time_passes(self, seconds: int) -> None:
        self.now += seconds

    @rule(who=st.sampled_from(OPERATORS))
    def beat(self, who: str) -> None:
        heartbeat(self.conn, self.sessions[who], self.now)

    @rule(who=st.sampled_from(OPERATORS))
    def app_restarts(self, who: str) -> None:
        self.sessions[who] = start_session(self.conn, who, self.now)

    @rule(who=st.sampled_from(OPERATORS), index=st.integers(0, 2), take=st.booleans())
    def claim(self, who: str, index: int, take: bool) -> None:
        key, session = self.rows[index], self.sessions[who]
        offer = inspect_row(self.conn, self.policy, session, key, self.now).lock if take else None
        result = claim_row(self.conn, self.policy, session, key, self.now, take_over=offer)
        if isinstance(result, Claim):
            assert self.current_lock(key) == (session.id, result.epoch)
            self.claims[(who, key)] = result
        elif result.reason == "locked":
            lock = result.lock
            assert lock is not None and (lock.operator != who or lock.mine_elsewhere)
            assert self.current_lock(key) == (lock.session_id, lock.epoch)

    @rule(
        who=st.sampled_from(OPERATORS), index=st.integers(0, 2), outcome=st.sampled_from(OUTCOMES)
    )
    def finish(self, who: str, index: int, outcome: str) -> None:
        key = self.rows[index]
        claim = self.claims.get((who, key))
        if claim is None:
            return
        mine = self.current_lock(key) == (claim.session_id, claim.epoch)
        before = self.conn.execute("SELECT count(*) FROM attempts").fetchone()[0]
        try:
            finish_call(
                self.conn,
                self.policy,
                self.sessions[who],
                claim,
                outcome,
                "",
                self.now,
                callback_at=self.now + HOUR,
            )
        except LockLost:
            assert not mine
            assert self.conn.execute("SELECT count(*) FROM attempts").fetchone()[0] == before
        else:
            assert mine
            assert self.current_lock(key) is None
        del self.claims[(who, key)]

    @rule(who=st.sampled_from(OPERATORS), index=st.integers(0, 2))
    def abort(self, who: str, index: int) -> None:
        key = self.rows[index]
        holder = inspect_row(self.conn, self.policy, self.sessions[who], key, self.now).lock
        try:
            released = abort_call(self.conn, self.policy, self.sessions[who], key, self.now)
        except NotAllowed:
            assert holder is not None and (holder.operator != who or holder.mine_elsewhere)
            assert self.current_lock(key) is not None
        else:
            assert released == (holder is not None)
            assert self.current_lock(key) is None

    @rule(index=st.integers(0, 2))
    def sweep(self, index: int) -> None:
        remove_stale_locks(self.conn, self.policy, self.sessions[OPERATORS[index]], self.now)

    @invariant()
    def consistent(self) -> None:
        conn = self.conn
        assert (
            table(
                conn,
                "SELECT l.kind FROM locks l JOIN call_rows r USING (kind, source_id)"
                " WHERE r.closed_at IS NOT NULL OR l.epoch != r.epoch",
            )
            == []
        )
        claims = conn.execute(
            "SELECT count(*) FROM audit WHERE event IN ('claim', 'takeover')"
        ).fetchone()[0]
        assert claims == conn.execute("SELECT coalesce(sum(epoch), 0) FROM call_rows").fetchone()[0]
        assert (
            conn.execute("SELECT count(*) FROM attempts").fetchone()[0]
            == conn.execute("SELECT count(*) FROM audit WHERE event = 'release'").fetchone()[0]
        )
        for kind, source_id, reason, failed in conn.execute(
            "SELECT kind, source_id, closed_reason, failed_attempts FROM call_rows"
            " WHERE closed_at IS NOT NULL"
        ).fetchall():
            last = conn.execute(
                "SELECT outcome FROM attempts WHERE kind = ? AND source_id = ?"
                " ORDER BY id DESC LIMIT 1",
                (kind, source_id),
            ).fetchone()[0]
            if reason == "unreachable":
                assert failed == self.policy.max_attempts
            else:
                assert reason == last and self.policy.outcome(last).closes


def test_the_lock_protocol_tells_one_story(more_databases: Callable[[], str]) -> None:
    """Each example on a fresh database of the engine under test."""

    class OnThisEngine(LockProtocol):
        def __init__(self) -> None:
            super().__init__(more_databases())

    run_state_machine_as_test(
        OnThisEngine, settings=settings(max_examples=40, stateful_step_count=30, deadline=None)
    )


# --- one operator, two windows: a live session's lock is not "yours from earlier" ------------


def test_a_call_open_in_the_operators_other_window_does_not_pass_silently(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic)
    first = clinic.session("alice", NOW)
    claim = claimed(conn, policy, first, key, NOW)
    second = clinic.session("alice", NOW + 10)  # the first window still beats
    heartbeat(conn, first, NOW + 20)
    state = inspect_row(conn, policy, second, key, NOW + 30)
    lock = state.lock
    assert lock is not None and lock.mine_elsewhere
    assert not (lock.mine or lock.mine_earlier or lock.offers_takeover)
    assert (lock.session_id, lock.since) == (first.id, NOW)
    host, tty = conn.execute("SELECT host, tty FROM sessions WHERE id = ?", (first.id,)).fetchone()
    assert (lock.host, lock.tty) == (host, tty)  # where that window is, to tell the operator
    assert state.refusal == Refusal("locked", lock=lock)
    # c without the operator's yes changes nothing; a refuses.
    assert refused(conn, policy, second, key, NOW + 30) == Refusal("locked", lock=lock)
    with pytest.raises(NotAllowed, match="other window"):
        abort_call(conn, policy, second, key, NOW + 30)
    assert locks(conn) == [(ITEM, key.source_id, "alice", first.id, NOW, claim.epoch)]
    assert events(conn) == ["claim"]
    # The first window saves as usual.
    finish_call(conn, policy, first, claim, "confirmed", "", NOW + 40)
    assert [a[0:2] for a in attempts(conn, key)] == [("alice", "confirmed")]


def test_the_other_windows_call_moves_only_on_an_explicit_yes(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic)
    first = clinic.session("alice", NOW)
    old = claimed(conn, policy, first, key, NOW)
    second = clinic.session("alice", NOW + 10)
    offer = inspect_row(conn, policy, second, key, NOW + 10).lock
    claim = claimed(conn, policy, second, key, NOW + 20, take_over=offer)
    assert (claim.session_id, claim.epoch) == (second.id, old.epoch + 1)
    (takeover,) = audit_rows(conn, "takeover")
    assert (takeover["operator"], takeover["session_id"]) == ("alice", second.id)
    assert json.loads(str(takeover["detail"])) == {
        "holder": "alice",
        "holder_session": first.id,
        "holder_alive": True,
        "since": NOW,
    }
    # The first window learns at its next save that nothing was saved there.
    with pytest.raises(LockLost, match="another window of yours; nothing was saved"):
        finish_call(conn, policy, first, old, "confirmed", "", NOW + 30)
    assert attempts(conn, key) == []
    # ... and sees the call as open in its other window now.
    back = inspect_row(conn, policy, first, key, NOW + 30).lock
    assert back is not None and back.mine_elsewhere and back.session_id == second.id
    finish_call(conn, policy, second, claim, "confirmed", "", NOW + 40)
    assert [a[0:2] for a in attempts(conn, key)] == [("alice", "confirmed")]


def test_a_yes_given_to_an_older_lock_moves_nothing(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic)
    first = clinic.session("alice", NOW)
    claim = claimed(conn, policy, first, key, NOW)
    second = clinic.session("alice", NOW + 10)
    offer = inspect_row(conn, policy, second, key, NOW + 10).lock
    # Meanwhile the first window saved and called again: a new lock, a new epoch.
    finish_call(conn, policy, first, claim, "busy", "", NOW + 15)
    later = NOW + 15 + policy.min_gap
    for window in (first, second):
        heartbeat(conn, window, later)
    again = claimed(conn, policy, first, key, later)
    result = refused(conn, policy, second, key, later + 1, take_over=offer)
    assert result.reason == "locked" and result.lock is not None
    assert result.lock.epoch == again.epoch
    assert locks(conn)[0][3] == first.id


def test_once_the_other_window_is_gone_its_call_is_yours_from_earlier(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    key = new_item(clinic)
    first = clinic.session("alice", NOW)
    claimed(conn, policy, first, key, NOW)
    second = clinic.session("alice", NOW + 10)
    for gone, at in ((False, NOW + policy.alive_for), (True, NOW + policy.alive_for + 1)):
        lock = inspect_row(conn, policy, second, key, at).lock
        assert lock is not None and (lock.mine_earlier, lock.mine_elsewhere) == (gone, not gone)
    end_session(conn, first, NOW + 20)  # a clean exit (or a hung-up terminal) ends it at once
    lock = inspect_row(conn, policy, second, key, NOW + 21).lock
    assert lock is not None and lock.mine_earlier and not lock.alive
    claim = claimed(conn, policy, second, key, NOW + 22)  # C9: no question asked
    assert claim.session_id == second.id
    (takeover,) = audit_rows(conn, "takeover")
    assert json.loads(str(takeover["detail"]))["holder_alive"] is False


def test_same_phone_rows_held_in_the_other_window_are_skipped(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    from storage.families import finish_family

    phone = "+7 900 555-00-11"
    mother = clinic.add_client("Mother", (phone,))
    child = clinic.add_client("Child", (phone,))
    _, (mine, theirs) = clinic.add_call_list("Recall", [mother, child])
    first = clinic.session("alice", NOW)
    claimed(conn, policy, first, RowKey(ITEM, theirs), NOW)
    second = clinic.session("alice", NOW + 10)
    claim = claimed(conn, policy, second, RowKey(ITEM, mine), NOW + 10)
    done = finish_family(
        conn, policy, second, claim, "confirmed", "", NOW + 20, family=[RowKey(ITEM, theirs)]
    )
    assert [skip.refusal.reason for skip in done.skipped] == ["locked"]
    assert locks(conn)[0][2:4] == ("alice", first.id)  # still the first window's
