"""B6 same phone, several rows: finding a family's open rows and settling them in one save."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

import storage.families
from storage.database import open_database
from storage.engine import write
from storage.families import (
    FAMILY_LIMIT,
    NOT_FAMILY,
    FamilyFinished,
    family_rows,
    finish_family,
)
from storage.locks import Claim, LockLost, claim_row, finish_call
from storage.policy import Policy
from storage.rows import APPOINTMENT, ITEM, TASK, RowKey
from storage.worklists import CALLABLE, LATER
from tests.storage.test_write_transactions import check_transactions
from tests.stored_clinic import NOW, StoredClinic, clinic_time

TOMORROW = clinic_time(2025, 3, 13, 10)  # inside the default confirmation window
HOME = "+7 (495) 111-22-33"


class Family:
    """Mother, son and daughter on one home number; a neighbour on another."""

    def __init__(self, clinic: StoredClinic) -> None:
        self.mother = clinic.add_client("Иванова Мария", ("+7 916 000-00-01", HOME))
        self.son = clinic.add_client("Иванов Пётр", ("74951112233",))  # same digits
        self.daughter = clinic.add_client("Иванова Анна", ("8 999 000-00-02", HOME))
        self.neighbour = clinic.add_client("Сидоров", ("+7 495 111-22-34",))
        self.mother_visit = RowKey(APPOINTMENT, clinic.add_appointment(self.mother, TOMORROW))
        self.mother_recall = RowKey(TASK, clinic.add_task(self.mother, "recall", NOW - 3600))
        self.son_visit = RowKey(
            APPOINTMENT, clinic.add_appointment(self.son, TOMORROW + 1800, service="Осмотр")
        )
        _, (son_item, neighbour_item) = clinic.add_call_list("Flu", [self.son, self.neighbour])
        self.son_item = RowKey(ITEM, son_item)
        self.neighbour_item = RowKey(ITEM, neighbour_item)
        self.daughter_task = RowKey(
            TASK, clinic.add_task(self.daughter, "reminder", NOW - 60, title="Снимки")
        )
        # Not open: confirmed already, a task done, a task kind nobody calls, next week.
        clinic.add_appointment(self.son, TOMORROW + 3600, status="confirmed")
        clinic.add_task(self.daughter, "recall", NOW - 60, done_at=NOW - 30)
        clinic.add_task(self.daughter, "billing", NOW - 60)
        clinic.add_appointment(self.daughter, TOMORROW + 7 * 86400)
        self.all = [self.son_visit, self.son_item, self.daughter_task]


@pytest.fixture
def family(clinic: StoredClinic) -> Family:
    return Family(clinic)


def claim(
    clinic: StoredClinic, policy: Policy, key: RowKey, operator: str = "alice", now: int = NOW
) -> Claim:
    result = claim_row(clinic.conn, policy, clinic.session(operator, now), key, now)
    assert isinstance(result, Claim), result
    return result


def test_family_rows_are_other_clients_open_rows_on_every_list(
    clinic: StoredClinic, policy: Policy, family: Family
) -> None:
    alice = clinic.session("alice")
    rows = family_rows(clinic.conn, policy, alice, family.mother, NOW)
    # Work-list order: confirmation, call lists, tasks; the mother's own rows are not here.
    assert [row.key for row in rows] == family.all
    son_visit, son_item, daughter_task = rows
    assert (son_visit.client, son_visit.subject, son_visit.due, son_visit.group) == (
        "Иванов Пётр",
        "Осмотр · Dr. House",
        TOMORROW + 1800,
        CALLABLE,
    )
    assert (son_item.work_list.kind, son_item.work_list.name, son_item.due) == (ITEM, "Flu", None)
    assert (daughter_task.work_list.task_kind, daughter_task.subject) == ("reminder", "Снимки")
    assert all(row.lock_operator is None and not row.lock_mine for row in rows)
    # From the son's side: his mother's and sister's rows, not his own.
    assert [row.key for row in family_rows(clinic.conn, policy, alice, family.son, NOW)] == [
        family.mother_visit,
        family.mother_recall,
        family.daughter_task,
    ]
    # A number nobody else has: no family.
    assert family_rows(clinic.conn, policy, alice, family.neighbour, NOW) == []


def test_family_rows_show_locks_and_rows_not_callable_yet(
    clinic: StoredClinic, policy: Policy, family: Family
) -> None:
    bob_claim = claim(clinic, policy, family.son_visit, "bob")
    assert bob_claim.key == family.son_visit
    no_answer = claim(clinic, policy, family.daughter_task)
    finish_call(clinic.conn, policy, clinic.session("alice"), no_answer, "no-answer", "", NOW)
    rows = {
        row.key: row
        for row in family_rows(
            clinic.conn, policy, clinic.session("alice"), family.mother, NOW + 60
        )
    }
    assert rows[family.son_visit].lock_operator == "bob"
    assert rows[family.daughter_task].group == LATER  # the retry delay (C6)


def test_a_number_without_digits_makes_no_family(clinic: StoredClinic, policy: Policy) -> None:
    first = clinic.add_client("A", ("ask at reception",))
    second = clinic.add_client("B", ("ask at reception",))
    clinic.add_appointment(second, TOMORROW)
    assert family_rows(clinic.conn, policy, clinic.session(), first, NOW) == []


def test_one_save_settles_the_family(clinic: StoredClinic, policy: Policy, family: Family) -> None:
    alice = clinic.session("alice")
    main = claim_row(clinic.conn, policy, alice, family.mother_visit, NOW)
    assert isinstance(main, Claim)
    done = finish_family(
        clinic.conn,
        policy,
        alice,
        main,
        "confirmed",
        "Вся семья придёт",
        NOW + 120,
        family=family.all,
    )
    assert isinstance(done, FamilyFinished)
    assert done.closed and not done.unreachable
    assert [row.key for row in done.settled] == family.all
    assert done.skipped == ()
    attempts = clinic.conn.execute(
        "SELECT kind, source_id, operator, outcome, comment FROM attempts ORDER BY id"
    ).fetchall()
    assert attempts == [
        (key.kind, key.source_id, "alice", "confirmed", "Вся семья придёт")
        for key in [family.mother_visit, *sorted(family.all)]
    ]
    assert (
        clinic.scalar("SELECT status FROM appointments WHERE id = ?", (family.son_visit.source_id,))
        == "confirmed"
    )
    assert (
        clinic.scalar(
            "SELECT processed_at FROM call_list_items WHERE id = ?", (family.son_item.source_id,)
        )
        == NOW + 120
    )
    assert (
        clinic.scalar("SELECT done_at FROM tasks WHERE id = ?", (family.daughter_task.source_id,))
        == NOW + 120
    )
    assert clinic.scalar("SELECT count(*) FROM locks") == 0
    # Each family row has its own claim and release, and says which call settled it.
    audit = clinic.conn.execute(
        "SELECT event, kind, source_id, detail FROM audit WHERE event = 'family-settled'"
        " ORDER BY id"
    ).fetchall()
    assert [(kind, source_id) for _, kind, source_id, _ in audit] == [
        (key.kind, key.source_id) for key in sorted(family.all)
    ]
    assert json.loads(audit[0][3]) == {"call": str(family.mother_visit), "outcome": "confirmed"}
    assert clinic.scalar("SELECT count(*) FROM audit WHERE event = 'claim'") == 4
    # The mother's own other row (her recall task) is not family: untouched.
    assert (
        clinic.scalar("SELECT done_at FROM tasks WHERE id = ?", (family.mother_recall.source_id,))
        is None
    )


def test_rows_that_may_not_be_called_are_skipped_and_reported(
    clinic: StoredClinic, policy: Policy, family: Family
) -> None:
    bob = clinic.session("bob")
    assert isinstance(claim_row(clinic.conn, policy, bob, family.son_visit, NOW), Claim)
    with write(clinic.conn):
        clinic.conn.execute("UPDATE clients SET do_not_call = 1 WHERE id = ?", (family.daughter,))
    alice = clinic.session("alice")
    main = claim_row(clinic.conn, policy, alice, family.mother_visit, NOW)
    assert isinstance(main, Claim)
    done = finish_family(
        clinic.conn,
        policy,
        alice,
        main,
        "confirmed",
        "",
        NOW + 60,
        family=[*family.all, family.neighbour_item],
    )
    assert [row.key for row in done.settled] == [family.son_item]
    skipped = {skip.key: (skip.client, skip.refusal.reason) for skip in done.skipped}
    assert skipped == {
        family.son_visit: ("Иванов Пётр", "locked"),
        family.daughter_task: ("Иванова Анна", "do-not-call"),
        family.neighbour_item: ("Сидоров", NOT_FAMILY),  # another number: never settled
    }
    locked = next(s for s in done.skipped if s.key == family.son_visit)
    assert locked.refusal.lock is not None and locked.refusal.lock.operator == "bob"
    assert clinic.conn.execute("SELECT operator FROM locks").fetchall() == [("bob",)]
    assert (
        clinic.scalar(
            "SELECT processed_at FROM call_list_items WHERE id = ?",
            (family.neighbour_item.source_id,),
        )
        is None
    )


def test_a_lost_lock_saves_nothing_for_anyone(
    clinic: StoredClinic, policy: Policy, family: Family
) -> None:
    alice = clinic.session("alice")
    main = claim_row(clinic.conn, policy, alice, family.mother_visit, NOW)
    assert isinstance(main, Claim)
    with write(clinic.conn):
        clinic.conn.execute("DELETE FROM locks")  # released by a supervisor meanwhile
    with pytest.raises(LockLost):
        finish_family(
            clinic.conn, policy, alice, main, "confirmed", "", NOW + 60, family=family.all
        )
    assert clinic.scalar("SELECT count(*) FROM attempts") == 0
    assert clinic.scalar("SELECT count(*) FROM locks") == 0


def test_a_call_on_an_appointment_moved_meanwhile_settles_nobody(
    clinic: StoredClinic, policy: Policy, family: Family
) -> None:
    """The mother's visit was moved during the call: her "Confirmed" is not saved, nor
    given to the family; only her lock is released, and that release is kept."""
    alice = clinic.session("alice")
    main = claim(clinic, policy, family.mother_visit)
    with write(clinic.conn):  # the front desk moves it, on the clinic's side
        clinic.conn.execute(
            "UPDATE appointments SET starts_at = starts_at + 3600 WHERE id = ?",
            (family.mother_visit.source_id,),
        )
    done = finish_family(
        clinic.conn, policy, alice, main, "confirmed", "", NOW + 60, family=family.all
    )
    assert done.moved is not None and done.moved.starts_at == TOMORROW + 3600
    assert (done.settled, done.skipped) == ((), ())
    assert clinic.scalar("SELECT count(*) FROM attempts") == 0
    assert clinic.scalar("SELECT count(*) FROM locks") == 0
    assert clinic.scalar("SELECT count(*) FROM appointments WHERE status = 'confirmed'") == 1


def test_a_failure_halfway_undoes_the_whole_save(
    clinic: StoredClinic, policy: Policy, family: Family, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = clinic.session("alice")
    main = claim_row(clinic.conn, policy, alice, family.mother_visit, NOW)
    assert isinstance(main, Claim)
    calls = []

    def failing_finish(*args: object, **kwargs: object) -> object:
        calls.append(args[3])
        if len(calls) == 3:  # the call, the first family row, then the disk is full
            raise sqlite3.OperationalError("database or disk is full")
        return finish_call(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(storage.families, "finish_call", failing_finish)
    with pytest.raises(Exception, match="full"):
        finish_family(
            clinic.conn, policy, alice, main, "confirmed", "", NOW + 60, family=family.all
        )
    assert not clinic.conn.in_transaction
    assert clinic.scalar("SELECT count(*) FROM attempts") == 0
    assert clinic.conn.execute("SELECT kind, source_id, operator FROM locks").fetchall() == [
        (APPOINTMENT, family.mother_visit.source_id, "alice")
    ]  # still hers: may save again
    assert (
        clinic.scalar("SELECT status FROM appointments WHERE id = ?", (family.son_visit.source_id,))
        == "unconfirmed"
    )


def test_a_family_save_is_one_begin_immediate(
    tmp_path: Path, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements: list[str] = []
    conn = open_database(tmp_path / "clinic.db", create=True)
    try:
        clinic = StoredClinic(conn, tmp_path / "clinic.db")
        family = Family(clinic)
        alice = clinic.session("alice")
        main = claim_row(conn, policy, alice, family.mother_visit, NOW)
        assert isinstance(main, Claim)
        conn.set_trace_callback(statements.append)
        done = finish_family(
            conn,
            policy,
            alice,
            main,
            "call-back",
            "",
            NOW + 60,
            family=family.all,
            callback_at=NOW + 7200,
        )
        conn.set_trace_callback(None)
    finally:
        conn.close()
    assert len(done.settled) == 3
    seen = check_transactions(statements)
    assert (seen["begin"], seen["commit"], seen["rollback"]) == (1, 1, 0)


def test_nested_writes_are_savepoints(clinic: StoredClinic) -> None:
    conn = clinic.conn
    with write(conn):
        conn.execute("INSERT INTO clients (name) VALUES ('outer')")
        with pytest.raises(KeyError), write(conn):
            conn.execute("INSERT INTO clients (name) VALUES ('inner, undone')")
            raise KeyError("inner block failed")
        with write(conn):
            conn.execute("INSERT INTO clients (name) VALUES ('inner, kept')")
    assert not conn.in_transaction
    assert [r[0] for r in conn.execute("SELECT name FROM clients ORDER BY id")] == [
        "outer",
        "inner, kept",
    ]


def test_a_number_shared_by_a_whole_care_home_lists_a_limited_family(
    clinic: StoredClinic, policy: Policy
) -> None:
    home = "+7 495 000-00-00"
    first = clinic.add_client("Resident 0", (home,))
    for number in range(1, FAMILY_LIMIT + 11):
        clinic.add_appointment(
            clinic.add_client(f"Resident {number}", (home,)), TOMORROW + number * 60
        )
    rows = family_rows(clinic.conn, policy, clinic.session(), first, NOW)
    assert len(rows) == FAMILY_LIMIT
    assert [row.due for row in rows] == sorted(row.due or 0 for row in rows)
