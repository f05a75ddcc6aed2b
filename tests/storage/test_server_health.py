"""``ringround check`` of a database on a PostgreSQL server: what it says when it cannot work.

Each case is a real server (tests/postgres_server.py) in the state named; the
healthy database, the roles' privileges and the audit trail on PostgreSQL are
tests/e2e/test_deploy_postgresql.py's, which sets the roles up as
docs/deploy-postgresql.md does.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.postgres_cluster import PostgresServer, free_port, start_cluster, why_not_here
from storage.health import OK, PROBLEM, WARNING, Finding, exit_status
from storage.policy import Policy
from storage.schema import MIGRATIONS
from tests.postgres_server import TEST_SETTINGS
from tests.pty_app import ringround_argv


def server_findings(findings: list[Finding]) -> list[Finding]:
    """The findings after the policy's (which storage/health.py's tests cover)."""
    return [f for f in findings if "polic" not in f.text and "log" not in f.text]


def test_nothing_listening_is_named_with_its_port(
    policy: Policy, postgres_server: PostgresServer
) -> None:
    from storage import server_health

    port = free_port()
    findings = server_health.check(f"postgresql://ringround_app@127.0.0.1:{port}/clinic", policy)
    [finding] = server_findings(findings)
    assert finding.level == PROBLEM
    assert f"127.0.0.1:{port}" in finding.text
    assert "connection refused" in finding.text
    assert exit_status(findings) == 1


def test_a_stopped_server_reached_by_its_socket_is_named_with_its_folder(
    policy: Policy, tmp_path: Path
) -> None:
    from storage import server_health

    findings = server_health.check(f"postgresql:///clinic?host={tmp_path}", policy)
    [finding] = server_findings(findings)
    assert (finding.level, finding.bad_input) == (PROBLEM, False)
    assert finding.text == (
        f"Nothing answers at the socket in {tmp_path} (no socket file); start PostgreSQL "
        "there, or correct the address in [database] path."
    )
    assert exit_status(findings) == 1


def test_a_secure_connection_that_fails_is_named_as_such(
    policy: Policy, postgres_server: PostgresServer
) -> None:
    """The test server has no TLS; a certificate authority missing or for another name is
    said by libpq in the same place (storage/postgres_connection.py's tests)."""
    from storage import server_health

    findings = server_health.check(postgres_server.url("postgres") + "?sslmode=require", policy)
    [finding] = server_findings(findings)
    assert finding.level == PROBLEM
    assert finding.text == (
        f"A secure connection to 127.0.0.1:{postgres_server.port} could not be made (server "
        "does not support SSL, but SSL was required); check the address's sslmode and "
        "sslrootcert (docs/deploy-postgresql.md, step 3)."
    )


def test_a_database_the_server_does_not_have_is_bad_input(
    policy: Policy, postgres_server: PostgresServer
) -> None:
    from storage import server_health

    findings = server_health.check(postgres_server.url("no_such_clinic"), policy)
    [finding] = server_findings(findings)
    assert finding.level == PROBLEM
    assert "has no database no_such_clinic" in finding.text
    assert f"127.0.0.1:{postgres_server.port}" in finding.text
    assert exit_status(findings) == 2


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("postgresql://ringround_app@127.0.0.1:99999/clinic", 'invalid port number: "99999"'),
        ("postgresql://ringround_app@localhost:abc/clinic", 'invalid port number: "abc"'),
        (
            "postgresql://ringround_app@127.0.0.1/clinic?sslmode=bogus",
            'invalid sslmode value: "bogus"',
        ),
    ],
)
def test_an_address_libpq_refuses_is_bad_input_not_a_server_away(
    policy: Policy, url: str, said: str
) -> None:
    """libpq refuses such a value before it tries the network: the address needs correcting."""
    from storage import server_health

    findings = server_health.check(url, policy)
    [finding] = server_findings(findings)
    assert finding.level == PROBLEM and finding.bad_input
    assert finding.text == f"{url} is not a PostgreSQL address libpq understands: {said}."
    assert exit_status(findings) == 2


