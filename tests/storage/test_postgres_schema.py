"""The schema on PostgreSQL (storage/postgres_schema.py), on a real server, against SQLite's.

Migrating: an empty database, again (nothing changes), by several processes at
once (each waits for the writers' lock and the first does the work), the
version recorded, a newer or foreign database refused and left as it was.
Sameness: the two engines' tables, columns, keys, indexes and triggers by
name, the same change-feed rows for the same statements, the same answers
from the functions the shared SQL borrows from SQLite. The ids: sequences
caught up after explicit ids, the highest audit id ever given.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlite_utils

from storage import postgres_schema, schema
from storage.audit import GENESIS, audit, entry_hash, verify_chain
from storage.changes import bulk_load, changes_since, latest
from storage.connection import Connection
from storage.database import NotADatabase, ReadOnlyDatabase, open_database
from storage.engine import write
from storage.id_sequences import catch_up_ids, highest_id_given, set_highest_id_given
from storage.postgres_connection import PostgresConnection, connection_params
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
LATEST = len(postgres_schema.MIGRATIONS)
PROCESSES = 4  # migrating at once


def _connect(url: str) -> PostgresConnection:
    """A connection as the engine makes one, without the migration its connect() does."""
    return PostgresConnection(connection_params(url), url)


def migrate_once(url: str) -> None:
    """What one program does on start: migrate in a write transaction (run by the workers)."""
    conn = _connect(url)
    try:
        with write(conn):
            postgres_schema.migrate(conn, url, create=True)
    finally:
        conn.close()


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Connection]:
    """A connection to a fresh, empty PostgreSQL database."""
    conn = _connect(postgres_url)
    yield conn
    conn.close()


@pytest.fixture
def migrated(pg: Connection) -> Connection:
    with write(pg):
        postgres_schema.migrate(pg, "the test database", create=True)
    return pg


@pytest.fixture
def lite(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """An SQLite database made by the SQLite migrations, as the app opens one."""
    conn = open_database(tmp_path / "clinic.db", create=True)
    yield conn
    conn.close()


# -- what a database is made of, read from each engine's catalog --------------------------

Parts = dict[str, Any]


def _sqlite_parts(conn: sqlite3.Connection) -> Parts:
    db = sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)
    tables: dict[str, list[tuple[str, str, bool, str | None]]] = {}
    keys: set[tuple[str, str, tuple[str, ...]]] = set()
    indexes: set[tuple[str, str, tuple[str, ...], bool]] = set()
    foreign: set[tuple[str, str | None, str, str | None, str]] = set()
    for table in db.tables:
        if table.name.startswith("sqlite_"):
            continue
        primary = tuple(table.pks) if table.pks != ["rowid"] else ()
        tables[table.name] = [
            (
                column[1],
                {"INTEGER": "bigint", "TEXT": "text"}[column[2]],
                bool(column[3]) or column[1] in primary,
                None if column[4] is None else str(column[4]),
            )
            for column in conn.execute(f"PRAGMA table_info({table.name})")
        ]
        keys.add(("primary", table.name, primary))
        for index in table.indexes:
            columns = tuple(index.columns)
            if index.origin == "u":
                keys.add(("unique", table.name, columns))
            elif index.origin == "c":
                indexes.add((index.name, table.name, columns, bool(index.partial)))
        for key in table.foreign_keys:
            on_delete = next(
                str(row[6])
                for row in conn.execute(f"PRAGMA foreign_key_list({table.name})")
                if row[3] == key.column
            )
            foreign.add((table.name, key.column, key.other_table, key.other_column, on_delete))
    triggers = {(trigger.name, trigger.table) for trigger in db.triggers}
    return {
        "tables": tables,
        "keys": keys,
        "indexes": indexes,
        "foreign keys": foreign,
        "triggers": triggers,
    }


_DELETE_RULES = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL"}


def _postgres_parts(conn: Connection) -> Parts:
    """The same, from PostgreSQL's catalog (ringround_schema, the version, is PostgreSQL's own)."""
    ours = "n.nspname = current_schema() AND c.relname <> 'ringround_schema'"
    tables: dict[str, list[tuple[str, str, bool, str | None]]] = {}
    for table, column, kind, not_null, default in conn.execute(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,"
        " pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a"
        " JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
        f" WHERE c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped AND {ours}"
        " ORDER BY c.relname, a.attnum"
    ):
        shown = None if default is None else str(default).removesuffix("::text")
        tables.setdefault(table, []).append((column, kind, not_null, shown))
    keys: set[tuple[str, str, tuple[str, ...]]] = set()
    foreign: set[tuple[str, str | None, str, str | None, str]] = set()
    for kind, table, columns, other, other_columns, on_delete in conn.execute(
        "SELECT k.contype, c.relname,"
        " (SELECT array_agg(a.attname ORDER BY i.n) FROM unnest(k.conkey) WITH ORDINALITY"
        "  AS i(num, n) JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = i.num),"
        " f.relname,"
        " (SELECT array_agg(a.attname ORDER BY i.n) FROM unnest(k.confkey) WITH ORDINALITY"
        "  AS i(num, n) JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = i.num),"
        " k.confdeltype"
        " FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_class f ON f.oid = k.confrelid"
        f" WHERE k.contype IN ('p', 'u', 'f') AND {ours}"
    ):
        if kind == "f":
            (column,), (other_column,) = columns, other_columns
            foreign.add((table, column, other, other_column, _DELETE_RULES[on_delete]))
        else:
            keys.add(({"p": "primary", "u": "unique"}[kind], table, tuple(columns)))
    for table in tables:
        if not any(key[:2] == ("primary", table) for key in keys):
            keys.add(("primary", table, ()))
    indexes = {
        (name, table, tuple(columns), partial)
        for name, table, columns, partial in conn.execute(
            "SELECT i.relname, c.relname,"
            " (SELECT array_agg(a.attname ORDER BY k.n) FROM unnest(x.indkey) WITH ORDINALITY"
            "  AS k(num, n) JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.num),"
            " x.indpred IS NOT NULL"
            " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
            " JOIN pg_class c ON c.oid = x.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
            f" WHERE {ours}"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)"
        )
    }
    triggers = {
        (name, table)
        for name, table in conn.execute(
            "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            f" JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal AND {ours}"
        )
    }
    return {
        "tables": tables,
        "keys": keys,
        "indexes": indexes,
        "foreign keys": foreign,
        "triggers": triggers,
    }


def test_both_engines_have_the_same_number_of_migrations() -> None:
    assert len(postgres_schema.MIGRATIONS) == len(schema.MIGRATIONS)


def test_an_empty_database_is_migrated_and_its_version_recorded(pg: Connection) -> None:
    assert postgres_schema.schema_version(pg) == 0
    with write(pg):
        postgres_schema.migrate(pg, "the test database", create=True)
    assert postgres_schema.schema_version(pg) == LATEST
    assert pg.execute("SELECT version, application FROM ringround_schema").fetchall() == [
        (LATEST, "ringround")
    ]
    # The clinic's tables are there, empty, and take rows.
    pg.execute("INSERT INTO clients (name) VALUES ('Anna')")
    assert pg.execute("SELECT id, name, do_not_call FROM clients").fetchall() == [(1, "Anna", 0)]


def test_the_tables_columns_keys_indexes_and_triggers_are_sqlites(
    migrated: Connection, lite: sqlite3.Connection
) -> None:
    theirs, ours = _sqlite_parts(lite), _postgres_parts(migrated)
    assert ours["tables"] == theirs["tables"]  # by name, in order, typed, nullable, defaults
    assert ours["keys"] == theirs["keys"]
    assert ours["indexes"] == theirs["indexes"]
    assert ours["foreign keys"] == theirs["foreign keys"]
    assert ours["triggers"] == theirs["triggers"]
    assert len(ours["triggers"]) > 20  # the comparison saw the change feed


def test_migrating_again_changes_nothing(migrated: Connection) -> None:
    before = _postgres_parts(migrated)
    with write(migrated):
        postgres_schema.migrate(migrated, "the test database", create=True)
    assert _postgres_parts(migrated) == before
    assert migrated.execute("SELECT version FROM ringround_schema").fetchall() == [(LATEST,)]


def test_several_programs_starting_at_once_migrate_once(postgres_url: str, pg: Connection) -> None:
    """Each waits for the writers' lock; the first migrates, the others find it done.

    The test holds the lock until every worker waits for it, so they all start
    on an empty database and really meet.
    """
    worker = "import sys; from tests.storage.test_postgres_schema import migrate_once; "
    worker += "migrate_once(sys.argv[1])"
    waiting = (
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        f" AND objid = {postgres_schema.WRITE_LOCK}"
    )
    with write(pg):
        pg.execute(f"SELECT pg_advisory_xact_lock({postgres_schema.WRITE_LOCK})")
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", worker, postgres_url],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(PROCESSES)
        ]

        def all_waiting() -> bool:
            gone = [process for process in workers if process.poll() is not None]
            assert not gone, gone[0].communicate()[1]  # a worker that ended early says why
            return bool(pg.execute(waiting).fetchone()[0] == PROCESSES)

        # Patient: four Python processes starting on a loaded machine.
        wait_until(all_waiting, "every worker waiting for the writers' lock", timeout=180)
        assert postgres_schema.schema_version(pg) == 0
    for process in workers:
        _out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    assert pg.execute("SELECT version, application FROM ringround_schema").fetchall() == [
        (LATEST, "ringround")
    ]
    assert pg.execute("SELECT count(*) FROM pg_proc WHERE proname = 'fold'").fetchone()[0] == 1


def test_an_empty_database_is_made_only_when_asked(pg: Connection) -> None:
    refused = r"^The database db\.example is empty, not yet"
    with pytest.raises(NotADatabase, match=refused), write(pg):
        postgres_schema.migrate(pg, "db.example", create=False)
    assert pg.execute("SELECT to_regclass('clients')").fetchone()[0] is None


def test_a_database_of_a_newer_ringround_is_refused_and_left_alone(migrated: Connection) -> None:
    migrated.execute("UPDATE ringround_schema SET version = ?", (LATEST + 1,))
    before = _postgres_parts(migrated)
    with pytest.raises(NotADatabase) as refused, write(migrated):
        postgres_schema.migrate(migrated, "db.example", create=True)
    assert str(refused.value) == (
        "The database db.example was made by a newer ringround; update the program."
    )
    assert _postgres_parts(migrated) == before
    assert postgres_schema.schema_version(migrated) == LATEST + 1


@pytest.mark.parametrize(
    "other_program",
    [
        "CREATE TABLE invoices (id BIGINT PRIMARY KEY, total NUMERIC)",
        "CREATE SCHEMA billing; CREATE TABLE billing.invoices (id BIGINT)",
        "CREATE TABLE ringround_schema (version INTEGER NOT NULL, application TEXT NOT NULL);"
        " INSERT INTO ringround_schema VALUES (1, 'ringing-round')",
    ],
    ids=["a table", "a table in a schema of its own", "a version table not ours"],
)
def test_another_programs_database_is_refused_and_left_alone(
    pg: Connection, other_program: str
) -> None:
    for statement in other_program.split("; "):
        pg.execute(statement)
    with pytest.raises(NotADatabase) as refused, write(pg):
        postgres_schema.migrate(pg, "db.example", create=True)
    assert str(refused.value) == (
        "The database db.example holds another program's tables, not a ringround database."
    )
    assert pg.execute("SELECT to_regclass('clients')").fetchone()[0] is None


def test_migrating_needs_a_write_transaction(pg: Connection) -> None:
    with pytest.raises(RuntimeError):
        postgres_schema.migrate(pg, "db.example", create=True)
    assert postgres_schema.schema_version(pg) == 0


# -- the change feed ----------------------------------------------------------------------

# Statements both engines run, each followed by a look at what it recorded. Every table
# with triggers is written, updated and deleted; a session's end records its locks;
# deleting a client deletes its phones (ON DELETE CASCADE).
_STATEMENTS: list[tuple[str, tuple[object, ...]]] = [
    ("INSERT INTO clients (id, name) VALUES (1, 'Anna'), (2, 'Boris')", ()),
    ("UPDATE clients SET name = ? WHERE id = 1", ("Anna K",)),
    ("INSERT INTO phones (client_id, position, number, digits) VALUES (1, 1, ?, ?)", ("+7", "7")),
    ("INSERT INTO phones (client_id, position, number, digits) VALUES (2, 1, ?, ?)", ("8", "8")),
    ("UPDATE phones SET number = ? WHERE client_id = 1", ("+7 1",)),
    ("INSERT INTO appointments (id, client_id, starts_at, status) VALUES (10, 1, 5, 'new')", ()),
    ("UPDATE appointments SET status = 'confirmed' WHERE id = 10", ()),
    ("INSERT INTO tasks (id, client_id, kind, due_at) VALUES (20, 2, 'recall', 5)", ()),
    ("UPDATE tasks SET done_at = 9 WHERE id = 20", ()),
    ("INSERT INTO call_lists (id, name, created_at, created_by) VALUES (30, 'flu', 1, 'b')", ()),
    ("INSERT INTO call_list_items (id, list_id, client_id) VALUES (40, 30, 2), (41, 30, 1)", ()),
    ("UPDATE call_list_items SET processed_at = 7 WHERE id = 41", ()),
    (
        "INSERT INTO sessions (id, operator, pid, host, tty, started_at, heartbeat_at)"
        " VALUES (50, 'alice', 1, 'h', 't', 1, 1), (51, 'bob', 2, 'h', 't', 1, 1)",
        (),
    ),
    (
        "INSERT INTO locks (kind, source_id, client_id, session_id, operator, since, epoch)"
        " VALUES ('item', 40, 2, 50, 'alice', 1, 1), ('appointment', 10, 1, 50, 'alice', 1, 1),"
        " ('task', 20, 2, 51, 'bob', 1, 1)",
        (),
    ),
    ("UPDATE locks SET stale_noted = 1 WHERE session_id = 51", ()),
    (
        "INSERT INTO call_rows (kind, source_id, client_id)"
        " VALUES ('item', 40, 2), ('task', 20, 2)",
        (),
    ),
    ("UPDATE call_rows SET epoch = epoch + 1", ()),
    (
        "INSERT INTO attempts (kind, source_id, client_id, operator, session_id, started_at,"
        " ended_at, mode, outcome) VALUES ('item', 40, 2, 'alice', 50, 1, 2, 'manual', 'ok')",
        (),
    ),
    ("UPDATE attempts SET comment = ? WHERE source_id = 40", ("rang twice",)),
    (
        "INSERT INTO row_notes (kind, source_id, at, event, operator, since)"
        " VALUES ('item', 40, 3, 'stale-lock', 'alice', 1)",
        (),
    ),
    ("UPDATE sessions SET heartbeat_at = 9 WHERE id = 50", ()),
    (
        "INSERT INTO audit (at, operator, event, prev_hash, hash) VALUES (1, 'a', 'x', '', '')",
        (),
    ),
    ("INSERT INTO settings (name, value) VALUES ('phones', 'ru')", ()),
    ("UPDATE sessions SET ended_at = 10 WHERE id = 50", ()),
    ("DELETE FROM locks WHERE session_id = 50", ()),
    ("DELETE FROM attempts", ()),
    ("DELETE FROM call_rows WHERE kind = 'item'", ()),
    ("DELETE FROM call_list_items WHERE id = 41", ()),
    ("DELETE FROM locks", ()),
    ("DELETE FROM call_rows", ()),
    ("DELETE FROM call_list_items", ()),
    ("UPDATE call_lists SET closed_at = 1", ()),
    ("DELETE FROM call_lists", ()),
    ("DELETE FROM tasks", ()),
    ("DELETE FROM appointments", ()),
    ("DELETE FROM phones WHERE client_id = 2", ()),
    ("DELETE FROM clients", ()),
]


def _recorded(conn: Connection, after: int) -> tuple[int, list[tuple[str, int, int | None]]]:
    rows = conn.execute(
        "SELECT seq, kind, ref, list_id FROM changes WHERE seq > ? ORDER BY seq", (after,)
    ).fetchall()
    seq = rows[-1][0] if rows else after
    return seq, sorted((kind, ref, list_id) for _seq, kind, ref, list_id in rows)


def test_the_triggers_record_what_sqlites_record(
    migrated: Connection, lite: sqlite3.Connection
) -> None:
    seen = {"sqlite": 0, "postgresql": 0}
    silent = []
    for sql, parameters in _STATEMENTS:
        found = {}
        for name, conn in (("sqlite", lite), ("postgresql", migrated)):
            conn.execute(sql, parameters)
            seen[name], found[name] = _recorded(conn, seen[name])
        assert found["postgresql"] == found["sqlite"], sql
        if not found["sqlite"]:
            silent.append(" ".join(sql.split()[:4]))
    assert seen["postgresql"] == seen["sqlite"] > len(_STATEMENTS)  # numbered alike, from 1
    # A new client (nothing shows it before it has rows), sessions until they end, the
    # heartbeat, the audit trail and the settings record nothing, on either engine.
    assert silent == [
        "INSERT INTO clients (id,",
        "INSERT INTO sessions (id,",
        "UPDATE sessions SET heartbeat_at",
        "INSERT INTO audit (at,",
        "INSERT INTO settings (name,",
    ]


def test_a_change_notifies_listeners_when_it_commits_and_not_when_it_rolls_back(
    postgres_url: str, migrated: Connection
) -> None:
    listener = psycopg.connect(postgres_url, autocommit=True)
    try:
        listener.execute(f"LISTEN {postgres_schema.NOTIFY_CHANNEL}")
        with pytest.raises(ZeroDivisionError), write(migrated):
            migrated.execute("INSERT INTO clients (id, name) VALUES (1, 'Anna')")
            migrated.execute("INSERT INTO phones VALUES (1, 1, '+7', '7')")
            raise ZeroDivisionError
        # Notifications arrive in commit order: the marker comes after anything before it.
        migrated.execute(f"NOTIFY {postgres_schema.NOTIFY_CHANNEL}, 'marker'")
        assert _payloads_until(listener, "marker") == []
        with write(migrated):
            migrated.execute("INSERT INTO clients (id, name) VALUES (1, 'Anna')")
            migrated.execute("INSERT INTO phones VALUES (1, 1, '+7', '7')")
            migrated.execute("INSERT INTO phones VALUES (1, 2, '+8', '8')")
        migrated.execute(f"NOTIFY {postgres_schema.NOTIFY_CHANNEL}, 'marker'")
        assert _payloads_until(listener, "marker") == [""]  # one per transaction, at commit
    finally:
        listener.close()


def _payloads_until(listener: Any, marker: str) -> list[str]:
    payloads: list[str] = []
    for notice in listener.notifies(timeout=120):
        if notice.payload == marker:
            return payloads
        payloads.append(notice.payload)
    raise AssertionError(f"no {marker!r} notification came")


def test_a_bulk_load_records_nothing_and_the_feed_goes_on_after_it(migrated: Connection) -> None:
    migrated.execute("INSERT INTO clients (id, name) VALUES (1, 'Anna')")
    migrated.execute("INSERT INTO phones VALUES (1, 1, '+7', '7')")
    assert latest(migrated) == 1
    with write(migrated):
        with bulk_load(migrated):
            migrated.execute("INSERT INTO clients (id, name) VALUES (2, 'Boris')")
            migrated.execute("INSERT INTO phones VALUES (2, 1, '+8', '8')")
            assert migrated.execute("SELECT count(*) FROM changes").fetchone()[0] == 1
        # After it: a gap, so a screen that saw change 1 reads everything again.
        assert changes_since(migrated, 1).complete is False
        migrated.execute("INSERT INTO phones VALUES (2, 2, '+9', '9')")
    migrated.execute("INSERT INTO phones VALUES (1, 2, '+6', '6')")
    assert migrated.execute("SELECT seq, kind, ref FROM changes ORDER BY seq").fetchall() == [
        (3, "list", 0),
        (4, "client", 2),
        (5, "client", 1),
    ]


# -- the functions the shared SQL borrows from SQLite -------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("fold('ИВАНОВ Пётр, ÄRGER')", "иванов пётр, ärger"),
        ("fold(NULL)", ""),
        ("fold('STRASSE Straße ΣΟΦΟΣ σοφός')", "strasse strasse σοφοσ σοφόσ"),
        ("instr(fold('Анна Каренина'), 'кар')", 6),
        ("instr('abc', 'z')", 0),
        ("max(3, 5)", 5),
        ("max(7, NULL)", None),
        ("min(3, 5)", 3),
        ("min(NULL, 5)", None),
        ("max(5, 2 + 4)", 6),
        ("trim('· service · ', ' ·')", "service"),
    ],
)
def test_the_functions_answer_as_on_sqlite(
    migrated: Connection, lite: sqlite3.Connection, expression: str, expected: object
) -> None:
    sql = f"SELECT {expression}"
    assert lite.execute(sql).fetchone()[0] == expected
    assert migrated.execute(sql).fetchone()[0] == expected


def test_nocase_sorts_upper_and_lower_case_alike(migrated: Connection) -> None:
    rows = migrated.execute(
        "SELECT name FROM (VALUES ('b', 1), ('A', 2), ('B', 3), ('a', 4), ('Б', 5), ('а', 6))"
        " AS v(name, id) ORDER BY name COLLATE NOCASE, id"
    ).fetchall()
    assert [row[0] for row in rows] == ["A", "a", "b", "B", "а", "Б"]


# -- ids --------------------------------------------------------------------------------


def test_after_explicit_ids_the_next_ids_follow_them(migrated: Connection) -> None:
    with write(migrated):
        migrated.execute("INSERT INTO clients (id, name) VALUES (1, 'Anna'), (7, 'Boris')")
        migrated.execute(
            "INSERT INTO audit (id, at, operator, event, prev_hash, hash)"
            " VALUES (4, 1, 'a', 'x', '', '')"
        )
        catch_up_ids(migrated)
    migrated.execute("INSERT INTO clients (name) VALUES ('Vera')")
    assert migrated.execute("SELECT max(id) FROM clients").fetchone()[0] == 8
    assert highest_id_given(migrated, "audit") == 4
    # Never back: the highest id given stays known after the newest rows are deleted.
    migrated.execute("DELETE FROM clients WHERE id > 1")
    catch_up_ids(migrated)
    migrated.execute("INSERT INTO clients (name) VALUES ('Galina')")
    assert migrated.execute("SELECT max(id) FROM clients").fetchone()[0] == 9


def test_the_operators_role_catches_up_ids_it_may_not_set(migrated: Connection) -> None:
    """An import under the operators' rights (docs/postgresql-roles.sql) numbers its clients."""
    clerk = "clerk_" + str(migrated.execute("SELECT current_database()").fetchone()[0])
    migrated.execute(f"CREATE ROLE {clerk} NOLOGIN")
    try:
        migrated.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {clerk}"
        )
        migrated.execute(f"GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO {clerk}")
        migrated.execute(f"SET ROLE {clerk}")
        with pytest.raises(ReadOnlyDatabase), write(migrated):
            migrated.execute("SELECT setval(pg_get_serial_sequence('clients', 'id'), 5)")
        with write(migrated):
            migrated.execute("INSERT INTO clients (id, name) VALUES (1, 'Anna'), (5, 'Boris')")
            catch_up_ids(migrated)
        migrated.execute("INSERT INTO clients (name) VALUES ('Vera')")
        assert migrated.execute("SELECT max(id) FROM clients").fetchone()[0] == 6
    finally:
        migrated.execute("RESET ROLE")
        migrated.execute(f"DROP OWNED BY {clerk}")
        migrated.execute(f"DROP ROLE {clerk}")


