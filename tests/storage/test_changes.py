"""The change feed (storage/changes.py): what each write records, and how readers follow it.

Screens re-read only what changed, so every write that changes something a
work list or the list picker shows must be recorded, in its own transaction,
and writes that change nothing shown (heartbeats, the audit trail) must not.
"""

from __future__ import annotations

import random
import sqlite3

import pytest

from storage import changes as feed
from storage.call_lists import close_list
from storage.changes import CLIENT, LIST, Change, bulk_load, changes_since, latest
from storage.clients import update_client
from storage.connection import Connection
from storage.engine import write
from storage.list_order import ListOrder
from storage.locks import Claim, abort_call, claim_row, finish_call
from storage.policy import Policy
from storage.rows import APPOINTMENT, ITEM, RowKey
from storage.sessions import end_session, heartbeat
from storage.worklists import WorkList, row_order
from tests.stored_clinic import NOW, StoredClinic


def recorded(conn: Connection, since: int) -> set[Change]:
    found = changes_since(conn, since)
    assert found.complete
    return set(found.changes)


def test_heartbeats_and_session_starts_record_nothing(clinic: StoredClinic) -> None:
    alice = clinic.session("alice")
    since = latest(clinic.conn)
    for n in range(3):
        heartbeat(clinic.conn, alice, NOW + 20 * n)
    clinic.session("bob")
    assert changes_since(clinic.conn, since).nothing


def test_claim_finish_and_abort_record_their_row_with_its_list(
    clinic: StoredClinic, policy: Policy
) -> None:
    list_id, (first, second) = clinic.add_clients_on_list(2)
    alice = clinic.session("alice")
    since = latest(clinic.conn)
    claim = claim_row(clinic.conn, policy, alice, RowKey(ITEM, first), NOW)
    assert isinstance(claim, Claim)
    assert recorded(clinic.conn, since) == {Change(ITEM, first, list_id)}
    since = latest(clinic.conn)
    finish_call(clinic.conn, policy, alice, claim, "confirmed", "", NOW + 60)
    assert recorded(clinic.conn, since) == {Change(ITEM, first, list_id)}
    since = latest(clinic.conn)
    assert isinstance(claim_row(clinic.conn, policy, alice, RowKey(ITEM, second), NOW), Claim)
    abort_call(clinic.conn, policy, alice, RowKey(ITEM, second), NOW + 5)
    assert recorded(clinic.conn, since) == {Change(ITEM, second, list_id)}


def test_a_session_that_ends_records_the_rows_it_holds(
    clinic: StoredClinic, policy: Policy
) -> None:
    client = clinic.add_client("Ivanova")
    appointment = clinic.add_appointment(client, NOW + 86400)
    alice = clinic.session("alice")
    assert isinstance(
        claim_row(clinic.conn, policy, alice, RowKey(APPOINTMENT, appointment), NOW), Claim
    )
    since = latest(clinic.conn)
    end_session(clinic.conn, alice, NOW + 30)
    assert recorded(clinic.conn, since) == {Change(APPOINTMENT, appointment, None)}


def test_card_edits_and_list_changes_name_the_client_and_the_list(
    clinic: StoredClinic, policy: Policy
) -> None:
    client = clinic.add_client("Petrov")
    list_id, _items = clinic.add_call_list("Flu", [client])
    root = clinic.session("root", supervisor=True)
    since = latest(clinic.conn)
    update_client(clinic.conn, policy, root, client, {"do_not_call": True}, NOW)
    assert recorded(clinic.conn, since) == {Change(CLIENT, client, None)}
    since = latest(clinic.conn)
    close_list(clinic.conn, root, "Flu", NOW)
    assert Change(LIST, list_id, None) in recorded(clinic.conn, since)