def test_a_role_the_server_does_not_know(policy: Policy, postgres_server: PostgresServer) -> None:
    from storage import server_health

    url = f"postgresql://nobody_here@127.0.0.1:{postgres_server.port}/postgres"
    findings = server_health.check(url, policy)
    [finding] = server_findings(findings)
    assert finding.level == PROBLEM
    assert "knows no role nobody_here" in finding.text
    assert exit_status(findings) == 1


def test_an_empty_database_is_not_yet_ringrounds(policy: Policy, postgres_url: str) -> None:
    from storage import server_health

    findings = server_health.check(postgres_url, policy)
    assert [f.level for f in server_findings(findings)][:2] == [OK, OK]  # version; primary
    assert "PostgreSQL 1" in server_findings(findings)[0].text
    last = findings[-1]
    assert last.level == PROBLEM and last.bad_input
    assert "is empty, not yet a ringround database" in last.text
    assert exit_status(findings) == 2


def test_another_programs_tables_are_left_alone(policy: Policy, postgres_url: str) -> None:
    import psycopg

    from storage import server_health

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE invoices (id int PRIMARY KEY, total numeric)")
        conn.execute("INSERT INTO invoices VALUES (1, 12.50)")
    findings = server_health.check(postgres_url, policy)
    assert "holds another program's tables" in findings[-1].text
    assert exit_status(findings) == 2
    with psycopg.connect(postgres_url) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
        rows = conn.execute("SELECT id, total FROM invoices").fetchall()
    assert tables == [("invoices",)]  # nothing created, nothing migrated
    assert [(row[0], str(row[1])) for row in rows] == [(1, "12.50")]


@pytest.mark.parametrize("full", [False, True])
def test_the_command_names_the_server_and_exits_non_zero(
    full: bool, postgres_server: PostgresServer
) -> None:
    port = free_port()
    args = ["check", "--db", f"postgresql://ringround_app@127.0.0.1:{port}/clinic"]
    done = subprocess.run(
        [*ringround_argv(), *args, *(["--full"] if full else [])],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"Nothing answers at 127.0.0.1:{port} (connection refused)" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


@pytest.fixture
def small_clinic(postgres_server: PostgresServer, postgres_url: str) -> Iterator[tuple[str, str]]:
    """A database with three of ringround's tables, made by the superuser, and a role of
    no rights of its own: (the superuser's address, the role's address). The full schema
    and the guide's roles are tests/e2e/test_deploy_postgresql.py's."""
    import psycopg
    from psycopg import sql

    database = postgres_url.rsplit("/", 1)[1]
    role = f"desk_{database}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE ringround_schema (version integer NOT NULL, application text NOT NULL)"
        )
        conn.execute("INSERT INTO ringround_schema VALUES (%s, 'ringround')", (len(MIGRATIONS),))
        conn.execute(
            "CREATE TABLE audit (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
            " at bigint NOT NULL, operator text NOT NULL, session_id bigint, event text NOT NULL,"
            " kind text, source_id bigint, client_id bigint, detail text NOT NULL DEFAULT '',"
            " prev_hash text NOT NULL, hash text NOT NULL)"
        )
        conn.execute("CREATE TABLE locks (kind text, source_id bigint)")
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(database), sql.Identifier(role)
            )
        )
    try:
        yield postgres_url, postgres_url.replace("postgresql://postgres@", f"postgresql://{role}@")
    finally:
        postgres_server.drop_database(database)
        postgres_server.admin(f"DROP ROLE IF EXISTS {role}")


def grant(url: str, *statements: str) -> None:
    import psycopg
    from psycopg import sql

    role = url.split("//", 1)[1].split("@", 1)[0]
    with psycopg.connect(url.replace(f"//{role}@", "//postgres@"), autocommit=True) as conn:
        for statement in statements:
            conn.execute(sql.SQL(statement).format(role=sql.Identifier(role)))


