"""The PostgreSQL engine's own part of the seam, on a real server (tests/postgres_server.py).

What every engine must do the same way (the lock protocol, the change feed,
the storage modules' SQL) is tested by the engine-parametrized storage tests;
here is what only a server engine has: choosing it by URL, the connection
that behaves as SQLite's, writers taking turns on the advisory lock, the
server's clock, LISTEN/NOTIFY, and a server that restarts.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

import storage.postgres_connection
import storage.postgres_engine
from benchmarks.postgres_cluster import PostgresServer, why_not_here
from storage.changes import CLIENT, Change
from storage.connection import execute_soon, preparable
from storage.database import (
    DatabaseBusy,
    DatabaseUnreachable,
    NotADatabase,
    ReadOnlyDatabase,
    StorageError,
)
from storage.engine import open_engine, write
from storage.errors import EXIT_BAD_INPUT, BadInput
from storage.health import PROBLEM
from storage.policy import Policy
from storage.postgres_connection import (
    NETWORK_SILENCE,
    PREPARE_AFTER,
    PostgresConnection,
    connection_params,
    psycopg_sql,
)
from storage.postgres_engine import PostgresEngine
from storage.sqlite_engine import SqliteEngine
from tests.unix_users import ringround_command
from tests.waiting import wait_until

SKEW = 600  # seconds an application server's clock is wrong by, in the clock tests


def skew_clock(monkeypatch: pytest.MonkeyPatch, seconds: int) -> None:
    """This computer's clock (time.time) goes ``seconds`` wrong from now on."""
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + seconds)


@pytest.fixture
def engine(postgres_url: str) -> PostgresEngine:
    made = open_engine(postgres_url)
    assert isinstance(made, PostgresEngine)
    made.connect(create=True).close()
    return made


@pytest.fixture
def pg(engine: PostgresEngine) -> Iterator[PostgresConnection]:
    conn = engine.connect()
    yield conn
    conn.close()


def add_client(conn: PostgresConnection, name: str) -> int:
    with write(conn):
        row = conn.execute("INSERT INTO clients (name) VALUES (?) RETURNING id", (name,))
        return int(row.fetchone()[0])


def test_the_location_chooses_the_engine(tmp_path: Path, postgres_url: str) -> None:
    assert isinstance(open_engine(tmp_path / "clinic.db"), SqliteEngine)
    assert isinstance(open_engine(postgres_url), PostgresEngine)
    other = postgres_url.replace("postgresql://", "postgres://")
    assert open_engine(other).location == other


@pytest.mark.parametrize("state", ["starting up", "shutting down", "in recovery mode"])
def test_a_server_starting_or_stopping_is_one_that_does_not_answer(state: str) -> None:
    """A connection made during a server restart hears this; the caller tries again later."""
    said = psycopg.OperationalError(
        'connection failed: connection to server at "127.0.0.1", port 5432 failed:'
        f" FATAL:  the database system is {state}"
    )
    found = storage.postgres_connection.refused(said, "postgresql://h/clinic")
    assert isinstance(found, DatabaseUnreachable)
    assert str(found) == "The database server postgresql://h/clinic does not answer."


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://clinic:secret@db.example/ringround",
        "postgres://clinic:@db.example/ringround",
        "postgresql://clinic@db.example/ringround?password=secret",
        "postgresql://clinic:secret@[db.example/ringround",  # a host part urllib cannot read
    ],
)
def test_a_password_in_the_url_is_refused(url: str) -> None:
    with pytest.raises(BadInput, match=r"~/\.pgpass, PGPASSWORD or a service file") as caught:
        open_engine(url)
    assert caught.value.exit_code == EXIT_BAD_INPUT
    assert "secret" not in str(caught.value)


def test_without_psycopg_a_url_gets_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(sys.modules):
        if name == "psycopg" or name.startswith(("psycopg.", "storage.postgres")):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "psycopg", None)  # "import psycopg" fails as if missing
    with pytest.raises(BadInput, match=r"pip install 'ringround\[postgresql\]'") as caught:
        open_engine("postgresql://clinic@db.example/ringround")
    assert caught.value.exit_code == EXIT_BAD_INPUT


