"""Call lists: counts, and closing, reopening and deleting them (supervisor only, audited)."""

from __future__ import annotations

import json

import pytest

from storage.call_lists import (
    ListInUse,
    NoSuchList,
    close_list,
    delete_list,
    find_list,
    list_summaries,
    reopen_list,
)
from storage.connection import Connection
from storage.engine import write
from storage.errors import NotAllowed
from storage.locks import (
    Claim,
    Refusal,
    abort_call,
    claim_row,
    finish_call,
    inspect_row,
    remove_stale_locks,
)
from storage.policy import Policy
from storage.rows import ITEM, RowKey
from storage.sessions import Session
from storage.supervision import held_locks
from storage.worklists import WorkList, row_order, work_lists
from tests.database_contents import contents
from tests.stored_clinic import NOW, StoredClinic


def call(
    clinic: StoredClinic, policy: Policy, session: Session, item: int, outcome: str, at: int = NOW
) -> None:
    claim = claim_row(clinic.conn, policy, session, RowKey(ITEM, item), at)
    assert isinstance(claim, Claim)
    finish_call(clinic.conn, policy, session, claim, outcome, "", at + 60)


def audit_events(conn: Connection) -> list[tuple[str, str, dict[str, object]]]:
    return [
        (event, operator, json.loads(detail))
        for event, operator, detail in conn.execute(
            "SELECT event, operator, detail FROM audit WHERE event LIKE 'list-%' ORDER BY id"
        )
    ]


@pytest.fixture
def flu(clinic: StoredClinic, policy: Policy) -> list[int]:
    """The list "Flu" with four clients: one processed, one given up, two pending."""
    clients = [clinic.add_client(f"Client {n}") for n in range(4)]
    _, items = clinic.add_call_list("Flu", clients)
    alice = clinic.session("alice")
    call(clinic, policy, alice, items[0], "confirmed")
    call(clinic, policy, alice, items[1], "wrong-number")
    return items


def test_summaries_count_pending_processed_and_given_up(
    clinic: StoredClinic, flu: list[int]
) -> None:
    clinic.add_call_list("Another", [])
    found = list_summaries(clinic.conn)
    assert [(s.name, s.items, s.pending, s.processed, s.given_up, s.is_open) for s in found] == [
        ("Another", 0, 0, 0, 0, True),
        ("Flu", 4, 2, 1, 1, True),
    ]
    assert find_list(clinic.conn, "Flu") == found[1]
    with pytest.raises(NoSuchList):
        find_list(clinic.conn, "flu")  # names are exact


def test_closing_needs_a_supervisor(clinic: StoredClinic, policy: Policy, flu: list[int]) -> None:
    operator = clinic.session("olga")
    before = contents(clinic.conn)
    for change in (close_list, reopen_list):
        with pytest.raises(NotAllowed):
            change(clinic.conn, operator, "Flu", NOW)
    with pytest.raises(NotAllowed):
        delete_list(clinic.conn, operator, "Flu", NOW)
    assert contents(clinic.conn) == before


def test_close_and_reopen(clinic: StoredClinic, policy: Policy, flu: list[int]) -> None:
    boss = clinic.session("head-nurse", supervisor=True)
    alice = clinic.session("alice")
    names = [w.work_list.name for w in work_lists(clinic.conn, policy, alice, NOW)]
    assert "Flu" in names
    closed = close_list(clinic.conn, boss, "Flu", NOW + 5)
    assert closed.closed_at == NOW + 5 and not closed.is_open and closed.pending == 2
    assert "Flu" not in [w.work_list.name for w in work_lists(clinic.conn, policy, alice, NOW)]
    close_list(clinic.conn, boss, "Flu", NOW + 9)  # again: nothing changes
    assert find_list(clinic.conn, "Flu").closed_at == NOW + 5
    opened = reopen_list(clinic.conn, boss, "Flu", NOW + 10)
    assert opened.is_open
    assert "Flu" in [w.work_list.name for w in work_lists(clinic.conn, policy, alice, NOW)]
    list_id = opened.id
    assert audit_events(clinic.conn) == [
        ("list-close", "head-nurse", {"list": "Flu", "list_id": list_id, "pending": 2}),
        ("list-reopen", "head-nurse", {"list": "Flu", "list_id": list_id, "closed_at": NOW + 5}),
    ]
    with pytest.raises(NoSuchList):
        close_list(clinic.conn, boss, "Nope", NOW)


def test_a_call_under_way_on_a_closed_list_stays_on_its_callers_list(
    clinic: StoredClinic, policy: Policy
) -> None:
    """Closing a list lets the call under way finish: its row stays on the caller's work
    list (or the screen would lose the call: no row to finish it on); nobody else sees it."""
    list_id, items = clinic.add_call_list("Recall", [clinic.add_client(f"C{n}") for n in range(2)])
    work_list = WorkList(ITEM, list_id=list_id, name="Recall")
    alice, bob = clinic.session("alice"), clinic.session("bob")
    claim = claim_row(clinic.conn, policy, alice, RowKey(ITEM, items[0]), NOW)
    assert isinstance(claim, Claim)
    close_list(clinic.conn, clinic.session("head-nurse", supervisor=True), "Recall", NOW + 5)

    def rows(session: Session) -> list[int]:
        return [entry[0] for entry in row_order(clinic.conn, policy, session, work_list, NOW)]

    assert rows(alice) == [items[0]]
    assert rows(bob) == []
    finish_call(clinic.conn, policy, alice, claim, "no-answer", "", NOW + 60)
    assert rows(alice) == []
    assert clinic.scalar("SELECT count(*) FROM attempts WHERE source_id = ?", (items[0],)) == 1


