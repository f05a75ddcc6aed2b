"""The storage seam (storage/engine.py): what is the engine's stays in the engine.

The SQLite engine does what an engine must (open, write, watch, tell the
time); the lock protocol and every other storage module reach the engine only
through the seam; the app and the commands take "now" from the engine's clock.
"""

from __future__ import annotations

import ast
import json
import re
import time
from pathlib import Path

import pytest

from cli.main import main
from storage.database import StorageError
from storage.engine import Engine, open_engine, write
from storage.locks import Claim, claim_row
from storage.policy import Policy
from storage.roles import login_name
from storage.rows import RowKey
from storage.sessions import start_session
from tests.stored_clinic import NOW, StoredClinic, clinic_time
from tui.app import RingroundApp

ROOT = Path(__file__).resolve().parents[2]
STORAGE = ROOT / "storage"
ENGINE_MODULES = {
    "engine.py",
    "sqlite_engine.py",
    "database.py",
    "postgres_engine.py",
    "postgres_connection.py",
}
# About the SQLite file itself, and so SQLite's on any engine (docs/design.md):
# the schema's version pragmas, the copy by SQLite's backup API, and 'check'.
SQLITE_FILE_MODULES = {"schema.py", "backup.py", "health.py", "schema_parts.py"}
# 'check' of a PostgreSQL server: its write probe takes the writers' lock and rolls back.
SERVER_CHECK_MODULES = {"server_health.py"}
ENGINE_SPECIFIC = re.compile(
    r"""execute\(\s*f?["'](?:BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|PRAGMA)"""
    r"""|sqlite3\.connect\(|time\.time\("""
)


def storage_modules() -> list[Path]:
    return sorted(path for path in STORAGE.rglob("*.py") if path.name != "__init__.py")


def test_the_sqlite_engine_opens_writes_watches_and_tells_the_time(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine: Engine = open_engine(db_path)
    assert engine.location == str(db_path)
    conn, other = engine.connect(), engine.connect(shared=True)
    watch = engine.watch()
    try:
        assert watch.changes() is None  # nobody committed yet
        with write(other):
            other.execute(
                "INSERT INTO call_lists (name, created_at, created_by)"
                " VALUES ('Recall', ?, 'olga')",
                (NOW,),
            )
        seen = watch.changes()
        assert seen is not None and seen.complete and seen.changes
        assert watch.changes() is None  # told once
        with pytest.raises(RuntimeError), write(conn):
            conn.execute("DELETE FROM call_lists")
            raise RuntimeError("the block fails")
        assert conn.execute("SELECT count(*) FROM call_lists").fetchone()[0] == 1
    finally:
        watch.close()
        conn.close()
        other.close()
    with monkeypatch.context() as patch:
        patch.setattr(time, "time", lambda: NOW + 0.75)
        assert engine.now() == NOW  # whole seconds, from the server's own clock


def test_the_storage_modules_leave_engine_specific_statements_to_the_engine() -> None:
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in storage_modules()
        if path.name not in ENGINE_MODULES | SQLITE_FILE_MODULES | SERVER_CHECK_MODULES
        for match in ENGINE_SPECIFIC.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []
    assert ENGINE_SPECIFIC.search((STORAGE / "database.py").read_text(encoding="utf-8"))


def test_the_storage_modules_write_through_the_seam() -> None:
    """Only the engine modules, and those about the SQLite file, open or write SQLite's way."""
    takers = []
    for path in storage_modules():
        if path.name in ENGINE_MODULES | SQLITE_FILE_MODULES:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module in (
                "storage.database",
                "storage.sqlite_engine",
            ):
                names = {alias.name for alias in node.names}
                if names & {"write", "open_database", "SqliteEngine", "ChangeWatcher"}:
                    takers.append(f"{path.relative_to(ROOT)}: {sorted(names)}")
    assert takers == []
    locks = (STORAGE / "locks.py").read_text(encoding="utf-8")
    assert "from storage.engine import write" in locks


def test_the_app_runs_on_the_engines_clock(
    clinic: StoredClinic, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(type(open_engine(clinic.location)), "now", lambda self: NOW + 42)
    app = RingroundApp(clinic.location, policy, clinic.session("alice"))
    try:
        assert app.now() == NOW + 42
    finally:
        app.close_database()
    tested = RingroundApp(clinic.location, policy, clinic.session("bob"), clock=lambda: NOW)
    try:
        assert tested.now() == NOW  # a test's clock still wins
    finally:
        tested.close_database()


def test_commands_take_now_from_the_engines_clock(
    tmp_path: Path,
    clinic: StoredClinic,
    policy: Policy,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client = clinic.add_client("Иванова Анна")
    key = RowKey("appointment", clinic.add_appointment(client, clinic_time(2025, 3, 13, 10)))
    alice = start_session(clinic.conn, "alice", NOW)
    assert isinstance(claim_row(clinic.conn, policy, alice, key, NOW), Claim)
    later = NOW + policy.alive_for + 1  # alice's app has not beaten since NOW
    monkeypatch.setattr(type(open_engine(clinic.location)), "now", lambda self: later)
    assert main(["locks", "--json", "--db", clinic.location]) == 0
    [entry] = json.loads(capsys.readouterr().out)
    assert entry["alive"] is False  # judged at the engine's "now", not the test's wall clock
    policy_path = tmp_path / "policy.toml"
    policy_path.write_text(f'[security]\nsupervisors = ["{login_name()}"]\n', encoding="utf-8")
    assert (
        main(
            ["locks", "--release", str(key), "--db", clinic.location, "--policy", str(policy_path)]
        )
        == 0
    )
    at, event = clinic.conn.execute(
        "SELECT at, event FROM audit ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert (at, event) == (later, "release-by-supervisor")


def test_a_watch_that_cannot_read_says_so_in_the_storage_errors_words(db_path: Path) -> None:
    watch = open_engine(db_path).watch()
    watch.close()
    with pytest.raises(StorageError, match=re.escape(str(db_path))):
        watch.changes()