def test_the_sqlite_path_imports_no_psycopg(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from storage.engine import open_engine, write\n"
        f"conn = open_engine({str(tmp_path / 'c.db')!r}).connect(create=True)\n"
        "with write(conn):\n"
        "    conn.execute(\"INSERT INTO clients (name) VALUES ('A')\")\n"
        "print(sorted(m for m in sys.modules if m.startswith(('psycopg', 'storage.postgres'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_batch_cut_short_says_one_sentence_and_psycopg_nothing(
    postgres_clinic_url: str,
) -> None:
    """A batch of inserts (a copy, an import) the server ends halfway (a restart ends the
    session so): the sentence, and nothing from psycopg's own log on standard error, where
    it said "error ignored terminating <psycopg.Pipeline ...>" under the sentence."""
    code = (
        "import psycopg\n"
        "from storage.database import DatabaseUnreachable\n"
        "from storage.engine import open_engine, write\n"
        f"url = {postgres_clinic_url!r}\n"
        "conn = open_engine(url).connect()\n"
        "pid = conn.execute('SELECT pg_backend_pid()').fetchone()[0]\n"
        "def clients():\n"
        "    for number in range(5000):\n"
        "        if number == 10:\n"
        "            with psycopg.connect(url, autocommit=True) as admin:\n"
        "                admin.execute('SELECT pg_terminate_backend(%s)', (pid,))\n"
        "        yield (f'Client {number}',)\n"
        "try:\n"
        "    with write(conn):\n"
        "        conn.executemany('INSERT INTO clients (name) VALUES (?)', clients())\n"
        "except DatabaseUnreachable as error:\n"
        "    print(error)\n"
        "print(conn.execute('SELECT count(*) FROM clients').fetchone()[0])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "0", done.stdout
    assert "does not answer; nothing was saved" in done.stdout
    assert done.stderr == ""


def test_the_shared_sql_is_rewritten_for_psycopg() -> None:
    assert psycopg_sql("SELECT ? WHERE a LIKE 'x%' AND b = ?") == (
        "SELECT %s WHERE a LIKE 'x%%' AND b = %s"
    )


def test_the_connection_behaves_as_sqlites(pg: PostgresConnection) -> None:
    """Placeholders, untyped NULLs, flags, literal %, integer results, rows as tuples."""
    assert not pg.in_transaction
    with write(pg):
        assert pg.in_transaction
        pg.executemany(
            "INSERT INTO clients (name, do_not_call) VALUES (?, ?)",
            [("Анна 100%", True), ("Борис", False)],
        )
    assert not pg.in_transaction
    rows = pg.execute(
        "SELECT name, do_not_call FROM clients WHERE ? IS NULL AND name LIKE '%0%%' ORDER BY id",
        (None,),
    ).fetchall()
    assert rows == [("Анна 100%", 1)]
    total, average = pg.execute("SELECT sum(id), avg(do_not_call) FROM clients").fetchone()
    assert (total, average) == (3, 0.5)
    assert type(total) is int
    update = pg.execute("UPDATE clients SET email = 'x' WHERE do_not_call = ?", (0,))
    assert update.rowcount == 1
    assert update.fetchone() is None  # a statement without rows reads as none, as on SQLite
    assert [column[0] for column in pg.execute("SELECT id, name FROM clients").description] == [
        "id",
        "name",
    ]


def test_a_failed_write_saves_nothing_and_a_nested_one_undoes_only_itself(
    pg: PostgresConnection,
) -> None:
    with pytest.raises(StorageError, match="nosuch"), write(pg):
        pg.execute("INSERT INTO clients (name) VALUES ('Lost')")
        pg.execute("INSERT INTO nosuch VALUES (1)")
    assert not pg.in_transaction
    with write(pg):
        pg.execute("INSERT INTO clients (name) VALUES ('Kept')")
        with pytest.raises(StorageError), write(pg):
            pg.execute("INSERT INTO clients (name) VALUES ('Undone')")
            pg.execute("INSERT INTO clients (name) VALUES (NULL)")
    names = [row[0] for row in pg.execute("SELECT name FROM clients ORDER BY id")]
    assert names == ["Kept"]


def waiting_for_lock(pg: PostgresConnection) -> bool:
    row = pg.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    ).fetchone()
    return bool(row[0])


def test_writers_take_turns(engine: PostgresEngine, pg: PostgresConnection) -> None:
    """A second write waits for the first to commit, then sees what it wrote."""
    second = engine.connect()
    seen: list[int] = []

    def other_writer() -> None:
        with write(second):
            seen.append(second.execute("SELECT count(*) FROM clients").fetchone()[0])

    with write(pg):
        pg.execute("INSERT INTO clients (name) VALUES ('First')")
        thread = threading.Thread(target=other_writer)
        thread.start()
        observer = engine.connect()
        wait_until(lambda: waiting_for_lock(observer), "the second writer to wait for the lock")
        assert seen == []
    thread.join()
    assert seen == [1]
    for conn in (second, observer):
        conn.close()


def test_a_writer_kept_waiting_hears_that_the_database_is_busy(
    engine: PostgresEngine, pg: PostgresConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage.postgres_connection, "SESSION_OPTIONS", "-c lock_timeout=50")
    impatient = PostgresEngine(engine.location).connect()
    with write(pg):
        pg.execute("INSERT INTO clients (name) VALUES ('First')")
        busy = pytest.raises(DatabaseBusy, match="busy with another operator's save")
        with busy, write(impatient):
            impatient.execute("INSERT INTO clients (name) VALUES ('Second')")
        assert not impatient.in_transaction
    assert [name for (name,) in pg.execute("SELECT name FROM clients")] == ["First"]
    impatient.close()


def sleeping(observer: PostgresConnection) -> bool:
    row = observer.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
        " AND query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()"
    ).fetchone()
    return bool(row[0])