def test_a_call_left_open_on_a_closed_list_is_found_by_its_operator(
    clinic: StoredClinic, policy: Policy
) -> None:
    """Alice's app died during a call (her session never ended), then the list was closed.
    Back in a new session she finds the list and the row, locked by her from an earlier
    session (C9): she cannot call it again (the list is closed), and aborts it; nobody
    else sees the list."""
    list_id, items = clinic.add_call_list("Recall", [clinic.add_client(f"C{n}") for n in range(2)])
    work_list = WorkList(ITEM, list_id=list_id, name="Recall")
    key = RowKey(ITEM, items[0])
    crashed = clinic.session("alice")
    assert isinstance(claim_row(clinic.conn, policy, crashed, key, NOW), Claim)
    close_list(clinic.conn, clinic.session("head-nurse", supervisor=True), "Recall", NOW + 5)
    back = NOW + policy.alive_for + 1  # the crashed session is gone; the lock is not stale yet
    alice, bob = clinic.session("alice", back), clinic.session("bob", back)

    def listed(session: Session) -> list[str]:
        return [
            w.work_list.name + " (closed)" * w.work_list.closed
            for w in work_lists(clinic.conn, policy, session, back)
        ]

    def rows(session: Session) -> list[int]:
        return [entry[0] for entry in row_order(clinic.conn, policy, session, work_list, back)]

    assert "Recall (closed)" in listed(alice) and rows(alice) == [items[0]]
    assert "Recall (closed)" not in listed(bob) and rows(bob) == []
    state = inspect_row(clinic.conn, policy, alice, key, back)
    assert state.lock is not None and state.lock.mine_earlier
    assert state.refusal == Refusal("closed")
    assert claim_row(clinic.conn, policy, alice, key, back) == Refusal("closed")
    # The supervisor sees it too, on its list.
    boss = clinic.session("head-nurse", back, supervisor=True)
    assert [(h.key, h.list_name, h.alive) for h in held_locks(clinic.conn, policy, boss, back)] == [
        (key, "Recall", False)
    ]
    assert remove_stale_locks(clinic.conn, policy, boss, back) == 0  # not stale yet
    assert abort_call(clinic.conn, policy, alice, key, back) is True
    assert clinic.scalar("SELECT count(*) FROM locks") == 0
    assert clinic.scalar("SELECT count(*) FROM attempts") == 0
    assert "Recall (closed)" not in listed(alice) and rows(alice) == []


def test_a_list_with_calls_is_not_deleted(clinic: StoredClinic, flu: list[int]) -> None:
    boss = clinic.session("head-nurse", supervisor=True)
    before = contents(clinic.conn)
    with pytest.raises(ListInUse, match="2 recorded calls; close it instead"):
        delete_list(clinic.conn, boss, "Flu", NOW)
    assert contents(clinic.conn) == before


def test_a_list_being_called_is_not_deleted(clinic: StoredClinic, policy: Policy) -> None:
    _, items = clinic.add_call_list("Recall", [clinic.add_client("Anna")])
    alice = clinic.session("alice")
    assert isinstance(claim_row(clinic.conn, policy, alice, RowKey(ITEM, items[0]), NOW), Claim)
    boss = clinic.session("head-nurse", supervisor=True)
    with pytest.raises(ListInUse, match="locked by alice"):
        delete_list(clinic.conn, boss, "Recall", NOW)
    assert find_list(clinic.conn, "Recall").items == 1


def test_delete_a_list_made_by_mistake(clinic: StoredClinic, policy: Policy) -> None:
    keep_id, keep_items = clinic.add_call_list("Keep", [clinic.add_client("Anna")])
    list_id, _ = clinic.add_call_list("Oops", [clinic.add_client(f"C{n}") for n in range(3)])
    # A claim that was aborted leaves call state behind: it goes with the list.
    with write(clinic.conn):
        clinic.conn.execute(
            "INSERT INTO call_rows (kind, source_id, client_id) SELECT 'item',"
            " id, client_id FROM call_list_items"
        )
    boss = clinic.session("head-nurse", supervisor=True)
    assert delete_list(clinic.conn, boss, "Oops", NOW) == 3
    assert [s.name for s in list_summaries(clinic.conn)] == ["Keep"]
    assert clinic.scalar("SELECT count(*) FROM call_list_items") == 1
    assert clinic.conn.execute("SELECT source_id FROM call_rows").fetchall() == [(keep_items[0],)]
    assert audit_events(clinic.conn) == [
        (
            "list-delete",
            "head-nurse",
            {
                "list": "Oops",
                "list_id": list_id,
                "items": 3,
                "created_at": NOW,
                "created_by": "root",
            },
        )
    ]
    assert keep_id != list_id
