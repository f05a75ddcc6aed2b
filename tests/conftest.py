"""Fixtures every test may use: a fresh database file, the two clinics, nothing of this machine.

The tests are in folders by layer: storage/, cli/, tui/, telephony/ and e2e/
(real terminals, SSH, Unix users, several processes), each with the fixtures of
its own in its conftest.py; the checks of the whole repository (code quality,
translations, references) are here. Helpers shared by several folders are
modules here: stored_clinic, clinic_fixtures, waiting, pty_app, unix_users...

Tests always use a real file in tmp_path (WAL and several processes only exist
on files). ``clinic`` is an empty clinic the test fills row by row
(tests/stored_clinic.py); ``desk`` is the fixed clinic the app tests work
through (tests/clinic_fixtures.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import policy_files
from storage.connection import Connection
from storage.database import open_database
from storage.policy import Policy, default_policy
from tests.clinic_fixtures import DeskClinic, build_desk
from tests.stored_clinic import StoredClinic

# The real PostgreSQL server of the tests and its fixtures (postgres_server,
# postgres_url, restart_server).
pytest_plugins = ("tests.postgres_server",)


@pytest.fixture(autouse=True)
def nothing_of_this_machine(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commands run in a test see no /etc/ringround or ~/.config policy of this machine,
    and no RINGROUND_* variable of the shell that started the tests."""
    elsewhere = tmp_path_factory.mktemp("no-policy-here")
    monkeypatch.setattr(policy_files, "SYSTEM_POLICY", elsewhere / "etc-policy.toml")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(elsewhere / "config"))
    for name in ("RINGROUND_DB", "RINGROUND_POLICY", "RINGROUND_DEBUG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A fresh, empty ringround database file (no connection left open on it)."""
    path = tmp_path / "clinic.db"
    open_database(path, create=True).close()
    return path


@pytest.fixture
def conn(db_path: Path) -> Iterator[Connection]:
    connection = open_database(db_path)
    yield connection
    connection.close()


@pytest.fixture
def clinic(conn: Connection, db_path: Path) -> StoredClinic:
    """An empty clinic on a fresh file, filled by the test (tests/stored_clinic.py)."""
    return StoredClinic(conn, db_path)


@pytest.fixture
def desk(tmp_path: Path) -> DeskClinic:
    """The fixed clinic of the app tests, on a file of its own (tests/clinic_fixtures.py)."""
    return build_desk(tmp_path)


@pytest.fixture
def policy() -> Policy:
    return default_policy()


@pytest.fixture
def group_umask() -> Iterator[None]:
    """umask 002, as deploy.md gives operators and administrators."""
    before = os.umask(0o002)
    yield
    os.umask(before)
