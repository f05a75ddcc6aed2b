"""A primary and its streaming standby, made as docs/deploy-postgresql.md step 4 makes them.

Two real clusters on 127.0.0.1: a primary of its own (not the session's
server, so its standby count is this test's alone), and a standby copied from
it with ``pg_basebackup --write-recovery-conf`` and started, which streams the
primary's changes. ``ringround check`` must tell them apart, and the
application servers' address — both servers, ``target_session_attrs=read-write``
— must reach the primary whichever server is named first, and, once the
primary is lost and the standby promoted (step 4's failover), the promoted
one, which has every save streamed to it before.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.postgres_cluster import PostgresServer, start_cluster, why_not_here
from storage.health import OK, PROBLEM, Finding, exit_status
from storage.policy import Policy
from tests.postgres_server import TEST_SETTINGS
from tests.waiting import wait_until


@pytest.fixture
def primary() -> Iterator[PostgresServer]:
    reason = why_not_here()
    if reason is not None:
        pytest.skip(reason)
    server = start_cluster(TEST_SETTINGS)
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
def standby(primary: PostgresServer) -> Iterator[PostgresServer]:
    folder = Path(tempfile.mkdtemp(prefix="ringround-standby-"))
    if primary.run_as is not None:  # the server's user must own its folder
        shutil.chown(folder, primary.run_as, primary.run_as)
    server = PostgresServer(primary.binaries, folder, primary.run_as, primary.settings)
    try:
        server.checked(
            "pg_basebackup",
            "--host", "127.0.0.1", "--port", str(primary.port), "--username", "postgres",
            "--pgdata", str(server.data), "--write-recovery-conf", "--wal-method", "stream",
        )  # fmt: skip
        server.start()
        wait_until(
            lambda: _standbys(primary) == 1,
            "the standby to stream the primary's changes",
            details=lambda: server.log.read_text(errors="replace")[-2000:],
        )
        yield server
    finally:
        server.remove()


def _standbys(primary: PostgresServer) -> int:
    import psycopg

    with psycopg.connect(primary.url("postgres"), autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_replication").fetchone()
    return int(row[0]) if row is not None else 0


def _texts(findings: list[Finding], level: str) -> list[str]:
    return [f.text for f in findings if f.level == level]


def test_check_tells_the_primary_from_its_standby(
    primary: PostgresServer, standby: PostgresServer, policy: Policy
) -> None:
    from storage import server_health

    on_primary = server_health.check(primary.url("postgres"), policy)
    assert f"127.0.0.1:{primary.port} is the primary; 1 standby receives its changes." in (
        _texts(on_primary, OK)
    )
    on_standby = server_health.check(standby.url("postgres"), policy)
    problem = _texts(on_standby, PROBLEM)[0]  # then: the database is empty (postgres's own)
    assert problem.startswith(f"127.0.0.1:{standby.port} is a standby, which only reads")
    assert exit_status(on_standby) != 0
    assert not any("Saves to" in text for text in _texts(on_standby, OK))


def test_the_address_with_both_servers_reaches_the_primary(
    primary: PostgresServer, standby: PostgresServer, policy: Policy
) -> None:
    from storage import server_health

    both = (
        f"postgresql://postgres@127.0.0.1:{standby.port},127.0.0.1:{primary.port}/postgres"
        "?target_session_attrs=read-write"
    )
    findings = server_health.check(both, policy)
    assert f"The database server 127.0.0.1:{primary.port} answers" in " ".join(_texts(findings, OK))
    assert not any("standby, which only reads" in text for text in _texts(findings, PROBLEM))
    only_standby = (
        f"postgresql://postgres@127.0.0.1:{standby.port}/postgres?target_session_attrs=read-write"
    )
    [finding] = [f for f in server_health.check(only_standby, policy) if f.level == PROBLEM]
    assert finding.text.startswith(f"No server of 127.0.0.1:{standby.port} accepts changes")


def test_between_losing_the_primary_and_promoting_the_standby_check_says_to_promote(
    primary: PostgresServer, standby: PostgresServer, policy: Policy
) -> None:
    """The primary lost, the standby not yet promoted (docs/deploy-postgresql.md, step 4):
    check said "Nothing answers at ... (connection refused); start PostgreSQL there", of
    a pair one of which answered, as a standby; what to do is to promote it."""
    from storage import server_health

    primary.stop()  # as if its machine died
    both = (
        f"postgresql://postgres@127.0.0.1:{primary.port},127.0.0.1:{standby.port}/postgres"
        "?target_session_attrs=read-write&connect_timeout=5"
    )
    [finding] = [f for f in server_health.check(both, policy) if f.level == PROBLEM]
    assert finding.text == (
        f"No server of 127.0.0.1:{primary.port}, 127.0.0.1:{standby.port} accepts changes "
        "(those that answer are standbys, which only read); promote one to primary "
        "(docs/deploy-postgresql.md)."
    )


def _notes(server: PostgresServer) -> list[str]:
    """The notes saved so far, as ``server`` has them (none while the table has not arrived)."""
    import psycopg

    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        try:
            return [str(row[0]) for row in conn.execute("SELECT note FROM saved ORDER BY note")]
        except psycopg.errors.UndefinedTable:
            return []


def test_when_the_primary_is_lost_the_promoted_standby_takes_the_saves(
    primary: PostgresServer, standby: PostgresServer, policy: Policy
) -> None:
    """Step 4's failover: the standby promoted, the same address reaches it for saves."""
    import psycopg

    from storage import server_health

    with psycopg.connect(primary.url("postgres"), autocommit=True) as conn:
        conn.execute("CREATE TABLE saved (note text)")
        conn.execute("INSERT INTO saved VALUES ('before the crash')")
    wait_until(lambda: _notes(standby) == ["before the crash"], "the save to reach the standby")
    primary.stop()  # as if its machine died
    standby.checked("pg_ctl", "promote", "-w", "-D", str(standby.data))

    both = (
        f"postgresql://postgres@127.0.0.1:{primary.port},127.0.0.1:{standby.port}/postgres"
        "?target_session_attrs=read-write&connect_timeout=5"
    )
    texts = _texts(server_health.check(both, policy), OK)
    assert f"The database server 127.0.0.1:{standby.port} answers: PostgreSQL" in " ".join(texts)
    assert any(
        text.startswith(f"127.0.0.1:{standby.port} is the primary; no standby") for text in texts
    )
    with psycopg.connect(both, autocommit=True) as conn:
        conn.execute("INSERT INTO saved VALUES ('after the promotion')")
    assert _notes(standby) == ["after the promotion", "before the crash"]
