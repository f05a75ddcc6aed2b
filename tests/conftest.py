"""Fixtures every test may use: a fresh database on each engine, the two clinics, nothing of
this machine.

The tests are in folders by layer: storage/, cli/, tui/, telephony/ and e2e/
(real terminals, SSH, Unix users, several processes); cli/ and tui/ have
fixtures of their own in their conftest.py, while the database fixtures below
serve storage/, cli/, tui/ and e2e/ alike (pytest shows a folder's conftest to
that folder only); the checks of the whole repository (code quality,
translations, references) are here. Helpers shared by several folders are
modules here: stored_clinic, clinic_fixtures, waiting, pty_app, unix_users...

Tests always use a real database: a file in tmp_path (WAL and several
processes only exist on files) or a database of its own on the tests' real
PostgreSQL server (tests/postgres_server.py). ``clinic`` is an empty clinic the
test fills row by row (tests/stored_clinic.py); ``desk`` is the fixed clinic
the app tests work through (tests/clinic_fixtures.py), on a file; ``engine_desk``
is that clinic on each engine in turn, for the app's flows (two operators,
crash recovery, stale locks) that must hold on PostgreSQL too.

Both engines, one test: a test that takes ``engine_location`` (directly or
through ``conn`` or ``clinic``) runs twice, as ``[sqlite]`` on a fresh file
and as ``[postgresql]`` on a fresh database, and reaches it only through
storage.engine.open_engine(location). A test about the SQLite file itself
(backup, file modes, damage, WAL, read-only files...) runs on SQLite only: it
is marked ``@pytest.mark.sqlite_only``, or it takes ``db_path`` (a file is
SQLite's by nature). ``more_databases`` makes more fresh databases on the
test's engine, for a property test whose every example starts from nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from storage import policy_files
from storage.connection import Connection
from storage.engine import open_engine
from storage.policy import Policy, default_policy
from tests.clinic_fixtures import DeskClinic, build_desk
from tests.command_env import DEFAULT_POLICY
from tests.stored_clinic import StoredClinic

# The real PostgreSQL server of the tests and its fixtures (postgres_server,
# postgres_url, restart_server).
pytest_plugins = ("tests.postgres_server",)

ENGINES = ("sqlite", "postgresql")
SQLITE_ONLY = "sqlite_only"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{SQLITE_ONLY}: the test is about the SQLite file itself; it runs on SQLite only",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Each test on a database runs on both engines, unless it is about SQLite's file."""
    if "engine_location" not in metafunc.fixturenames:
        return
    sqlite_only = (
        metafunc.definition.get_closest_marker(SQLITE_ONLY) is not None
        or "db_path" in metafunc.fixturenames
    )
    engines = ENGINES[:1] if sqlite_only else ENGINES
    metafunc.parametrize("engine_location", engines, indirect=True, ids=list(engines))


@pytest.fixture(autouse=True)
def nothing_of_this_machine(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commands run in a test see no /etc/ringround or ~/.config policy of this machine,
    and no RINGROUND_* variable of the shell that started the tests; those it runs as
    processes of their own are told the built-in defaults by RINGROUND_POLICY."""
    elsewhere = tmp_path_factory.mktemp("no-policy-here")
    monkeypatch.setattr(policy_files, "SYSTEM_POLICY", elsewhere / "etc-policy.toml")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(elsewhere / "config"))
    for name in ("RINGROUND_DB", "RINGROUND_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    # What this process's children inherit: the built-in defaults, never /etc's (a process
    # of its own does not see SYSTEM_POLICY moved; tests/command_env.py).
    monkeypatch.setenv(policy_files.ENVIRONMENT_VARIABLE, str(DEFAULT_POLICY))


@pytest.fixture
def no_policy_anywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not even RINGROUND_POLICY: ringround in the test's own process finds no policy file
    and takes the built-in defaults (for a test of that; the server's is moved away above)."""
    monkeypatch.delenv(policy_files.ENVIRONMENT_VARIABLE)


@pytest.fixture
def engine_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty ringround database, as ``--db`` names it: a file or a postgresql:// URL.

    Parametrized by pytest_generate_tests above: ``[sqlite]`` and ``[postgresql]``.
    """
    if request.param == "sqlite":
        location = str(tmp_path / "clinic.db")
    else:
        location = request.getfixturevalue("postgres_clinic_url")
    open_engine(location).connect(create=True).close()
    return location


@pytest.fixture
def more_databases(
    request: pytest.FixtureRequest, engine_location: str, tmp_path: Path
) -> Iterator[Callable[[], str]]:
    """Makes more fresh, empty databases on the test's engine, one per call: for a property
    test whose every example starts from nothing. They are removed after the test."""
    made: list[str] = []

    def sqlite_file() -> str:
        location = str(tmp_path / f"more-{len(made)}.db")
        open_engine(location).connect(create=True).close()
        made.append(location)
        return location

    def postgresql_database() -> str:
        server = request.getfixturevalue("postgres_server")
        name = server.new_database(template=request.getfixturevalue("clinic_template"))
        made.append(name)
        return str(server.url(name))

    if "://" in engine_location:
        yield postgresql_database
        server = request.getfixturevalue("postgres_server")
        for name in made:
            server.drop_database(name)
    else:
        yield sqlite_file


@pytest.fixture
def db_path(engine_location: str) -> Path:
    """A fresh, empty ringround database file (no connection left open on it).

    A test that takes it is about the SQLite file and runs on SQLite only.
    """
    return Path(engine_location)


@pytest.fixture
def conn(engine_location: str) -> Iterator[Connection]:
    """A connection to the test's fresh database, on each engine in turn."""
    connection = open_engine(engine_location).connect()
    yield connection
    connection.close()


@pytest.fixture
def clinic(conn: Connection, engine_location: str) -> StoredClinic:
    """An empty clinic on a fresh database, filled by the test (tests/stored_clinic.py)."""
    return StoredClinic(conn, engine_location)


@pytest.fixture
def desk(tmp_path: Path) -> DeskClinic:
    """The fixed clinic of the app tests, on a file of its own (tests/clinic_fixtures.py)."""
    return build_desk(tmp_path)


@pytest.fixture
def engine_desk(engine_location: str, tmp_path: Path) -> DeskClinic:
    """The same clinic on each engine in turn: for the app's flows that must hold on both."""
    return build_desk(tmp_path, engine_location)


@pytest.fixture
def policy() -> Policy:
    return default_policy()


@pytest.fixture
def group_umask() -> Iterator[None]:
    """umask 002, as deploy.md gives operators and administrators."""
    before = os.umask(0o002)
    yield
    os.umask(before)
