"""Fixtures every test may use: a fresh database file, the two clinics, no installed policy.

Storage tests always use a real file in tmp_path (WAL and several processes
only exist on files). ``clinic`` is an empty clinic the test fills row by row
(tests/stored_clinic.py); ``desk`` is the fixed clinic the app tests work
through (tests/clinic_fixtures.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import policy_files
from storage.database import open_database
from storage.policy import Policy, default_policy
from tests.clinic_fixtures import DeskClinic, build_desk
from tests.stored_clinic import StoredClinic
from tui.app import RingroundApp


@pytest.fixture(autouse=True)
def no_installed_policy(tmp_path_factory: pytest.TempPathFactory,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands run in a test see no /etc/ringround or ~/.config policy of this machine."""
    elsewhere = tmp_path_factory.mktemp("no-policy-here")
    monkeypatch.setattr(policy_files, "SYSTEM_POLICY", elsewhere / "etc-policy.toml")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(elsewhere / "config"))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A fresh, empty ringround database file (no connection left open on it)."""
    path = tmp_path / "clinic.db"
    open_database(path, create=True).close()
    return path


@pytest.fixture
def conn(db_path: Path) -> Iterator[sqlite3.Connection]:
    connection = open_database(db_path)
    yield connection
    connection.close()


@pytest.fixture
def clinic(conn: sqlite3.Connection, db_path: Path) -> StoredClinic:
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
def apps() -> Iterator[list[RingroundApp]]:
    """Apps made by a test; their database connections are closed afterwards."""
    made: list[RingroundApp] = []
    yield made
    for app in made:
        app.close_database()
