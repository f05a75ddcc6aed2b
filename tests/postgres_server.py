"""A real PostgreSQL server for the tests: one cluster per test session, one database per test.

The cluster is benchmarks/postgres_cluster.py's (the benchmarks start theirs
the same way): the server programs of Debian's ``postgresql`` package, run as
the ``postgres`` user when the tests run as root, on a free port of
127.0.0.1 with its socket in its own temporary folder. It is stopped with
``pg_ctl -m immediate stop`` when the session ends (or is interrupted) and
its folder removed.

Fixtures (registered for every test by tests/conftest.py):

- ``postgres_server``: the session's :class:`PostgresServer`;
- ``postgres_url``: a fresh, empty database of its own for one test, as a
  ``postgresql://postgres@127.0.0.1:PORT/NAME`` URL, dropped afterwards;
- ``postgres_clinic_url``: the same with ringround's schema already made (a
  copy of a database migrated once per session: CREATE DATABASE ... TEMPLATE,
  much quicker than migrating for every test);
- ``restart_server``: restarts the server (``pg_ctl restart -m fast``), which
  ends every connection as a real restart does.

Without the binaries or without psycopg these fixtures skip the test with
the reason; .ci/run installs ``postgresql`` and the test extra has psycopg,
so under CI they always run. The server is tuned for tests only
(:data:`TEST_SETTINGS`): no fsync (a test never survives a power cut), which
makes CREATE DATABASE cheap.
"""

from __future__ import annotations

import atexit
import signal
from collections.abc import Callable, Iterator
from types import FrameType
from typing import NoReturn

import pytest

from benchmarks.postgres_cluster import PostgresServer, start_cluster, why_not_here

TEST_SETTINGS = {"fsync": "off", "full_page_writes": "off", "max_connections": "200"}
# The database the per-test clinic databases are copied from.
CLINIC_TEMPLATE = "ringround_template"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The test session's PostgreSQL cluster, started on first use."""
    reason = why_not_here()
    if reason is not None:
        pytest.skip(reason)
    server = start_cluster(TEST_SETTINGS)
    # An interrupted session (Ctrl-C, an error in the session's end) still stops it and
    # removes its folder; so does one ended by SIGTERM (timeout, a CI runner giving up),
    # which would otherwise end Python without running either.
    atexit.register(server.remove)
    terminated = signal.getsignal(signal.SIGTERM)
    if terminated == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, ended_by_sigterm)
    try:
        yield server
    finally:
        signal.signal(signal.SIGTERM, terminated)
        atexit.unregister(server.remove)
        server.remove()


def ended_by_sigterm(signum: int, frame: FrameType | None) -> NoReturn:
    """SIGTERM ends the test session as Ctrl-C does: fixtures are torn down on the way out."""
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database for one test, as a postgresql:// URL."""
    name = postgres_server.new_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def clinic_template(postgres_server: PostgresServer) -> str:
    """A database with ringround's schema and no rows, made once per session to copy."""
    from storage.engine import open_engine

    postgres_server.admin(f"CREATE DATABASE {CLINIC_TEMPLATE}")
    open_engine(postgres_server.url(CLINIC_TEMPLATE)).connect(create=True).close()
    return CLINIC_TEMPLATE


@pytest.fixture
def postgres_clinic_url(postgres_server: PostgresServer, clinic_template: str) -> Iterator[str]:
    """A fresh ringround database for one test (its schema made, no rows), as a URL."""
    name = postgres_server.new_database(template=clinic_template)
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


@pytest.fixture
def restart_server(postgres_server: PostgresServer) -> Callable[[], None]:
    """Restart the test server (pg_ctl restart -m fast): every connection to it ends."""
    return postgres_server.restart