def test_a_reader_too_far_behind_is_told_to_read_everything(clinic: StoredClinic) -> None:
    client = clinic.add_client("Sidorov")
    start = latest(clinic.conn)
    with write(clinic.conn):
        for n in range(feed.FOLLOW_AT_MOST + 1):
            clinic.conn.execute("UPDATE clients SET name = ? WHERE id = ?", (f"S{n}", client))
    assert not changes_since(clinic.conn, start).complete  # too many at once
    middle = latest(clinic.conn) - 1
    assert changes_since(clinic.conn, middle).complete
    with write(clinic.conn):
        for n in range(feed.KEEP):
            clinic.conn.execute("UPDATE clients SET name = ? WHERE id = ?", (f"T{n}", client))
        feed.prune(clinic.conn)
    assert clinic.scalar("SELECT count(*) FROM changes") == feed.KEEP
    assert not changes_since(clinic.conn, middle).complete  # its changes were pruned
    assert changes_since(clinic.conn, latest(clinic.conn)).nothing


def trigger_count(conn: Connection) -> int:
    """How many triggers the database has, as its engine's catalogue lists them."""
    if isinstance(conn, sqlite3.Connection):
        sql = "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"
    else:
        sql = "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal"
    return int(conn.execute(sql).fetchone()[0])


def test_a_bulk_load_leaves_the_triggers_and_sends_readers_to_read_everything(
    clinic: StoredClinic,
) -> None:
    client = clinic.add_client("Before")
    since = latest(clinic.conn)
    triggers = trigger_count(clinic.conn)
    with write(clinic.conn), bulk_load(clinic.conn):
        clinic.conn.executemany(
            "INSERT INTO clients (name) VALUES (?)", [(f"C{n}",) for n in range(100)]
        )
        clinic.conn.execute("UPDATE clients SET name = 'x' WHERE id = ?", (client,))
    assert trigger_count(clinic.conn) == triggers
    assert clinic.scalar("SELECT count(*) FROM changes") == 1
    assert not changes_since(clinic.conn, since).complete
    since = latest(clinic.conn)
    with write(clinic.conn):
        clinic.conn.execute("UPDATE clients SET name = 'y' WHERE id = ?", (client,))
    assert recorded(clinic.conn, since) == {Change(CLIENT, client, None)}


@pytest.mark.sqlite_only
def test_a_bare_sqlite_writer_is_recorded_too(clinic: StoredClinic) -> None:
    """The triggers live in the file: a write by another program is followed as well."""
    client = clinic.add_client("Outside")
    since = latest(clinic.conn)
    other = sqlite3.connect(clinic.location, isolation_level=None)
    try:
        other.execute("UPDATE clients SET do_not_call = 1 WHERE id = ?", (client,))
    finally:
        other.close()
    assert recorded(clinic.conn, since) == {Change(CLIENT, client, None)}


@pytest.mark.parametrize("seed", range(5))
def test_following_changes_row_by_row_gives_the_order_a_full_reading_gives(
    clinic: StoredClinic, policy: Policy, seed: int
) -> None:
    """ListOrder.update with the changed rows read again equals reading the whole list."""
    rng = random.Random(seed)
    list_id, items = clinic.add_clients_on_list(60)
    work_list = WorkList(ITEM, list_id=list_id)
    sessions = [clinic.session(name) for name in ("alice", "bob")]
    now = NOW
    order = ListOrder(row_order(clinic.conn, policy, sessions[0], work_list, now))
    for _round in range(40):
        now += rng.randint(1, 900)
        source_id = rng.choice(items)
        since = latest(clinic.conn)
        who = rng.choice(sessions)
        claim = claim_row(clinic.conn, policy, who, RowKey(ITEM, source_id), now)
        if isinstance(claim, Claim):
            outcome = rng.choice(["no-answer", "confirmed", "busy"])
            if rng.random() < 0.8:
                finish_call(clinic.conn, policy, who, claim, outcome, "", now + 30)
        changed = {c.ref for c in changes_since(clinic.conn, since).changes if c.kind == ITEM}
        due = set(order.view.due_by(now))  # waiting rows whose time has come move up too
        again = frozenset(changed | due)
        order.update(again, row_order(clinic.conn, policy, sessions[0], work_list, now, only=again))
        full = row_order(clinic.conn, policy, sessions[0], work_list, now)
        assert list(order.view) == [entry[0] for entry in full]


def test_a_new_database_records_from_its_first_write(conn: Connection) -> None:
    assert latest(conn) == 0 and changes_since(conn, 0).nothing
