"""The change watch's wait: woken by a commit's notification on PostgreSQL, by closing on both.

The app's change thread (tui/app.py) waits on the watch between looks, so
another operator's commit reaches its screens as soon as it is announced, and
a clinic where nobody commits costs the database server no query at all.
"""

from __future__ import annotations

import threading

import pytest

from benchmarks.postgres_cluster import PostgresServer
from storage.engine import ChangeWatch, open_engine, write
from tests.waiting import PATIENCE

FOREVER = 3600.0  # a wait that only an event ends within the test


def waiting(watch: ChangeWatch) -> threading.Thread:
    thread = threading.Thread(target=watch.wait, args=(FOREVER,), daemon=True)
    thread.start()
    return thread


def add_call_list(location: str) -> None:
    conn = open_engine(location).connect()
    try:
        with write(conn):
            conn.execute(
                "INSERT INTO call_lists (name, created_at, created_by) VALUES ('Recall', 0, 'root')"
            )
    finally:
        conn.close()


def test_closing_the_watch_ends_its_wait(engine_location: str) -> None:
    watch = open_engine(engine_location).watch()
    thread = waiting(watch)
    watch.close()
    thread.join(PATIENCE)
    assert not thread.is_alive()


@pytest.fixture
def server_location(postgres_url: str) -> str:
    open_engine(postgres_url).connect(create=True).close()
    return postgres_url


def test_a_commit_ends_the_wait_and_is_then_read(server_location: str) -> None:
    watch = open_engine(server_location).watch()
    try:
        assert watch.changes() is None
        thread = waiting(watch)
        add_call_list(server_location)  # its change-feed trigger notifies at commit
        thread.join(PATIENCE)
        assert not thread.is_alive()
        found = watch.changes()
        assert found is not None and found.complete and len(found.changes) == 1
    finally:
        watch.close()


def statements_seen(server: PostgresServer, location: str) -> set[tuple[object, ...]]:
    """Each ringround connection to the database with its last statement and when it ran."""
    import psycopg

    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid, query, query_start FROM pg_stat_activity"
            " WHERE datname = %s AND application_name = 'ringround'",
            (location.rsplit("/", 1)[1],),
        ).fetchall()
    return set(rows)


def test_looks_when_nobody_committed_send_no_query(
    server_location: str, postgres_server: PostgresServer
) -> None:
    watch = open_engine(server_location).watch()
    try:
        before = statements_seen(postgres_server, server_location)
        assert before  # the watch's own connection is there
        for _look in range(3):
            watch.wait(0.01)
            assert watch.changes() is None
        assert statements_seen(postgres_server, server_location) == before
    finally:
        watch.close()
