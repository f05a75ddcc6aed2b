"""``ringround copy FROM TO`` as a real process: a whole clinic moved, checked and refused.

The copy is compared with its source here independently of the command's own
checksums: every copied table, row by row in key order.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from storage.audit import verify_chain
from storage.copying import COPIED, NOT_COPIED, tables
from storage.database import open_database
from storage.engine import open_engine
from storage.locks import Claim, claim_row, finish_call
from storage.policy import default_policy
from storage.rows import RowKey
from storage.schema import migrate
from storage.sessions import end_session, start_session
from tests.command_env import command_env
from tests.database_contents import contents_at
from tests.unix_users import ringround_command


def ringround(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ringround_command()), *map(str, args)],
        capture_output=True,
        text=True,
        env=command_env(),
        cwd=cwd,
        timeout=300,
        check=False,
    )


def one_sentence(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("ringround: ") and lines[0].endswith("."), lines[0]
    return lines[0]


def rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every copied table's rows in key order, and the audit's highest id ever given."""
    conn = sqlite3.connect(path)
    try:
        found = {
            table.name: conn.execute(
                f"SELECT {', '.join(table.columns)} FROM {table.name}"
                f" ORDER BY {', '.join(table.key)}"
            ).fetchall()
            for table in tables()
        }
        found["sqlite_sequence"] = conn.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'audit'"
        ).fetchall()
        return found
    finally:
        conn.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo clinic written by the real command (made once; tests copy it, never change it)."""
    folder = tmp_path_factory.mktemp("copy-demo")
    made = ringround("demo", "--no-run", "--db", "clinic.db", "--clients", "80", cwd=folder)
    assert made.returncode == 0, made.stderr
    return folder / "clinic.db"


def test_the_copys_figures_are_written_as_russian_writes_them(demo: Path, tmp_path: Path) -> None:
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith("LC_")},
        "LANG": "ru_RU.UTF-8",
    }
    done = subprocess.run(
        [str(ringround_command()), "copy", str(demo), "copy.db"],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(
        r"База .* скопирована в copy\.db: [\d\u00a0]+ строк[а-я]* в \d+ таблиц[а-я]*, число "
        r"строк и контрольные суммы везде совпадают \(\d+,\d с\)\.",
        done.stdout.splitlines()[-1],
    ), done.stdout


def test_every_table_of_the_schema_is_copied_or_said_why_not() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    migrate(conn)
    schema = {
        name
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if not name.startswith("sqlite_")
    }
    assert schema == set(COPIED) | set(NOT_COPIED)
    assert not set(COPIED) & set(NOT_COPIED)
    assert all(table.key for table in tables())


def test_a_demo_clinic_is_copied_whole(demo: Path, tmp_path: Path) -> None:
    before = contents_at(demo)
    copied = ringround("copy", demo, "copy.db", cwd=tmp_path)
    assert copied.returncode == 0, copied.stderr
    assert copied.stderr == ""
    lines = copied.stdout.splitlines()
    assert lines[0].split() == [
        "TABLE",
        "ROWS",
        "IN",
        "FROM",
        "ROWS",
        "IN",
        "TO",
        "CHECKSUM",
        "SAME",
    ]
    table_lines = {line.split()[0]: line.split() for line in lines[1:-1]}
    assert list(table_lines) == list(COPIED)
    for name, (_, from_rows, to_rows, checksum, same) in table_lines.items():
        assert from_rows == to_rows and same == "yes" and len(checksum) == 12, name
    assert lines[-1].startswith(f"Copied {demo} to copy.db: ")
    assert "13 tables, every row count and checksum the same" in lines[-1]
    # The source is as it was; the copy holds every row of it, ids and all.
    assert contents_at(demo) == before
    source, copy = rows(demo), rows(tmp_path / "copy.db")
    assert copy == source
    assert len(source["clients"]) == 80 and source["locks"] and source["audit"]
    assert table_lines["clients"][1] == "80"
    # The copy's audit chain verifies, with the same newest entry and hash as the source's.
    checks = [ringround("check", "--db", path, cwd=tmp_path) for path in (demo, "copy.db")]
    assert [check.returncode for check in checks] == [0, 0], checks[1].stdout
    trail = [
        next(line for line in check.stdout.splitlines() if "audit trail is intact" in line)
        for check in checks
    ]
    assert trail[0].split("has the hash")[1] == trail[1].split("has the hash")[1]


def test_the_audit_trails_missing_newest_entries_stay_missing(demo: Path, tmp_path: Path) -> None:
    """Ids given and deleted at the end of FROM's trail show as missing in TO's too."""
    source = tmp_path / "cut.db"
    source.write_bytes(demo.read_bytes())
    conn = sqlite3.connect(source)
    with conn:
        conn.execute("DELETE FROM audit WHERE id = (SELECT max(id) FROM audit)")
    newest = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").fetchone()[0]
    conn.close()
    assert ringround("copy", source, "copy.db", cwd=tmp_path).returncode == 0
    check = ringround("check", "--db", "copy.db", cwd=tmp_path)
    assert check.returncode == 1
    assert f"audit entry {newest} is missing (deleted)" in check.stdout


def test_a_target_that_is_not_empty_is_refused_and_left_as_it_was(
    demo: Path, tmp_path: Path
) -> None:
    target = tmp_path / "other.db"
    made = ringround(
        "demo", "--no-run", "--db", target, "--clients", "10", "--seed", "7", cwd=tmp_path
    )
    assert made.returncode == 0
    before = contents_at(target)
    refused = ringround("copy", demo, target, cwd=tmp_path)
    assert refused.returncode == 2 and refused.stdout == ""
    assert one_sentence(refused) == (
        f"ringround: {target} is not empty (it holds settings, clients, phones, appointments, "
        "tasks, call_lists, call_list_items, sessions, call_rows, locks, attempts, audit); "
        "copy only into a new database, so that nothing in it is mixed with or lost under "
        "the copy."
    )
    assert contents_at(target) == before


def test_an_empty_database_is_a_good_target(demo: Path, tmp_path: Path) -> None:
    open_database(tmp_path / "empty.db", create=True).close()
    copied = ringround("copy", demo, "empty.db", cwd=tmp_path)
    assert copied.returncode == 0, copied.stderr
    assert rows(tmp_path / "empty.db") == rows(demo)


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (
            None,
            "There is no database at {source} (make one with 'ringround demo' or an import).",
        ),
        (
            b"This is a letter, not a database.\n" * 200,
            "{source} is damaged or is not a ringround database.",
        ),
    ],
    ids=["missing", "damaged"],
)
def test_a_source_that_is_missing_or_damaged_is_one_sentence(
    tmp_path: Path, content: bytes | None, said: str
) -> None:
    source = tmp_path / "clinic.db"
    if content is not None:
        source.write_bytes(content)
    refused = ringround("copy", source, "copy.db", cwd=tmp_path)
    assert refused.returncode == 2
    assert one_sentence(refused) == "ringround: " + said.format(source=source)
    assert not (tmp_path / "copy.db").exists()
    if content is not None:
        assert source.read_bytes() == content


@pytest.mark.parametrize("name", ["clients.csv", "policy.toml"])
def test_a_target_that_is_some_other_file_is_named_as_such(
    demo: Path, tmp_path: Path, name: str
) -> None:
    """'copy clinic.db clients.csv' said the CSV file 'is damaged or is not a ringround
    database', as if a database had been damaged; TO is simply the wrong file."""
    target = tmp_path / name
    target.write_text("name\nАнна\n", encoding="utf-8")
    refused = ringround("copy", demo, target, cwd=tmp_path)
    assert refused.returncode == 2
    assert one_sentence(refused) == (
        f"ringround: {target} exists and is not a database; copy makes a new database: "
        "give TO a name not taken yet."
    )
    assert target.read_text(encoding="utf-8") == "name\nАнна\n"