def test_the_rights_operators_lack_are_named_by_table(
    policy: Policy, small_clinic: tuple[str, str]
) -> None:
    from storage import server_health

    _superuser, desk = small_clinic
    findings = server_health.check(desk, policy)
    [problem] = [f.text for f in findings if f.level == PROBLEM]
    role = desk.split("//", 1)[1].split("@", 1)[0]
    assert problem.startswith(
        f"The role {role} lacks rights that operators need (audit (SELECT, INSERT), "
        "locks (SELECT, INSERT, UPDATE, DELETE), ringround_schema (SELECT), "
        "audit_id_seq (SELECT)); as the owner, run docs/postgresql-roles.sql"
    )
    assert not any("Saves to" in f.text for f in findings)  # no save could work
    assert exit_status(findings) == 1


def test_the_operators_rights_and_no_more_are_all_well(
    policy: Policy, small_clinic: tuple[str, str]
) -> None:
    from storage import server_health

    _superuser, desk = small_clinic
    grant(
        desk,
        "GRANT SELECT, INSERT, UPDATE, DELETE ON locks TO {role}",
        "GRANT SELECT, INSERT ON audit TO {role}",
        "GRANT SELECT ON ringround_schema, audit_id_seq TO {role}",
    )
    findings = server_health.check(desk, policy)
    texts = [f.text for f in findings if f.level == OK]
    assert any("may read and write the operators' tables and add to the audit" in t for t in texts)
    assert any(t.startswith("Saves to ") for t in texts)
    assert "The audit trail is empty." in texts  # verified through the shared code
    assert [f for f in findings if f.level == PROBLEM] == []
    grant(desk, "GRANT UPDATE, TRUNCATE ON audit TO {role}")
    [warning] = [f.text for f in server_health.check(desk, policy) if "audit entries" in f.text]
    assert "can change or delete audit entries (TRUNCATE, UPDATE)" in warning


