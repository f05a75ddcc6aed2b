"""Clients (C2, B11): the card's edits are audited; history, summary and current requests."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest

from storage.clients import (
    BadPhone,
    ChangedMeanwhile,
    Client,
    ClientGone,
    appointments,
    attempts,
    current_requests,
    get_client,
    rekey_phones,
    row_history,
    split_phones,
    tasks,
    update_client,
)
from storage.connection import Connection
from storage.engine import write
from storage.locks import Claim, claim_row, finish_call, inspect_row
from storage.policy import PhoneRules, Policy, default_policy
from storage.rows import ITEM, RowKey
from storage.sessions import heartbeat
from tests.stored_clinic import NOW, StoredClinic, clinic_time

MINUTE = 60
HOUR = 60 * MINUTE


def card_edits(conn: Connection) -> list[tuple[str, int, int, dict[str, object]]]:
    return [
        (row[0], row[1], row[2], json.loads(row[3]))
        for row in conn.execute(
            "SELECT operator, session_id, client_id, detail FROM audit WHERE event = 'card-edit'"
            " ORDER BY id"
        )
    ]


def test_get_client(conn: Connection, clinic: StoredClinic) -> None:
    anna = clinic.add_client(
        "Анна Смирнова",
        ("+7 900 111-22-33", "8 (495) 1"),
        birth_date="1980-06-15",
        email="anna@example.org",
        notes="VIP",
    )
    client = get_client(conn, anna)
    assert client == Client(
        anna,
        None,
        "Анна Смирнова",
        "1980-06-15",
        ("+7 900 111-22-33", "8 (495) 1"),
        "anna@example.org",
        "VIP",
        False,
    )
    assert get_client(conn, 999) is None


@pytest.mark.parametrize(
    ("born", "today", "age"),
    [
        ("1980-06-15", date(2025, 6, 14), 44),
        ("1980-06-15", date(2025, 6, 15), 45),
        ("2024-02-29", date(2025, 2, 28), 0),
        (None, date(2025, 1, 1), None),
        ("15.06.1980", date(2025, 1, 1), None),
    ],
)
def test_age(born: str | None, today: date, age: int | None) -> None:
    assert Client(1, None, "X", born, (), "", "", False).age(today) == age


def test_phone_text_helpers() -> None:
    assert split_phones(" +7 900 1; 8 495 2 ;\n+44 3;; ") == ["+7 900 1", "8 495 2", "+44 3"]
    assert split_phones("") == []


def test_update_client_audits_each_changed_field(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    anna = clinic.add_client("Anna", ("+7 900 1",), email="old@example.org", notes="")
    alice = clinic.session("alice")
    after = update_client(
        conn,
        policy,
        alice,
        anna,
        {
            "email": "new@example.org",
            "notes": "Prefers mornings",
            "phones": ["+7 900 200-00-02", "8 (495) 300-00-03"],
            "do_not_call": True,
        },
        NOW,
    )
    assert after.email == "new@example.org" and after.notes == "Prefers mornings"
    assert after.phones == ("+7 900 200-00-02", "8 (495) 300-00-03") and after.do_not_call
    assert after == get_client(conn, anna)
    assert [
        tuple(r)
        for r in conn.execute(
            "SELECT position, number, digits FROM phones WHERE client_id = ? ORDER BY position",
            (anna,),
        )
    ] == [(1, "+7 900 200-00-02", "79002000002"), (2, "8 (495) 300-00-03", "74953000003")]
    assert sorted(card_edits(conn), key=lambda r: str(r[3]["field"])) == [
        ("alice", alice.id, anna, {"field": "do_not_call", "old": False, "new": True}),
        (
            "alice",
            alice.id,
            anna,
            {"field": "email", "old": "old@example.org", "new": "new@example.org"},
        ),
        ("alice", alice.id, anna, {"field": "notes", "old": "", "new": "Prefers mornings"}),
        (
            "alice",
            alice.id,
            anna,
            {
                "field": "phones",
                "old": ["+7 900 1"],
                "new": ["+7 900 200-00-02", "8 (495) 300-00-03"],
            },
        ),
    ]
    assert clinic.scalar("SELECT at FROM audit WHERE event = 'card-edit' LIMIT 1") == NOW


def test_unchanged_fields_are_not_audited(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    anna = clinic.add_client("Anna", ("+7 900 1",), email="a@example.org")
    alice = clinic.session("alice")
    update_client(
        conn,
        policy,
        alice,
        anna,
        {"email": "a@example.org", "phones": ["+7 900 1"], "notes": "x"},
        NOW,
    )
    assert [r[3]["field"] for r in card_edits(conn)] == ["notes"]
    update_client(conn, policy, alice, anna, {"notes": "x"}, NOW + 1)
    assert len(card_edits(conn)) == 1


@pytest.mark.parametrize("field", ["name", "birth_date", "id", "external_id"])
def test_update_client_rejects_fields_that_are_not_editable(
    conn: Connection, clinic: StoredClinic, field: str, policy: Policy
) -> None:
    anna = clinic.add_client("Anna", email="a@example.org")
    with pytest.raises(ValueError, match=field):
        update_client(
            conn,
            policy,
            clinic.session("alice"),
            anna,
            {field: "Someone else", "email": "b@example.org"},
            NOW,
        )
    client = get_client(conn, anna)
    assert client is not None and client.name == "Anna" and client.email == "a@example.org"
    assert card_edits(conn) == []


def test_update_of_a_missing_client(conn: Connection, clinic: StoredClinic, policy: Policy) -> None:
    with pytest.raises(ClientGone):
        update_client(conn, policy, clinic.session("alice"), 999, {"notes": "x"}, NOW)
    assert card_edits(conn) == []


def test_row_history_merges_attempts_and_stale_lock_notes_newest_first(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    anna = clinic.add_client("Anna")
    _, (item,) = clinic.add_call_list("Recall", [anna])
    key = RowKey(ITEM, item)
    alice, bob = clinic.session("alice", NOW), clinic.session("bob", NOW)

    def claim(moment: int) -> Claim:
        result = claim_row(conn, policy, alice, key, moment)
        assert isinstance(result, Claim)
        return result

    finish_call(conn, policy, alice, claim(NOW), "no-answer", "no one home", NOW + MINUTE)
    second = NOW + 2 * HOUR
    held = claim(second)
    stale_at = second + policy.stale_after
    heartbeat(conn, alice, stale_at)
    inspect_row(conn, policy, bob, key, stale_at)  # Alice still working: a note (C10)
    inspect_row(conn, policy, bob, key, stale_at + 5)  # but only one
    finish_call(conn, policy, alice, held, "busy", "line busy", stale_at + MINUTE)

    history = row_history(conn, key)
    assert [(n.at, n.operator, n.outcome, n.comment, n.lock_since) for n in history] == [
        (stale_at + MINUTE, "alice", "busy", "line busy", None),
        (stale_at, "alice", None, "", second),
        (NOW + MINUTE, "alice", "no-answer", "no one home", None),
    ]
    assert [n.at for n in row_history(conn, key, limit=2)] == [stale_at + MINUTE, stale_at]
    assert row_history(conn, RowKey(ITEM, item + 1)) == []
    # The client's attempts, newest first.
    assert [(a.key, a.outcome, a.comment) for a in attempts(conn, anna)] == [
        (key, "busy", "line busy"),
        (key, "no-answer", "no one home"),
    ]


def test_current_requests_are_upcoming_appointments_and_open_tasks(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    anna = clinic.add_client("Anna")
    other = clinic.add_client("Boris")
    clinic.add_appointment(anna, clinic_time(2025, 3, 11, 15))  # yesterday
    this_morning = clinic.add_appointment(anna, clinic_time(2025, 3, 12, 8))
    tomorrow = clinic.add_appointment(anna, clinic_time(2025, 3, 13, 10), status="confirmed")
    next_month = clinic.add_appointment(anna, clinic_time(2025, 4, 1, 10))
    clinic.add_appointment(other, clinic_time(2025, 3, 13, 11))
    open_task = clinic.add_task(anna, "recall", NOW + 24 * HOUR, title="Recall")
    overdue = clinic.add_task(anna, "reminder", NOW - 24 * HOUR)
    clinic.add_task(anna, "recall", NOW - HOUR, done_at=NOW)
    clinic.add_task(other, "recall", NOW)

    requests = current_requests(conn, policy, anna, NOW)
    assert [a.id for a in requests.appointments] == [this_morning, tomorrow, next_month]
    assert requests.appointments[1].status == "confirmed"
    assert [t.id for t in requests.tasks] == [overdue, open_task]
    assert all(t.done_at is None for t in requests.tasks)
    # The summary sees everything.
    assert len(appointments(conn, anna)) == 4
    assert len(tasks(conn, anna)) == 3
    assert [a.id for a in appointments(conn, anna, after=NOW, limit=1)] == [tomorrow]


def test_numbers_are_keyed_again_when_the_phone_rules_change(
    conn: Connection, clinic: StoredClinic
) -> None:
    """Shared numbers (B6) are found by their keys: new [phones] rules re-key them once."""
    trunk = clinic.add_client("Trunk", ("8 916 123-45-67",))
    plus = clinic.add_client("Plus", ("+7 916 123 45 67",))

    def keys() -> dict[int, str]:
        return dict(conn.execute("SELECT client_id, digits FROM phones"))

    assert keys() == {trunk: "89161234567", plus: "79161234567"}  # keyed by no rules
    russia = PhoneRules(
        country_code="7", trunk_prefix="8", national_length=10, international_prefix="810"
    )
    assert rekey_phones(conn, russia) == 1
    assert keys() == {trunk: "79161234567", plus: "79161234567"}
    assert rekey_phones(conn, russia) == 0  # the same rules: nothing to do
    bare = PhoneRules(country_code="7", trunk_prefix="", national_length=0, international_prefix="")
    assert rekey_phones(conn, bare) == 1
    assert keys() == {trunk: "89161234567", plus: "79161234567"}
    assert conn.execute("SELECT value FROM settings WHERE name = 'phone_rules'").fetchone() == (
        "2: 7  0 ",
    )


def test_numbers_keyed_by_an_earlier_ringround_are_keyed_again(
    conn: Connection, clinic: StoredClinic
) -> None:
    """In older databases an extension's digits were part of the key and "8 10" was kept.

    A database keyed then (its settings say by which rules) is keyed again
    once, so that one number has one key: clients sharing it are found (B6).
    """
    office = clinic.add_client("Office", ("+7 495 123-45-67 доб. 12",))
    desk = clinic.add_client("Desk", ("8 495 123 45 67",))
    berlin = clinic.add_client("Berlin", ("8 10 49 30 1234567",))
    cousin = clinic.add_client("Cousin", ("+49 30 1234567",))
    with write(conn):  # as the earlier ringround left them
        conn.executemany(
            "UPDATE phones SET digits = ? WHERE client_id = ?",
            [
                ("74951234567" + "12", office),
                ("74951234567", desk),
                ("81049301234567", berlin),
                ("49301234567", cousin),
            ],
        )
        conn.execute("INSERT INTO settings (name, value) VALUES ('phone_rules', '7 8 10')")
    russia = default_policy().phones
    assert rekey_phones(conn, russia) == 2
    keys = dict(conn.execute("SELECT client_id, digits FROM phones"))
    assert keys[office] == keys[desk] == "74951234567"
    assert keys[berlin] == keys[cousin] == "49301234567"
    assert rekey_phones(conn, russia) == 0


def test_update_client_refuses_a_new_number_the_phone_rules_refuse(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    """As an import does (storage/phones.py: digit_count_problem); a number stored already
    under other rules may stay, and nothing of the edit is saved."""
    anna = clinic.add_client("Anna", ("+7 900 1",), email="a@example.org")
    alice = clinic.session("alice")
    before = get_client(conn, anna)
    for typed, problem in (
        ("+7 916 123-45-6", "'+7 916 123-45-6' has too few digits"),
        ("ext", "'ext' has no digits"),
    ):
        with pytest.raises(BadPhone, match=re.escape(problem)):
            update_client(
                conn, policy, alice, anna, {"phones": ["+7 900 1", typed], "notes": "x"}, NOW
            )
    assert get_client(conn, anna) == before
    assert card_edits(conn) == []
    after = update_client(
        conn, policy, alice, anna, {"phones": ["+7 900 1", "+7 916 123-45-67"]}, NOW
    )
    assert after.phones == ("+7 900 1", "+7 916 123-45-67")


def test_update_client_refuses_a_field_changed_since_the_card_showed_it(
    conn: Connection, clinic: StoredClinic, policy: Policy
) -> None:
    """Two operators on one card: the second save once put back the phones (or the
    do-not-call mark) the card had shown, silently undoing the first operator's change."""
    anna = clinic.add_client("Anna", ("+7 900 100-00-01",), email="a@example.org")
    alice, bob = clinic.session("alice"), clinic.session("bob")
    shown = get_client(conn, anna)  # both cards show this
    assert shown is not None
    update_client(
        conn,
        policy,
        alice,
        anna,
        {"phones": ["+7 900 100-00-01", "+7 916 555-00-01"], "do_not_call": True},
        NOW,
        shown=shown,
    )
    bobs: list[dict[str, object]] = [
        {"phones": ["+7 900 100-00-01", "+7 916 777-00-02"]},
        {"do_not_call": False},
    ]
    for changes in bobs:
        with pytest.raises(ChangedMeanwhile):
            update_client(conn, policy, bob, anna, changes, NOW + 1, shown=shown)
    update_client(conn, policy, bob, anna, {"notes": "evenings"}, NOW + 2, shown=shown)
    after = get_client(conn, anna)
    assert after is not None
    assert after.phones == ("+7 900 100-00-01", "+7 916 555-00-01")
    assert after.do_not_call and after.notes == "evenings"