def test_a_source_with_a_damaged_page_is_refused(demo: Path, tmp_path: Path) -> None:
    source = tmp_path / "clinic.db"
    data = bytearray(demo.read_bytes())
    page = 4096
    data[3 * page : 4 * page] = b"\xff" * page  # a page in the middle, overwritten
    source.write_bytes(bytes(data))
    refused = ringround("copy", source, "copy.db", cwd=tmp_path)
    assert refused.returncode == 2
    assert "is damaged, so nothing was changed in it" in one_sentence(refused)
    assert not (tmp_path / "copy.db").exists()


def test_a_copy_is_refused_while_someone_works_on_the_source(demo: Path, tmp_path: Path) -> None:
    source = tmp_path / "clinic.db"
    source.write_bytes(demo.read_bytes())
    conn = open_database(source)
    session = start_session(conn, "marina", int(time.time()))
    try:
        refused = ringround("copy", source, "copy.db", cwd=tmp_path)
        assert refused.returncode == 1
        assert one_sentence(refused) == (
            f"ringround: marina is working in {source}; every ringround on it must stop before "
            "it is copied, or their later saves would be missing from the copy."
        )
        assert not (tmp_path / "copy.db").exists()
        end_session(conn, session, int(time.time()))
        # Once she has stopped, her ended session is copied with everything else.
        assert ringround("copy", source, "copy.db", cwd=tmp_path).returncode == 0
        assert rows(tmp_path / "copy.db") == rows(source)
    finally:
        conn.close()