def test_a_service_files_database_is_named_as_the_server_has_it(
    policy: Policy,
    postgres_server: PostgresServer,
    postgres_clinic_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An address that names a PostgreSQL service (its host, database and role in the
    service file): check called the database by the login name of whoever ran it ("The
    database root is a ringround database", "Saves to root can start")."""
    from storage import server_health

    database = postgres_clinic_url.rsplit("/", 1)[1]
    services = tmp_path / "pg_service.conf"
    services.write_text(
        f"[clinic]\nhost=127.0.0.1\nport={postgres_server.port}\ndbname={database}\n"
        "user=postgres\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("PGSERVICEFILE", str(services))
    findings = server_health.check("postgresql://?service=clinic", policy)
    texts = [f.text for f in findings if f.level == OK]
    assert f"The database {database} is a ringround database (format {len(MIGRATIONS)})." in texts
    assert any(t.startswith(f"Saves to {database} can start") for t in texts), texts


@pytest.fixture
def russian_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[PostgresServer]:
    """A server of its own whose messages are in Russian, as Debian makes a cluster on a
    machine set up in Russian. The locale is compiled into a folder of the test's own
    (LOCPATH: the system's locales stay as they are), from the definitions Debian's
    PostgreSQL brings with it (locales)."""
    reason = why_not_here()
    if reason is not None:
        pytest.skip(reason)
    locales = Path(tempfile.mkdtemp(prefix="ringround-locales-"))
    try:
        locales.chmod(0o755)  # the server's user reads it
        done = subprocess.run(
            ["localedef", "-i", "ru_RU", "-f", "UTF-8", str(locales / "ru_RU.UTF-8")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert (locales / "ru_RU.UTF-8").is_dir(), done.stderr
        monkeypatch.setenv("LOCPATH", str(locales))
        server = start_cluster({**TEST_SETTINGS, "lc_messages": "ru_RU.UTF-8"})
        try:
            yield server
        finally:
            server.remove()
    finally:
        shutil.rmtree(locales, ignore_errors=True)


def test_a_server_speaking_another_language_is_a_warning(
    policy: Policy, russian_server: PostgresServer
) -> None:
    """ringround knows a refused login by the server's English words (PostgreSQL sends no
    code with it): on a Russian server a missing database read "does not answer".
    check says so, and how to set it (docs/deploy-postgresql.md, step 1)."""
    from storage import server_health

    findings = server_health.check(russian_server.url("postgres"), policy)
    assert (
        Finding(
            WARNING,
            f"The database server 127.0.0.1:{russian_server.port} writes its messages in "
            "ru_RU.UTF-8; ringround knows a refused login (no such database, no right to it) "
            "only by its English words, and would tell operators that the server does not "
            "answer: set lc_messages = 'C.UTF-8' (docs/deploy-postgresql.md, step 1).",
        )
        in findings
    )
    russian_server.admin("ALTER DATABASE postgres SET lc_messages = 'C.UTF-8'")
    english = server_health.check(russian_server.url("postgres"), policy)
    assert not any("writes its messages in" in f.text for f in english)


def test_a_superuser_or_owner_may_change_everything_a_warning_not_a_problem(
    policy: Policy, small_clinic: tuple[str, str]
) -> None:
    from storage import server_health

    superuser, _desk = small_clinic
    findings = server_health.check(superuser, policy)
    warnings = [f.text for f in findings if f.level == WARNING and "role postgres" in f.text]
    assert warnings == [
        "The role postgres can change ringround's tables (it is a superuser): right for the "
        "owner who upgrades them, wrong for operators' sessions, which must connect as a role "
        "that cannot (docs/postgresql-roles.sql).",
        "The role postgres can change or delete audit entries (it is a superuser): right for "
        "the owner, wrong for operators' sessions, which must only add to the trail "
        "(docs/postgresql-roles.sql).",
    ]
    assert exit_status(findings) == 0


def test_a_password_in_the_address_is_refused(
    postgres_server: PostgresServer,
) -> None:
    url = f"postgresql://postgres:secret@127.0.0.1:{postgres_server.port}/postgres"
    done = subprocess.run(
        [*ringround_argv(), "check", "--db", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "A password does not belong in the database address" in done.stderr
    assert "secret" not in done.stdout + done.stderr


@pytest.fixture
def password_server() -> Iterator[PostgresServer]:
    """A cluster of its own that asks every role but its superuser for a password (scram)."""
    reason = why_not_here()
    if reason is not None:
        pytest.skip(reason)
    rules = Path(tempfile.mkdtemp(prefix="ringround-hba-"))
    rules.chmod(0o755)  # the server's user reads the rules
    hba = rules / "pg_hba.conf"
    hba.write_text(
        "host all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
        encoding="utf-8",
    )
    hba.chmod(0o644)
    server = start_cluster({**TEST_SETTINGS, "hba_file": str(hba)})
    try:
        server.admin("CREATE ROLE clerk LOGIN PASSWORD 'the-right-one'")
        yield server
    finally:
        server.remove()
        shutil.rmtree(rules, ignore_errors=True)


@pytest.mark.parametrize(
    ("pgpass", "said"),
    [
        (None, "asks for the password of the role clerk, and ringround found none"),
        ("the-wrong-one", "refused the password of the role clerk"),
    ],
)
def test_a_password_missing_or_refused_is_named(
    pgpass: str | None,
    said: str,
    password_server: PostgresServer,
    policy: Policy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from storage import server_health

    passfile = tmp_path / "pgpass"
    if pgpass is not None:
        passfile.write_text(f"*:*:*:clerk:{pgpass}\n", encoding="utf-8")
        passfile.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    monkeypatch.delenv("PGPASSWORD", raising=False)
    url = f"postgresql://clerk@127.0.0.1:{password_server.port}/postgres"
    [finding] = server_findings(server_health.check(url, policy))
    assert finding.level == PROBLEM
    assert f"The database server 127.0.0.1:{password_server.port} {said}" in finding.text
    assert "the-wrong-one" not in finding.text
    passfile.write_text("*:*:*:clerk:the-right-one\n", encoding="utf-8")
    passfile.chmod(0o600)
    reached = server_findings(server_health.check(url, policy))
    assert reached[0].text.startswith(
        f"The database server 127.0.0.1:{password_server.port} answers"
    )


def test_a_database_set_to_refuse_changes_is_a_problem(
    policy: Policy, postgres_server: PostgresServer, postgres_clinic_url: str
) -> None:
    """default_transaction_read_only, an administrator's way to freeze a database (say while
    it was copied), left on: every operator's save fails, so check may not say all is well."""
    from storage import server_health

    database = postgres_clinic_url.rsplit("/", 1)[1]
    postgres_server.admin(f"ALTER DATABASE {database} SET default_transaction_read_only = on")
    findings = server_health.check(postgres_clinic_url, policy)
    assert findings[-1] == Finding(
        PROBLEM,
        f"The database {database} refuses every change: its transactions are read-only "
        "(default_transaction_read_only is on for the server, the database or the role "
        "postgres), so operators cannot save; turn it off (ALTER DATABASE ... RESET "
        "default_transaction_read_only).",
    )
    assert exit_status(findings) == 1
    postgres_server.admin(f"ALTER DATABASE {database} RESET default_transaction_read_only")
    findings = server_health.check(postgres_clinic_url, policy)
    assert findings[-1].level == OK and exit_status(findings) == 0


def test_a_role_without_the_right_to_connect_is_named(
    policy: Policy, postgres_server: PostgresServer, postgres_clinic_url: str
) -> None:
    """docs/deploy-postgresql.md lets only the operators' role connect: a login role not
    yet made a member is refused by a server that answers, not a server out of reach."""
    from storage import server_health

    database = postgres_clinic_url.rsplit("/", 1)[1]
    role = f"newcomer_{database}"
    postgres_server.admin(f"CREATE ROLE {role} LOGIN")
    postgres_server.admin(f"REVOKE CONNECT ON DATABASE {database} FROM PUBLIC")
    try:
        url = postgres_clinic_url.replace("//postgres@", f"//{role}@")
        findings = server_health.check(url, policy)
        assert findings[-1] == Finding(
            PROBLEM,
            f"The database server 127.0.0.1:{postgres_server.port} does not let the role "
            f"{role} connect to {database} (it lacks the CONNECT right); make it a member of "
            "the operators' role (docs/deploy-postgresql.md, step 2).",
        )
        assert exit_status(findings) == 1
    finally:
        postgres_server.admin(f"DROP ROLE {role}")


def test_a_role_at_its_connection_limit_is_named(
    policy: Policy, postgres_server: PostgresServer, postgres_clinic_url: str
) -> None:
    """The server answers, and says no: a limit to raise, not a server to look for."""
    from storage import server_health

    role = "limited_" + postgres_clinic_url.rsplit("/", 1)[1]
    postgres_server.admin(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 0")
    try:
        findings = server_health.check(
            postgres_clinic_url.replace("//postgres@", f"//{role}@"), policy
        )
        assert findings[-1] == Finding(
            PROBLEM,
            f"The role {role} may open no more connections to 127.0.0.1:{postgres_server.port} "
            f"(its CONNECTION LIMIT is reached); raise it (ALTER ROLE {role} CONNECTION "
            "LIMIT ...), or find who holds them in pg_stat_activity.",
        )
    finally:
        postgres_server.admin(f"DROP ROLE {role}")


def test_a_server_out_of_connections_is_named() -> None:
    """max_connections reached: what libpq says then (a server of 300 connections is not
    filled in a test)."""
    from storage import server_health
    from storage.server_logins import Address

    where = Address("db1.clinic.lan:5432", "ringround", "ringround_app")
    finding = server_health.unreachable(
        where,
        'connection failed: connection to server at "10.0.1.11", port 5432 failed: '
        "FATAL:  sorry, too many clients already",
    )
    assert finding == Finding(
        PROBLEM,
        "The database server db1.clinic.lan:5432 takes no more connections (max_connections "
        "is reached); raise max_connections there (docs/deploy-postgresql.md, step 1), or "
        "find who holds them in pg_stat_activity.",
    )