def test_closing_a_connection_in_use_ends_its_statement_first(
    engine: PostgresEngine, pg: PostgresConnection
) -> None:
    """The app closes while a job still writes on one of its connections.

    psycopg frees a connection at once, under a statement another thread runs
    on it, which can crash the whole program; the statement is cancelled and
    ended first, and its write saves nothing.
    """
    busy = engine.connect()
    failed: list[StorageError] = []

    def long_write() -> None:
        try:
            with write(busy):
                busy.execute("INSERT INTO clients (name) VALUES ('Half')")
                busy.execute("SELECT pg_sleep(30)")
        except StorageError as error:
            failed.append(error)

    thread = threading.Thread(target=long_write)
    thread.start()
    wait_until(lambda: sleeping(pg), "the write to reach its long statement")
    busy.close()
    assert not sleeping(pg), "the server still runs the statement of a closed connection"
    thread.join(30)
    assert not thread.is_alive() and len(failed) == 1
    assert pg.execute("SELECT count(*) FROM clients").fetchone()[0] == 0


def test_a_write_that_sends_nothing_begins_nothing(
    engine: PostgresEngine, pg: PostgresConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BEGIN and the writers' lock go with a write's first statement: none, no wait."""
    monkeypatch.setattr(storage.postgres_connection, "SESSION_OPTIONS", "-c lock_timeout=50")
    patient = PostgresEngine(engine.location).connect()
    with write(pg):
        pg.execute("INSERT INTO clients (name) VALUES ('First')")
        with write(patient):
            assert patient.in_transaction
        assert not patient.in_transaction
    patient.close()


def test_statements_sent_later_run_in_order_within_the_write(pg: PostgresConnection) -> None:
    with write(pg):
        execute_soon(pg, "INSERT INTO clients (name) VALUES (?)", ("Анна 100%",))
        execute_soon(pg, "UPDATE clients SET name = name || ? WHERE name = ?", ("!", "Анна 100%"))
        assert pg.execute("SELECT name FROM clients").fetchall() == [("Анна 100%!",)]
        execute_soon(pg, "UPDATE clients SET email = 'a@example.org'")
    assert pg.execute("SELECT name, email FROM clients").fetchall() == [
        ("Анна 100%!", "a@example.org")
    ]


def test_a_statement_sent_later_that_fails_fails_the_write_and_saves_nothing(
    pg: PostgresConnection,
) -> None:
    with pytest.raises(StorageError, match="could not be used"), write(pg):
        first = pg.execute("INSERT INTO clients (name) VALUES ('First') RETURNING id").fetchone()
        execute_soon(pg, "INSERT INTO clients (id, name) VALUES (?, 'Twin')", (first[0],))
    assert not pg.in_transaction
    assert pg.execute("SELECT count(*) FROM clients").fetchone()[0] == 0
    with write(pg):  # the connection serves on
        execute_soon(pg, "INSERT INTO clients (name) VALUES ('Second')")
    assert pg.execute("SELECT name FROM clients").fetchall() == [("Second",)]


def test_statements_waiting_when_a_savepoint_rolls_back_are_dropped(
    pg: PostgresConnection,
) -> None:
    with write(pg):
        pg.execute("INSERT INTO clients (name) VALUES ('Kept')")
        with pytest.raises(NotAllowedHere), write(pg):
            execute_soon(pg, "INSERT INTO clients (name) VALUES ('Dropped')")
            raise NotAllowedHere
        execute_soon(pg, "INSERT INTO clients (name) VALUES ('After')")
    names = [name for (name,) in pg.execute("SELECT name FROM clients ORDER BY id")]
    assert names == ["Kept", "After"]


def prepared_here(conn: PostgresConnection) -> list[str]:
    """The statements prepared on ``conn``'s session, as the server has them."""
    rows = conn.execute("SELECT statement FROM pg_prepared_statements ORDER BY name")
    return [statement for (statement,) in rows]


def test_a_statement_sent_often_is_prepared_once_and_answers_alike(pg: PostgresConnection) -> None:
    client = add_client(pg, "Анна 100% ?")
    sql = preparable("SELECT name, id FROM clients WHERE id = ?")
    for _ in range(PREPARE_AFTER + 3):
        with write(pg):
            assert pg.execute(sql, (client,)).fetchall() == [("Анна 100% ?", client)]
            execute_soon(pg, preparable("UPDATE clients SET email = ? WHERE id = ?"), ("", client))
    assert prepared_here(pg) == [
        "PREPARE ringround_1 AS SELECT name, id FROM clients WHERE id = $1",
        "PREPARE ringround_2 AS UPDATE clients SET email = $1 WHERE id = $2",
    ]
    with write(pg):
        assert pg.execute(sql, (client + 1,)).fetchall() == []


def test_a_statement_the_server_cannot_prepare_is_sent_as_before(pg: PostgresConnection) -> None:
    sql = preparable("SELECT ? IS NULL")  # marked wrongly: nothing tells the parameter's type
    for _ in range(PREPARE_AFTER + 3):
        with write(pg):
            assert pg.execute(sql, (None,)).fetchone() == (True,)
    assert prepared_here(pg) == []


def test_statements_are_prepared_again_after_a_server_restart(
    pg: PostgresConnection, restart_server: Callable[[], None]
) -> None:
    client = add_client(pg, "Анна")
    sql = preparable("SELECT name FROM clients WHERE id = ?")

    def read_often() -> None:
        for _ in range(PREPARE_AFTER + 1):
            with write(pg):
                assert pg.execute(sql, (client,)).fetchall() == [("Анна",)]

    read_often()
    assert len(prepared_here(pg)) == 1
    restart_server()
    read_often()  # the first statement finds the new session; nothing prepared is missed
    assert prepared_here(pg) == ["PREPARE ringround_2 AS SELECT name FROM clients WHERE id = $1"]


class NotAllowedHere(Exception):
    """What the block of a nested write raises in the test above."""


def test_now_is_the_servers_clock_whatever_this_computers_says(
    engine: PostgresEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    for skew in (-SKEW, SKEW):
        skew_clock(monkeypatch, skew)  # wrong from the start
        skewed = PostgresEngine(engine.location)
        conn = skewed.connect()
        skew_clock(monkeypatch, 2 * skew)  # and set wronger while the app runs
        assert abs(skewed.now() - server_time(conn)) <= 2
        conn.close()


def test_resync_follows_the_servers_clock_when_it_is_set(
    engine: PostgresEngine, pg: PostgresConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = engine.now()
    # As if an administrator set the server's clock an hour ahead since the last reading.
    monkeypatch.setattr(
        storage.postgres_engine, "SERVER_CLOCK", f"{storage.postgres_engine.SERVER_CLOCK} + 3600"
    )
    assert engine.now() - before < 3600
    engine.resync(pg)
    assert engine.now() - before >= 3600


def server_time(conn: PostgresConnection) -> float:
    return float(conn.execute("SELECT extract(epoch FROM clock_timestamp())").fetchone()[0])


def test_the_watch_hears_commits_without_reading_when_none_came(
    engine: PostgresEngine, pg: PostgresConnection
) -> None:
    watch = engine.watch()
    try:
        assert watch.changes() is None
        client = add_client(pg, "Анна")
        with write(pg):
            pg.execute("UPDATE clients SET name = 'Анна Петровна' WHERE id = ?", (client,))
        found = wait_until(watch.changes, "the commit to be announced")
        assert found.complete
        assert Change(CLIENT, client) in found.changes
        assert watch.changes() is None
    finally:
        watch.close()


def test_the_watch_stays_connected_where_the_server_ends_idle_sessions(
    postgres_server: PostgresServer, engine: PostgresEngine, pg: PostgresConnection
) -> None:
    """A database (or role) with idle_session_timeout, as administrators set to end
    forgotten sessions: the server ended the listening connection whenever nobody committed
    for that long, and the app announced the server gone, then back, over and over."""
    database = engine.location.rsplit("/", 1)[1]
    postgres_server.admin(f"ALTER DATABASE {database} SET idle_session_timeout = '500ms'")
    watch = engine.watch()
    try:
        time.sleep(2)  # four times as long as the server lets a session sit idle
        assert watch.changes() is None  # not DatabaseUnreachable
        client = add_client(pg, "Анна")
        with write(pg):
            pg.execute("UPDATE clients SET name = 'Анна Петровна' WHERE id = ?", (client,))
        found = wait_until(watch.changes, "the commit to be announced")
        assert found.complete and Change(CLIENT, client) in found.changes
    finally:
        watch.close()


def test_a_statement_timeout_the_server_sets_does_not_cut_ringrounds_statements(
    postgres_server: PostgresServer, engine: PostgresEngine
) -> None:
    """A database (or role) with statement_timeout, as administrators set against other
    programs' runaway queries: an export of a big clinic was stopped part-way, and said
    "The database ... is busy with another operator's save". ringround's statements wait
    for locks at most lock_timeout; the rest may take as long as the data they read."""
    database = engine.location.rsplit("/", 1)[1]
    postgres_server.admin(f"ALTER DATABASE {database} SET statement_timeout = '10ms'")
    conn = engine.connect()
    try:
        assert conn.execute("SELECT pg_sleep(0.1), 'done'").fetchone()[1] == "done"
    finally:
        conn.close()


def test_the_tables_are_found_where_public_is_not_on_the_search_path(
    postgres_server: PostgresServer, postgres_clinic_url: str, policy: Policy
) -> None:
    """PostgreSQL's own advice for a secure set-up takes the schema public off every role's
    search path (ALTER ROLE ALL SET search_path = "$user"): ringround then took its own
    clinic for "another program's tables", in the app and in check. Its tables are in
    public (docs/postgresql-roles.sql), and its sessions say so."""
    from storage import server_health

    database = postgres_clinic_url.rsplit("/", 1)[1]
    postgres_server.admin(f"ALTER DATABASE {database} SET search_path = '\"$user\"'")
    conn = open_engine(postgres_clinic_url).connect()
    try:
        assert conn.execute("SELECT count(*) FROM clients").fetchone()[0] == 0
    finally:
        conn.close()
    findings = server_health.check(postgres_clinic_url, policy)
    assert [f.text for f in findings if f.level == PROBLEM] == []


def test_a_rolled_back_write_is_not_announced(
    engine: PostgresEngine, pg: PostgresConnection
) -> None:
    client = add_client(pg, "Анна")
    watch = engine.watch()
    try:
        with pytest.raises(StorageError), write(pg):
            pg.execute("UPDATE clients SET name = 'X' WHERE id = ?", (client,))
            pg.execute("INSERT INTO nosuch VALUES (1)")
        with write(pg):
            pg.execute("INSERT INTO settings (name, value) VALUES ('a', 'b')")  # not announced
        marker = add_client(pg, "Marker")
        with write(pg):
            pg.execute("UPDATE clients SET name = 'M' WHERE id = ?", (marker,))
        found = wait_until(watch.changes, "the marker's commit")
        assert found.changes == {Change(CLIENT, marker)}
    finally:
        watch.close()


def lost_then_back(look: Callable[[], object]) -> object:
    """Look until the look stops failing with DatabaseUnreachable; the first success."""
    failures: list[DatabaseUnreachable] = []

    def attempt() -> object:
        try:
            return (look(),)
        except DatabaseUnreachable as error:
            failures.append(error)
            return None

    result = wait_until(attempt, "the server to answer again")
    assert isinstance(result, tuple)
    return result[0]


def test_a_restarted_server_is_noticed_and_the_watch_reads_everything_again(
    engine: PostgresEngine, restart_server: Callable[[], None]
) -> None:
    watch = engine.watch()
    try:
        restart_server()
        with pytest.raises(DatabaseUnreachable, match=r"does not answer\.$"):  # only reading
            wait_until(lambda: watch.changes() is not None, "the watch to notice the restart")
        back = lost_then_back(watch.changes)
        assert back is not None and not back.complete  # type: ignore[attr-defined]
        assert watch.changes() is None
    finally:
        watch.close()


def test_after_a_restart_the_next_statement_connects_again(
    pg: PostgresConnection, restart_server: Callable[[], None]
) -> None:
    add_client(pg, "Before")
    restart_server()
    assert pg.execute("SELECT count(*) FROM clients").fetchone()[0] == 1
    add_client(pg, "After")
    assert pg.execute("SELECT count(*) FROM clients").fetchone()[0] == 2


def test_a_write_cut_by_a_restart_saves_nothing(
    pg: PostgresConnection, restart_server: Callable[[], None]
) -> None:
    client = add_client(pg, "Анна")
    with pytest.raises(DatabaseUnreachable, match="nothing was saved"), write(pg):
        pg.execute("UPDATE clients SET name = 'Half' WHERE id = ?", (client,))
        restart_server()
        pg.execute("UPDATE clients SET email = 'half@example.org' WHERE id = ?", (client,))
    assert not pg.in_transaction
    assert pg.execute("SELECT name, email FROM clients").fetchall() == [("Анна", "")]


def test_a_commit_whose_answer_is_lost_is_looked_up_and_kept(
    pg: PostgresConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server commits, then the connection breaks before its answer arrives."""
    raw = pg.raw
    real_execute = raw.execute

    def answer_lost(query: Any, *args: Any, **kwargs: Any) -> Any:
        if query == "COMMIT":
            real_execute(query)
            raw.close()
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return real_execute(query, *args, **kwargs)

    monkeypatch.setattr(raw, "execute", answer_lost)
    with write(pg):
        pg.execute("INSERT INTO settings (name, value) VALUES ('kept', 'yes')")
    assert not pg.in_transaction
    assert pg.execute("SELECT value FROM settings WHERE name = 'kept'").fetchall() == [("yes",)]


def test_a_commit_cut_off_on_the_server_is_looked_up_and_nothing_was_saved(
    pg: PostgresConnection, postgres_url: str
) -> None:
    """The server ends the session while the COMMIT runs (its deferred work is slow)."""
    admin = psycopg.connect(postgres_url, autocommit=True)
    try:
        admin.execute(
            "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN PERFORM pg_sleep(30); RETURN NULL; END $$"
        )
        admin.execute(
            "CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON settings"
            " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()"
        )
        backend = pg.execute("SELECT pg_backend_pid()").fetchone()[0]

        def end_the_session_in_its_commit() -> None:
            wait_until(
                lambda: admin.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND query = 'COMMIT'",
                    (backend,),
                ).fetchone(),
                "the COMMIT running on the server",
            )
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))

        ender = threading.Thread(target=end_the_session_in_its_commit)
        ender.start()
        with (
            pytest.raises(DatabaseUnreachable, match="broke while saving; nothing was saved"),
            write(pg),
        ):
            pg.execute("INSERT INTO settings (name, value) VALUES ('lost', 'yes')")
        ender.join(30)
        assert not pg.in_transaction
        assert pg.execute("SELECT count(*) FROM settings WHERE name = 'lost'").fetchone() == (0,)
    finally:
        admin.close()


def test_a_missing_database_and_a_silent_server_are_named(
    postgres_server: PostgresServer,
) -> None:
    missing = postgres_server.url("no_such_database")
    with pytest.raises(NotADatabase, match=r"There is no database .*no_such_database"):
        open_engine(missing).connect()
    with socket_nobody_listens_on() as port:
        silent = f"postgresql://postgres@127.0.0.1:{port}/clinic"
        with pytest.raises(DatabaseUnreachable, match=f"{port}/clinic does not answer"):
            open_engine(silent).connect()


def test_a_silent_network_is_noticed_in_seconds_unless_the_address_says_otherwise() -> None:
    """libpq's defaults (wait for ever, or the system's 15 minutes) are replaced by ours;
    a setting the address makes itself stays the address's."""
    ours = connection_params("postgresql://ringround_app@db1.clinic.lan/ringround")
    assert {name: ours[name] for name in NETWORK_SILENCE} == NETWORK_SILENCE
    assert ours["tcp_user_timeout"] == 15_000 and ours["keepalives"] == 1
    address = (
        "postgresql://ringround_app@db1.clinic.lan/ringround"
        "?tcp_user_timeout=40000&keepalives_idle=30&keepalives_count=6"
    )
    theirs = connection_params(address)
    assert (theirs["tcp_user_timeout"], theirs["keepalives_idle"]) == ("40000", "30")
    assert (theirs["keepalives_count"], theirs["keepalives_interval"]) == ("6", 5)
    off = connection_params("host=db1.clinic.lan dbname=ringround keepalives=0 tcp_user_timeout=0")
    assert (off["keepalives"], off["tcp_user_timeout"]) == ("0", "0")


def why_no_network_of_its_own() -> str | None:
    """Why tests/storage/silent_network.py cannot run here (a network namespace whose
    loopback it takes down and up); None when it can."""
    try:
        tried = subprocess.run(
            ["unshare", "--net", "ip", "link", "set", "lo", "down"],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError as missing:
        return f"{missing.filename} is not installed (apt-get install util-linux iproute2)"
    if tried.returncode != 0:
        return (
            "no network namespace of its own can be made and changed here (needs root and "
            f"iproute2): {tried.stderr.strip()}"
        )
    return why_not_here()


def test_a_server_gone_silent_mid_call_is_noticed_and_nothing_is_half_saved() -> None:
    """The server's host lost, a cable pulled, a firewall dropping packets: no reset, no
    goodbye. The finish in flight ends as "does not answer; nothing was saved" instead of
    "Saving..." for the system's 15 minutes; the database holds all of it or none of it;
    the same engine claims and finishes once the network is back; the change watch's idle
    connection is found dead too, and connects again. (The scenario runs in a network of
    its own, as root: tests/storage/silent_network.py.)"""
    reason = why_no_network_of_its_own()
    if reason is not None:
        pytest.skip(reason)
    # Only a hang outlasts this: the scenario's own waits are 90 s each at most.
    ran = subprocess.run(
        ["unshare", "--net", sys.executable, "-m", "tests.storage.silent_network"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parents[2],
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr
    seen = json.loads(ran.stdout.splitlines()[-1])
    nothing = {"attempts": 0, "locks": 1, "processed": False}
    whole = {"attempts": 1, "locks": 0, "processed": True}
    assert seen["finished"].startswith("DatabaseUnreachable: The database server ")
    assert seen["finished"].endswith(" does not answer; nothing was saved.")
    assert seen["before"] == nothing
    assert seen["after"] == nothing  # as the sentence says; never half
    assert seen["saved_again"] == whole  # the operator saves again: the lock was still theirs
    assert seen["next_call"] == whole
    assert seen["watch"].endswith(" does not answer.")  # only reading: no save to speak of


def test_a_server_reached_by_its_socket_file_and_stopped_does_not_answer(
    tmp_path: Path,
) -> None:
    """A server on the same computer, reached by its Unix socket (host=/var/run/postgresql)
    and stopped: no socket file. That is an outage to wait out, not a wrong address."""
    stopped = f"postgresql:///clinic?host={tmp_path}&port=5432"
    with pytest.raises(DatabaseUnreachable) as caught:
        open_engine(stopped).connect()
    assert str(caught.value) == f"The database server {stopped} does not answer."


@pytest.mark.parametrize(
    "args", [["export", "clients"], ["locks"], ["report"], ["lists"], ["check"]]
)
def test_a_reading_command_does_not_claim_a_save(tmp_path: Path, args: list[str]) -> None:
    """Nothing was asked to be saved, so the sentence says only that the server is silent
    (a save cut off says "nothing was saved": test_a_batch_cut_short_says_one_sentence_...)."""
    stopped = f"postgresql:///clinic?host={tmp_path}&port=5432"
    done = subprocess.run(
        [str(ringround_command()), *args, "--db", stopped],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "nothing was saved" not in done.stdout + done.stderr
    if args[0] != "check":  # check says it in its own words (storage/server_health.py)
        assert done.stderr == f"ringround: The database server {stopped} does not answer.\n"


def test_a_secure_connection_that_fails_is_named_not_a_silent_server(
    postgres_server: PostgresServer,
) -> None:
    """sslmode=verify-full, as docs/deploy-postgresql.md sets it: a missing or wrong
    certificate authority, a certificate for another name, a server without TLS are the
    address's settings to correct; the server answers, so it is no outage to wait out."""
    url = postgres_server.url("postgres") + "?sslmode=require"  # the test server has no TLS
    with pytest.raises(StorageError) as caught:
        open_engine(url).connect()
    assert not isinstance(caught.value, DatabaseUnreachable)
    assert str(caught.value) == (
        f"A secure connection to the database server {url} could not be made (server does "
        "not support SSL, but SSL was required); check the address's sslmode and "
        "sslrootcert (docs/deploy-postgresql.md, step 3)."
    )
    said = storage.postgres_connection.refused(
        psycopg.OperationalError(
            'connection failed: connection to server at "10.0.1.11", port 5432 failed: '
            'server certificate for "db1.clinic.lan" does not match host name "10.0.1.11"'
        ),
        "postgresql://ringround_app@10.0.1.11/ringround",
    )
    assert not isinstance(said, DatabaseUnreachable)
    assert '(server certificate for "db1.clinic.lan" does not match host name' in str(said)


class socket_nobody_listens_on:
    """A port of 127.0.0.1 bound (so nobody else takes it) but not listening."""

    def __enter__(self) -> int:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        return int(self._socket.getsockname()[1])

    def __exit__(self, *_exc: object) -> None:
        self._socket.close()


def test_an_empty_database_is_not_taken_for_a_clinic(postgres_url: str) -> None:
    with pytest.raises(NotADatabase, match="empty"):
        open_engine(postgres_url).connect()
    with psycopg.connect(postgres_url) as raw:
        assert raw.execute("SELECT to_regclass('clients')").fetchone() == (None,)


def test_a_server_that_only_reads_is_named_as_read_only(pg: PostgresConnection) -> None:
    """A standby (or a read-only session) refuses writes: one sentence, nothing saved."""
    pg.execute("SET default_transaction_read_only = on")
    with pytest.raises(ReadOnlyDatabase, match="read-only for you; nothing was saved"):
        add_client(pg, "Анна")
    assert not pg.in_transaction
    pg.execute("SET default_transaction_read_only = off")
    assert pg.execute("SELECT count(*) FROM clients").fetchone()[0] == 0


def test_a_role_without_the_operators_rights_is_told_so_not_read_only(
    postgres_server: PostgresServer, postgres_clinic_url: str
) -> None:
    """A login role the administrator has not yet given the operators' rights
    (docs/postgresql-roles.sql) may not even read: "read-only for you; nothing was
    saved" sent them looking for the wrong thing."""
    database = postgres_clinic_url.rsplit("/", 1)[1]
    role = f"clerk_{database}"
    postgres_server.admin(f"CREATE ROLE {role} LOGIN")
    try:
        url = postgres_clinic_url.replace("//postgres@", f"//{role}@")
        with pytest.raises(ReadOnlyDatabase) as caught:
            open_engine(url).connect()
        said = str(caught.value)
        assert "read-only" not in said
        assert said.startswith(f"Your database role may not use {url} (permission denied for ")
        assert said.endswith(
            "); an administrator gives it the operators' rights (docs/postgresql-roles.sql)."
        )
    finally:
        postgres_server.admin(f"DROP ROLE {role}")


@pytest.mark.parametrize("encoding", ["WIN1251", "LATIN1", "SQL_ASCII"])
def test_a_database_that_does_not_store_utf8_is_refused_in_one_sentence(
    postgres_server: PostgresServer, tmp_path: Path, encoding: str
) -> None:
    """A database made without ENCODING 'UTF8' (an older habit of Russian set-ups: WIN1251)
    cannot hold every name, comment and emoji: ringround stopped "because of a bug"
    (UnicodeEncodeError) while making its tables; now it says so, and check too."""
    name = postgres_server.new_database()
    postgres_server.drop_database(name)
    postgres_server.admin(
        f"CREATE DATABASE {name} ENCODING '{encoding}' LOCALE 'C' TEMPLATE template0"
    )
    url = postgres_server.url(name)
    said = (
        f"The database {url} stores text as {encoding}, which cannot hold every name and "
        "comment; ringround needs a database made with ENCODING 'UTF8' "
        "(docs/deploy-postgresql.md, step 2)."
    )
    try:
        with pytest.raises(NotADatabase) as caught:
            open_engine(url).connect(create=True)
        assert str(caught.value) == said
        assert caught.value.exit_code == EXIT_BAD_INPUT
        checked = subprocess.run(
            [str(ringround_command()), "check", "--db", url],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )
        assert checked.returncode == EXIT_BAD_INPUT, checked.stdout
        assert f"PROBLEM  {said}" in checked.stdout.splitlines()
    finally:
        postgres_server.drop_database(name)


def test_text_travels_as_utf8_whatever_the_environment_asks(
    engine: PostgresEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PGCLIENTENCODING (or a role's client_encoding) left at WIN1251: every name with a
    letter outside it failed ("has no equivalent in encoding WIN1251")."""
    monkeypatch.setenv("PGCLIENTENCODING", "WIN1251")
    conn = PostgresEngine(engine.location).connect()
    try:
        name = "Анна Ёлкина 🙂 ß ‮"
        client = add_client(conn, name)
        assert (
            conn.execute("SELECT name FROM clients WHERE id = ?", (client,)).fetchone()[0] == name
        )
    finally:
        conn.close()


def test_a_role_that_may_not_make_the_tables_is_not_told_to_bring_them_up_to_date(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    """An empty database and an operators' role, which may not make tables: it was told
    the tables need "bringing up to date", of a database that has none."""
    database = postgres_url.rsplit("/", 1)[1]
    role = f"clerk_{database}"
    postgres_server.admin(f"CREATE ROLE {role} LOGIN")
    try:
        url = postgres_url.replace("//postgres@", f"//{role}@")
        with pytest.raises(ReadOnlyDatabase) as caught:
            open_engine(url).connect(create=True)
        assert str(caught.value) == (
            f"The database {url} has no ringround tables yet, and your role may not make "
            "them; the administrator makes them as the database's owner "
            "(docs/deploy-postgresql.md, step 6)."
        )
    finally:
        postgres_server.drop_database(database)
        postgres_server.admin(f"DROP ROLE {role}")


def test_a_role_that_may_not_connect_is_told_what_check_says(
    postgres_server: PostgresServer, postgres_clinic_url: str
) -> None:
    """A database closed to everybody but the operators' role (docs/deploy-postgresql.md,
    step 2) and a login role outside it: the app and every command said "could not be
    used: permission denied for database ...", where check names the missing right and
    what to do; now both say check's sentence."""
    database = postgres_clinic_url.rsplit("/", 1)[1]
    role = f"visitor_{database}"
    postgres_server.admin(f"CREATE ROLE {role} LOGIN")
    postgres_server.admin(f"REVOKE ALL ON DATABASE {database} FROM PUBLIC")
    try:
        url = postgres_clinic_url.replace("//postgres@", f"//{role}@")
        with pytest.raises(StorageError) as caught:
            open_engine(url).connect()
        assert not isinstance(caught.value, DatabaseUnreachable)
        assert str(caught.value) == (
            f"The database server 127.0.0.1:{postgres_server.port} does not let the role "
            f"{role} connect to {database} (it lacks the CONNECT right); make it a member of "
            "the operators' role (docs/deploy-postgresql.md, step 2)."
        )
    finally:
        postgres_server.drop_database(database)
        postgres_server.admin(f"DROP ROLE {role}")


def test_an_unknown_role_is_named_not_taken_for_a_silent_server(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.url("postgres").replace("//postgres@", "//nobody_here@")
    with pytest.raises(StorageError) as caught:
        open_engine(url).connect()
    assert not isinstance(caught.value, DatabaseUnreachable)
    assert str(caught.value) == (
        f"The database server 127.0.0.1:{postgres_server.port} knows no role nobody_here; "
        "correct the address in [database] path, or create the role "
        "(docs/deploy-postgresql.md)."
    )


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("postgresql://db.example/ringround?bogus=1", "bogus"),
        ("postgresql://[db.example/ringround", "["),  # urllib: "Invalid IPv6 URL"
    ],
)
def test_an_address_libpq_cannot_read_is_bad_input(url: str, said: str) -> None:
    with pytest.raises(BadInput, match=r"not a PostgreSQL address") as caught:
        open_engine(url)
    assert caught.value.exit_code == EXIT_BAD_INPUT
    assert said in str(caught.value)


@pytest.mark.parametrize(
    ("address", "said"),
    [
        ("postgresql://postgres@127.0.0.1:99999/clinic", 'invalid port number: "99999"'),
        # psycopg looks the host up itself, and a port that is no number fails that lookup
        ("postgresql://postgres@localhost:abc/clinic", 'invalid port number: "abc"'),
        ("postgresql://postgres@127.0.0.1:5432/clinic?sslmode=bogus", '"bogus"'),
        ("postgresql://postgres@127.0.0.1:5432/clinic?connect_timeout=soon", "'soon'"),
    ],
)
def test_an_address_whose_values_libpq_refuses_is_bad_input(address: str, said: str) -> None:
    """libpq checks a port, an sslmode, a timeout only when it connects: still the address's
    fault, not a server that does not answer (which would say to wait and try again)."""
    with pytest.raises(BadInput) as caught:
        open_engine(address).connect()
    assert caught.value.exit_code == EXIT_BAD_INPUT
    sentence = str(caught.value)
    assert sentence.startswith(f"{address} is not a PostgreSQL address libpq understands: ")
    assert said in sentence
    assert "connection is bad" not in sentence
    assert "\n" not in sentence