def test_a_source_without_a_clinic_is_refused(tmp_path: Path) -> None:
    open_database(tmp_path / "empty.db", create=True).close()
    refused = ringround("copy", "empty.db", "copy.db", cwd=tmp_path)
    assert refused.returncode == 2
    assert one_sentence(refused) == (
        "ringround: empty.db holds no clinic yet (every table is empty); there is nothing to copy."
    )
    assert not (tmp_path / "copy.db").exists()


def test_the_same_database_twice_is_refused(demo: Path, tmp_path: Path) -> None:
    os.link(demo, tmp_path / "same.db")
    before = contents_at(demo)
    refused = ringround("copy", demo, tmp_path / "same.db", cwd=tmp_path)
    assert refused.returncode == 2
    assert "FROM and TO are the same database" in one_sentence(refused)
    assert contents_at(demo) == before


def test_a_copy_that_differs_is_rolled_back(demo: Path, tmp_path: Path) -> None:
    """A target that changes what it receives (here a trigger of its own) keeps nothing."""
    target = tmp_path / "odd.db"
    conn = open_database(target, create=True)
    conn.execute(
        "CREATE TRIGGER shout AFTER INSERT ON clients BEGIN"
        " UPDATE clients SET name = upper(name) WHERE id = NEW.id; END"
    )
    conn.close()
    refused = ringround("copy", demo, target, cwd=tmp_path)
    assert refused.returncode == 1
    assert one_sentence(refused) == (
        f"ringround: The copy in {target} differs from {demo} in clients; nothing was kept "
        f"in {target}."
    )
    clients = next(line for line in refused.stdout.splitlines() if line.startswith("clients"))
    assert clients.split()[-1] == "NO" and "≠" in clients
    assert all(not rows(target)[name] for name in COPIED)


def test_the_policy_decides_who_is_still_working(demo: Path, tmp_path: Path) -> None:
    """A session whose heartbeat is older than alive_for is gone: its app stopped (C9)."""
    source = tmp_path / "clinic.db"
    source.write_bytes(demo.read_bytes())
    conn = open_database(source)
    start_session(conn, "marina", int(time.time()) - 2 * default_policy().alive_for)
    conn.close()
    copied = ringround("copy", source, "copy.db", cwd=tmp_path)
    assert copied.returncode == 0, copied.stderr
    assert rows(tmp_path / "copy.db") == rows(source)


# -- PostgreSQL ---------------------------------------------------------------------------------


def checksums(result: subprocess.CompletedProcess[str]) -> dict[str, tuple[str, str, str]]:
    """Each table's (rows in FROM, rows in TO, checksum) as a copy printed them."""
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()[1:-1]
    return {cells[0]: (cells[1], cells[2], cells[3]) for cells in map(str.split, lines)}


def test_a_nul_that_postgresql_cannot_store_is_named_and_nothing_copied(
    demo: Path, tmp_path: Path, postgres_url: str
) -> None:
    """A file another program wrote a NUL into: the table, row and column to correct,
    exit 2, not 'could not be used: PostgreSQL text fields cannot contain NUL'."""
    source = tmp_path / "clinic.db"
    shutil.copyfile(demo, source)
    conn = sqlite3.connect(source)
    conn.execute("UPDATE clients SET notes = 'a' || char(0) || 'b' WHERE id = 7")
    conn.commit()
    conn.close()
    done = ringround("copy", source, postgres_url, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"ringround: {source} holds a NUL character in clients 7, column notes, which "
        "PostgreSQL cannot store; correct it there and copy again.\n"
    )
    back = ringround("copy", postgres_url, "back.db", cwd=tmp_path)
    assert back.returncode == 2 and "empty" in back.stderr  # nothing was kept