def test_the_highest_audit_id_ever_given_is_kept_on_both_engines(
    migrated: Connection, lite: sqlite3.Connection
) -> None:
    for conn in (migrated, lite):
        assert highest_id_given(conn, "audit") == 0
        with write(conn):
            for _ in range(3):
                audit(conn, 1, "alice", None, "claim")
        conn.execute("DELETE FROM audit WHERE id = 3")
        assert highest_id_given(conn, "audit") == 3
        report = verify_chain(conn, lambda entry: str(entry.id))
        if conn is lite:
            assert report.problem == "audit entry 3 is missing (deleted)"
        else:  # a sequence's ids may also be skipped (a crash, a failed save): a warning
            assert (report.problem, report.unheld) == (None, (3, 3))
        conn.execute("DELETE FROM audit")
        set_highest_id_given(conn, "audit", 0)
        assert highest_id_given(conn, "audit") == 0
        with write(conn):
            audit(conn, 2, "bob", None, "claim")
        assert conn.execute("SELECT id FROM audit").fetchall() == [(1,)]
        # A copied clinic keeps its source's count (storage/copying.py).
        set_highest_id_given(conn, "audit", 7)
        assert highest_id_given(conn, "audit") == 7
        with write(conn):
            audit(conn, 3, "bob", None, "claim")
        assert conn.execute("SELECT max(id) FROM audit").fetchone()[0] == 8


