"""Reports: calls, outcomes, success rate and calls per (active) hour, per operator and list."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import date

import pytest

from storage.engine import write
from storage.errors import NotAllowed
from storage.locks import Claim, claim_row, finish_call
from storage.policy import Policy
from storage.reports import Report, build_report, report_columns, write_report_csv
from storage.rows import APPOINTMENT, ITEM, TASK, RowKey
from storage.sessions import Session
from tests.stored_clinic import StoredClinic, clinic_time

DAY1 = clinic_time(2025, 3, 12)
DAY3 = clinic_time(2025, 3, 14)


def call(
    clinic: StoredClinic, policy: Policy, session: Session, key: RowKey, outcome: str, at: int
) -> None:
    claim = claim_row(clinic.conn, policy, session, key, at)
    assert isinstance(claim, Claim), claim
    finish_call(clinic.conn, policy, session, claim, outcome, "", at + 90)


@pytest.fixture
def calls(clinic: StoredClinic, policy: Policy) -> StoredClinic:
    """Five calls by alice and bob over two days, on each kind of work list."""
    anna, boris, vera = (clinic.add_client(name) for name in ("Anna", "Boris", "Vera"))
    visit = clinic.add_appointment(anna, clinic_time(2025, 3, 14, 10))
    _, (item_b, item_v) = clinic.add_call_list("Flu", [boris, vera])
    task = clinic.add_task(vera, "recall", clinic_time(2025, 3, 12))
    alice, bob = clinic.session("alice"), clinic.session("bob")
    call(
        clinic,
        policy,
        alice,
        RowKey(APPOINTMENT, visit),
        "no-answer",
        clinic_time(2025, 3, 12, 10, 5),
    )
    call(
        clinic, policy, bob, RowKey(ITEM, item_v), "wrong-number", clinic_time(2025, 3, 12, 10, 10)
    )
    call(clinic, policy, alice, RowKey(ITEM, item_b), "confirmed", clinic_time(2025, 3, 12, 10, 20))
    call(clinic, policy, alice, RowKey(TASK, task), "busy", clinic_time(2025, 3, 12, 11, 40))
    call(
        clinic,
        policy,
        bob,
        RowKey(APPOINTMENT, visit),
        "confirmed",
        clinic_time(2025, 3, 13, 9, 15),
    )
    return clinic


def test_by_operator(calls: StoredClinic, policy: Policy) -> None:
    report = build_report(
        calls.conn, policy, since=DAY1, until=DAY3, by="operator", supervisor=True
    )
    assert report.days == (date(2025, 3, 12), date(2025, 3, 13))
    assert report.outcome_codes == tuple(o.code for o in policy.outcomes)
    alice, bob = report.rows
    assert (alice.name, alice.list_kind, alice.calls, alice.successful, alice.active_hours) == (
        "alice",
        None,
        3,
        1,
        2,
    )
    assert {code: n for code, n in alice.outcomes.items() if n} == {
        "no-answer": 1,
        "confirmed": 1,
        "busy": 1,
    }
    assert alice.success_rate == pytest.approx(1 / 3)
    assert alice.calls_per_hour == 1.5
    assert alice.calls_by_day == (3, 0)
    assert (alice.first_call, alice.last_call) == (
        clinic_time(2025, 3, 12, 10, 5),
        clinic_time(2025, 3, 12, 11, 40),
    )
    # bob: 10:10 on the first day and 09:15 on the second: two active hours.
    assert (bob.calls, bob.successful, bob.active_hours, bob.calls_by_day) == (2, 1, 2, (1, 1))
    assert bob.outcomes["wrong-number"] == 1  # closes, but does not complete: no success
    assert report.total is not None
    assert (report.total.calls, report.total.successful, report.total.active_hours) == (5, 2, 4)


def test_by_list(calls: StoredClinic, policy: Policy) -> None:
    report = build_report(calls.conn, policy, since=DAY1, until=DAY3, by="list", supervisor=True)
    assert [(r.list_kind, r.name, r.calls, r.successful, r.active_hours) for r in report.rows] == [
        ("confirmation", "", 2, 1, 2),
        ("call-list", "Flu", 2, 1, 2),  # alice and bob both called it between 10 and 11
        ("task", "recall", 1, 0, 1),
    ]


def test_the_period_counts_calls_by_their_start(calls: StoredClinic, policy: Policy) -> None:
    report = build_report(
        calls.conn,
        policy,
        since=clinic_time(2025, 3, 12, 10, 10),
        until=clinic_time(2025, 3, 13),
        by="operator",
        supervisor=True,
    )
    assert [(r.name, r.calls) for r in report.rows] == [("alice", 2), ("bob", 1)]
    empty = build_report(
        calls.conn, policy, since=DAY3, until=DAY3 + 86400, by="operator", supervisor=True
    )
    assert empty.rows == () and empty.total is None
    with pytest.raises(ValueError):
        build_report(calls.conn, policy, since=DAY3, until=DAY1, by="operator", supervisor=True)
    with pytest.raises(ValueError):
        build_report(calls.conn, policy, since=DAY1, until=DAY3, by="doctor", supervisor=True)


def test_only_a_supervisor_sees_reports(calls: StoredClinic, policy: Policy) -> None:
    with pytest.raises(NotAllowed):
        build_report(calls.conn, policy, since=DAY1, until=DAY3, by="operator", supervisor=False)


def test_outcomes_the_policy_no_longer_has(calls: StoredClinic, policy: Policy) -> None:
    with write(calls.conn):
        calls.conn.execute("UPDATE attempts SET outcome = 'calls' WHERE outcome = 'busy'")
    report = build_report(
        calls.conn, policy, since=DAY1, until=DAY3, by="operator", supervisor=True
    )
    assert report.outcome_codes[-1] == "calls"
    header = report_columns(report)
    assert header[:3] == ("operator", "calls", "confirmed")
    assert "outcome_calls" in header  # never two columns of one name
    assert len(set(header)) == len(header)


def test_csv(calls: StoredClinic, policy: Policy) -> None:
    report = build_report(calls.conn, policy, since=DAY1, until=DAY3, by="list", supervisor=True)
    out = io.StringIO()
    assert write_report_csv(report, policy, out, bom=True) == 3
    text = out.getvalue()
    assert text.startswith("\ufefflist_kind,list,calls,confirmed,no-answer,")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[1] == {
        "list_kind": "call-list",
        "list": "Flu",
        "calls": "2",
        "confirmed": "1",
        "no-answer": "0",
        "busy": "0",
        "left-message": "0",
        "call-back": "0",
        "cancels": "0",
        "wrong-number": "1",
        "do-not-call": "0",
        "successful": "1",
        "success_rate": "0.500",
        "active_hours": "2",
        "calls_per_hour": "1.00",
        "first_call": "2025-03-12T10:10:00+03:00",
        "last_call": "2025-03-12T10:20:00+03:00",
    }


def test_report_rows_are_typed_for_screens(calls: StoredClinic, policy: Policy) -> None:
    report = build_report(
        calls.conn, policy, since=DAY1, until=DAY3, by="operator", supervisor=True
    )
    assert isinstance(report, Report)
    assert dataclasses.is_dataclass(report.rows[0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.rows[0].calls = 9  # type: ignore[misc]