def test_text_that_is_not_utf8_is_named_and_nothing_copied(
    demo: Path, tmp_path: Path, postgres_url: str
) -> None:
    """Bytes that are not UTF-8 written into a text column by another program: the copy
    (and every command reading them) said "could not be used: Could not decode to UTF-8
    column 'notes' with text 'A�B'", exit 1; now the column to correct, exit 2."""
    source = tmp_path / "clinic.db"
    shutil.copyfile(demo, source)
    conn = sqlite3.connect(source)
    conn.execute("UPDATE clients SET notes = CAST(X'41FF42' AS TEXT) WHERE id = 7")
    conn.commit()
    conn.close()
    for command in (("copy", source, postgres_url), ("export", "clients", "--db", source)):
        done = ringround(*command, cwd=tmp_path)
        assert (done.returncode, done.stdout) == (2, ""), command
        assert done.stderr == (
            f"ringround: {source} holds text that is not UTF-8 in the column notes, which "
            "another program wrote there; correct it there and try again.\n"
        )
    back = ringround("copy", postgres_url, "back.db", cwd=tmp_path)
    assert back.returncode == 2 and "empty" in back.stderr  # nothing was kept


@pytest.mark.parametrize(
    ("change", "where", "found", "kept"),
    [
        (
            "UPDATE appointments SET starts_at = 'tomorrow' WHERE id = 7",
            "appointments 7, column starts_at",
            "text",
            "whole numbers",
        ),
        (
            "UPDATE appointments SET starts_at = 1.5 WHERE id = 7",
            "appointments 7, column starts_at",
            "a fraction",
            "whole numbers",
        ),
        (
            "UPDATE clients SET notes = X'00FF' WHERE id = 7",
            "clients 7, column notes",
            "binary data",
            "text",
        ),
    ],
)
def test_a_value_of_the_wrong_kind_is_named_and_nothing_copied(
    demo: Path, tmp_path: Path, postgres_url: str, change: str, where: str, found: str, kept: str
) -> None:
    """SQLite keeps whatever another program writes into a column; PostgreSQL refuses it
    ("could not be used: invalid input syntax for type bigint", naming the target), or
    rounds it (a copy that differs, without saying where): the row and column to correct."""
    source = tmp_path / "clinic.db"
    shutil.copyfile(demo, source)
    conn = sqlite3.connect(source)
    conn.execute(change)
    conn.commit()
    conn.close()
    done = ringround("copy", source, postgres_url, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"ringround: {source} holds {found} in {where}, where PostgreSQL keeps only {kept}; "
        "correct it there and copy again.\n"
    )
    back = ringround("copy", postgres_url, "back.db", cwd=tmp_path)
    assert back.returncode == 2 and "empty" in back.stderr  # nothing was kept


def test_sqlite_to_postgresql_and_back_gives_the_same_clinic(
    demo: Path, tmp_path: Path, postgres_url: str
) -> None:
    there = checksums(ringround("copy", demo, postgres_url, cwd=tmp_path))
    back = checksums(ringround("copy", postgres_url, "back.db", cwd=tmp_path))
    assert there == back  # the same counts and checksums on all three databases
    assert list(there) == list(COPIED)
    assert rows(tmp_path / "back.db") == rows(demo)
    # The clinic on PostgreSQL passes check, and its audit chain verifies as the file's does.
    check = ringround("check", "--db", postgres_url, cwd=tmp_path)
    assert check.returncode == 0, check.stdout
    conn = open_engine(postgres_url).connect()
    try:
        chain = verify_chain(conn, lambda entry: str(entry.id))
    finally:
        conn.close()
    assert chain.problem is None and chain.entries == len(rows(demo)["audit"])
    assert chain.head is not None and chain.head.hash == rows(demo)["audit"][-1][-1]