def test_migration_3_chains_the_entries_already_there_as_on_sqlite(pg: Connection) -> None:
    """A database at version 2 with an unchained trail: the hashes SQLite would give them."""
    with write(pg):
        for step in postgres_schema.MIGRATIONS[:2]:
            if callable(step):
                step(pg)
            else:
                postgres_schema._run(pg, step)
        postgres_schema._run(pg, postgres_schema._VERSION_TABLE)
        pg.execute("INSERT INTO ringround_schema VALUES (2, 'ringround')")
    entries = [
        (1, 100, "alice", 5, "claim", "item", 40, 2, ""),
        (2, 160, "bob", None, "card-edit", None, None, 2, '{"name": "Б"}'),
    ]
    pg.executemany(
        "INSERT INTO audit (id, at, operator, session_id, event, kind, source_id, client_id,"
        " detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        entries,
    )
    with write(pg):
        postgres_schema.migrate(pg, "the test database", create=False)
    first = entry_hash(GENESIS, entries[0][1:])
    second = entry_hash(first, entries[1][1:])
    assert pg.execute("SELECT id, prev_hash, hash FROM audit ORDER BY id").fetchall() == [
        (1, GENESIS, first),
        (2, first, second),
    ]
    assert verify_chain(pg, lambda entry: str(entry.id)).problem is None
    assert postgres_schema.schema_version(pg) == LATEST
