"""The tests' own PostgreSQL server (tests/postgres_server.py) does what the other tests rely on."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from benchmarks.postgres_cluster import PostgresServer

if TYPE_CHECKING:
    import psycopg


def connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    import psycopg

    return psycopg.connect(url, autocommit=True)


def test_the_server_answers_on_loopback_as_a_user_other_than_root(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    assert postgres_url.startswith(f"postgresql://postgres@127.0.0.1:{postgres_server.port}/")
    with connect(postgres_url) as conn:
        row = conn.execute(
            "SELECT current_setting('server_version_num')::int, inet_server_addr()::text,"
            " current_setting('data_directory')"
        ).fetchone()
    assert row is not None
    version, address, data = row
    assert isinstance(version, int) and version >= 130000
    assert address == "127.0.0.1/32"
    assert data == str(postgres_server.data)
    # PostgreSQL refuses root; as root the tests hand the cluster to the postgres user.
    owner = os.stat(postgres_server.data).st_uid
    assert owner != 0 or os.geteuid() != 0


def test_each_test_gets_an_empty_database_of_its_own(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    other = postgres_server.url(postgres_server.new_database())
    try:
        with connect(postgres_url) as conn:
            conn.execute("CREATE TABLE mine (id INTEGER)")
            conn.execute("INSERT INTO mine VALUES (1)")
        with connect(other) as conn:
            tables = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            ).fetchall()
        assert tables == []
        with connect(postgres_url) as conn:
            assert conn.execute("SELECT id FROM mine").fetchall() == [(1,)]
    finally:
        postgres_server.drop_database(other.rsplit("/", 1)[1])


def test_a_restart_ends_connections_and_keeps_the_data(
    postgres_url: str, restart_server: Callable[[], None]
) -> None:
    import psycopg

    with connect(postgres_url) as conn:
        conn.execute("CREATE TABLE kept (id INTEGER)")
        conn.execute("INSERT INTO kept VALUES (7)")
        before = conn.execute("SELECT pg_postmaster_start_time()").fetchone()
        restart_server()
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    with connect(postgres_url) as conn:
        assert conn.execute("SELECT id FROM kept").fetchall() == [(7,)]
        after = conn.execute("SELECT pg_postmaster_start_time()").fetchone()
    assert after != before