def test_ids_postgresql_skipped_are_not_called_deleted_in_an_sqlite_copy(
    demo: Path, tmp_path: Path, postgres_url: str
) -> None:
    """A PostgreSQL sequence skips ids (after a crash, a switch to the standby, a failed
    save), which check there calls a warning; copied back into an SQLite file, whose count
    says every id no entry holds was deleted, they read "The audit trail was tampered
    with: audit entries 3 to 35 are missing (deleted)". The copy carries the newest
    entry's id from PostgreSQL into SQLite."""
    import psycopg

    assert ringround("copy", demo, postgres_url, cwd=tmp_path).returncode == 0
    with psycopg.connect(postgres_url, autocommit=True) as conn:  # as after a server crash
        conn.execute("SELECT setval('audit_id_seq', (SELECT max(id) FROM audit) + 32)")
    there = ringround("check", "--db", postgres_url, cwd=tmp_path)
    assert there.returncode == 0 and "were given out but hold no entry" in there.stdout
    assert ringround("copy", postgres_url, "back.db", cwd=tmp_path).returncode == 0
    back = ringround("check", "--db", "back.db", cwd=tmp_path)
    assert back.returncode == 0, back.stdout
    assert "tampered" not in back.stdout
    assert rows(tmp_path / "back.db")["audit"] == rows(demo)["audit"]


def test_a_postgresql_target_that_is_not_empty_is_refused(
    demo: Path, tmp_path: Path, postgres_url: str
) -> None:
    assert ringround("copy", demo, postgres_url, cwd=tmp_path).returncode == 0
    refused = ringround("copy", demo, postgres_url, cwd=tmp_path)
    assert refused.returncode == 2
    assert " is not empty (it holds settings, clients, " in one_sentence(refused)
    back = ringround("copy", postgres_url, "back.db", cwd=tmp_path)
    assert back.returncode == 0  # the refused copy left the first one as it was
    assert rows(tmp_path / "back.db") == rows(demo)


def test_work_goes_on_on_postgresql_after_a_copy(
    demo: Path, tmp_path: Path, postgres_url: str
) -> None:
    """The copy moved each id sequence past the copied ids: a call made there adds new rows."""
    assert ringround("copy", demo, postgres_url, cwd=tmp_path).returncode == 0
    before = rows(demo)
    engine = open_engine(postgres_url)
    conn = engine.connect()
    try:
        session = start_session(conn, "eva", engine.now())
        # The first appointment still to confirm: what an operator would call next.
        claims = (
            claim_row(
                conn,
                default_policy(),
                session,
                RowKey("appointment", int(str(row[0]))),
                engine.now(),
            )
            for row in before["appointments"]
        )
        claim = next(found for found in claims if isinstance(found, Claim))
        finish_call(conn, default_policy(), session, claim, "no-answer", "", engine.now())
        end_session(conn, session, engine.now())
    finally:
        conn.close()
    assert ringround("copy", postgres_url, "back.db", cwd=tmp_path).returncode == 0
    after = rows(tmp_path / "back.db")
    for name, grown in (("sessions", 1), ("attempts", 1), ("audit", 2)):
        assert after[name][: len(before[name])] == before[name], name
        new_ids = [row[0] for row in after[name][len(before[name]) :]]
        first = (
            len(before[name]) + 1
            if name != "audit"
            else int(str(before["sqlite_sequence"][0][0])) + 1
        )
        assert new_ids == list(range(first, first + grown)), name
    check = ringround("check", "--db", "back.db", cwd=tmp_path)
    assert check.returncode == 0, check.stdout


def test_the_demo_clinic_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    made = ringround("demo", "--no-run", "--db", postgres_url, "--clients", "80", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith(f"Wrote a demo clinic to {postgres_url}: 80 clients, ")
    assert made.stdout.splitlines()[-1] == f"Open it with: ringround --db {postgres_url}"
    again = ringround("demo", "--no-run", "--db", postgres_url, cwd=tmp_path)
    assert again.returncode == 0
    assert again.stdout.startswith(f"Reusing the demo clinic in {postgres_url} (80 clients, ")
    other = ringround("demo", "--no-run", "--db", postgres_url, "--clients", "60", cwd=tmp_path)
    assert other.returncode == 2
    assert one_sentence(other) == (
        f"ringround: {postgres_url} already holds a demo clinic with 80 clients (seed 1); add "
        "--fresh to replace it, or choose another database with --db."
    )
    # The same seed makes the same clinic on either engine, row for row.
    made = ringround("demo", "--no-run", "--db", "demo.db", "--clients", "80", cwd=tmp_path)
    assert made.returncode == 0
    on_file = rows(tmp_path / "demo.db")
    assert ringround("copy", postgres_url, "back.db", cwd=tmp_path).returncode == 0
    from_server = rows(tmp_path / "back.db")
    assert from_server.keys() == on_file.keys()
    for name in COPIED:
        # Made a moment apart: times (and, across midnight, birth dates) may differ, never
        # the counts, nor the names and phones the seed chose.
        assert len(from_server[name]) == len(on_file[name]), name
    assert [row[:3] for row in from_server["clients"]] == [row[:3] for row in on_file["clients"]]
    assert from_server["phones"] == on_file["phones"]
    check = ringround("check", "--db", postgres_url, cwd=tmp_path)
    assert check.returncode == 0, check.stdout


def test_an_operators_role_is_told_that_replacing_a_demo_is_the_owners(
    tmp_path: Path, postgres_url: str
) -> None:
    """Replacing a demo empties its audit trail, which the operators' role may not do: it
    was told "an administrator gives it the operators' rights", which it has."""
    import psycopg

    made = ringround("demo", "--no-run", "--db", postgres_url, "--clients", "50", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    role = f"clerk_{postgres_url.rsplit('/', 1)[1]}"
    # The operators' rights of docs/postgresql-roles.sql, given to one login role.
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"
        )
        conn.execute(f"REVOKE UPDATE, DELETE ON audit FROM {role}")
        conn.execute(f"GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
    try:
        clerk = postgres_url.replace("//postgres@", f"//{role}@")
        refused = ringround("demo", "--no-run", "--fresh", "--db", clerk, cwd=tmp_path)
        assert refused.returncode == 1
        assert one_sentence(refused) == (
            f"ringround: Replacing the demo clinic in {clerk} empties its audit trail, which "
            "your role may not do; run it as the database's owner (docs/deploy-postgresql.md)."
        )
        kept = ringround("demo", "--no-run", "--db", postgres_url, cwd=tmp_path)
        assert kept.stdout.startswith(f"Reusing the demo clinic in {postgres_url} (50 clients, ")
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def test_the_demo_never_replaces_a_clinic_on_postgresql(
    demo: Path, tmp_path: Path, postgres_url: str
) -> None:
    clinic = tmp_path / "clinic.db"
    clinic.write_bytes(demo.read_bytes())
    conn = sqlite3.connect(clinic)
    with conn:  # no longer marked as a demo: a clinic's own data
        conn.execute("UPDATE audit SET event = 'import' WHERE event = 'demo'")
    conn.close()
    assert ringround("copy", clinic, postgres_url, cwd=tmp_path).returncode == 0
    refused = ringround("demo", "--no-run", "--fresh", "--db", postgres_url, cwd=tmp_path)
    assert refused.returncode == 2
    assert one_sentence(refused) == (
        f"ringround: The database {postgres_url} already holds clinic data; the demo needs a "
        "new, empty database (choose one with --db)."
    )
    assert ringround("copy", postgres_url, "back.db", cwd=tmp_path).returncode == 0
    assert rows(tmp_path / "back.db") == rows(clinic)


def test_a_copy_from_postgresql_is_refused_while_someone_works_there(
    demo: Path, tmp_path: Path, postgres_url: str
) -> None:
    assert ringround("copy", demo, postgres_url, cwd=tmp_path).returncode == 0
    engine = open_engine(postgres_url)
    conn = engine.connect()
    try:
        session = start_session(conn, "marina", engine.now())
        refused = ringround("copy", postgres_url, "back.db", cwd=tmp_path)
        assert refused.returncode == 1
        assert one_sentence(refused) == (
            f"ringround: marina is working in {postgres_url}; every ringround on it must stop "
            "before it is copied, or their later saves would be missing from the copy."
        )
        assert not (tmp_path / "back.db").exists()
        end_session(conn, session, engine.now())
    finally:
        conn.close()
    assert ringround("copy", postgres_url, "back.db", cwd=tmp_path).returncode == 0


def test_a_postgresql_database_that_does_not_exist_is_one_sentence(
    demo: Path, tmp_path: Path, postgres_url: str
) -> None:
    missing = postgres_url.rsplit("/", 1)[0] + "/no_such_clinic"
    before = contents_at(demo)
    refused = ringround("copy", demo, missing, cwd=tmp_path)
    assert refused.returncode != 0
    assert "no_such_clinic" in one_sentence(refused)
    assert contents_at(demo) == before
