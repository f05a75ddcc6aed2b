"""docs/deploy-postgresql.md as written: its roles, and docs/postgresql-roles.sql, on a real server.

The guide's SQL (step 2) runs as the server's superuser, exactly as printed;
the tables are made by the guide's first import under the owner role (step
6); then the privileges file runs as the owner (step 5). The operators' role
must then claim and finish a call, and be refused every change to the tables
and every rewrite of the audit trail; ``ringround check`` must say so for
both roles. Step 7's logical copy (pg_dump, then the restore lines) must
bring back the operators' rights and the audit trail with its newest hash.
The roles are the server's, not one database's, so each test drops what the
guide made.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.postgres_cluster import PostgresServer, start_cluster, why_not_here
from tests.command_env import command_env
from tests.e2e.test_deploy_guide import blocks as deploy_blocks
from tests.postgres_server import TEST_SETTINGS
from tests.pty_app import ringround_argv

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "deploy-postgresql.md"
PRIVILEGES = ROOT / "docs" / "postgresql-roles.sql"
ROLES = ("ringround_app", "ringround_operators", "ringround_owner", "replicator")
# What the operators' role must be refused (docs/deploy-postgresql.md, step 5).
REFUSED = (
    "ALTER TABLE clients ADD COLUMN loyalty integer",
    "DROP TABLE locks",
    "CREATE TABLE evil (x integer)",
    "UPDATE audit SET detail = 'nothing happened'",
    "DELETE FROM audit",
    "TRUNCATE audit",
    "UPDATE ringround_schema SET version = 1",
    "CREATE TRIGGER hide BEFORE INSERT ON audit FOR EACH ROW"
    " EXECUTE FUNCTION suppress_redundant_updates_trigger()",
)


@dataclass(frozen=True)
class Chain:
    server: PostgresServer
    owner: str  # the owner role's address
    app: str  # the operators' sessions' address

    def psql(
        self, url: str, script: str, home: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.server.binaries / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", url],
            input=script,
            capture_output=True,
            text=True,
            env=logged_in(home),
            timeout=120,
            check=False,
        )

    def ringround(
        self, *args: str, cwd: Path | None = None, home: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*ringround_argv(), *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            env=logged_in(home),
            timeout=120,
            check=False,
        )


def logged_in(home: Path | None) -> dict[str, str]:
    """The environment of a user whose home folder (and so ~/.pgpass) is ``home``."""
    return command_env(None if home is None else {"HOME": str(home)})


def guide_sql() -> str:
    [script] = re.findall(r"```sql\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.DOTALL)
    return str(script)


def make_chain(
    server: PostgresServer, tmp_path: Path, passwords: dict[str, Path] | None = None
) -> Chain:
    """The roles and the database of the guide's step 2, its tables made as step 6 makes them.

    ``passwords``: for a server that asks for them, each role's home folder, whose
    ~/.pgpass holds the role's password (the role's name and "-secret"), which the
    role is given as step 2 gives it.
    """
    made = Chain(
        server,
        f"postgresql://ringround_owner@127.0.0.1:{server.port}/ringround",
        f"postgresql://ringround_app@127.0.0.1:{server.port}/ringround",
    )
    done = made.psql(server.url("postgres"), guide_sql())
    assert done.returncode == 0, done.stderr
    homes = passwords or {}
    for role in homes:
        server.admin(f"ALTER ROLE {role} PASSWORD '{role}-secret'")
    clients, appointments = deploy_blocks("csv")
    (tmp_path / "first-clients.csv").write_text(clients, encoding="utf-8")
    (tmp_path / "first-appointments.csv").write_text(appointments, encoding="utf-8")
    for kind, name in (
        ("clients", "first-clients.csv"),
        ("appointments", "first-appointments.csv"),
    ):
        done = made.ringround(
            "import",
            kind,
            name,
            "--db",
            made.owner,
            cwd=tmp_path,
            home=homes.get("ringround_owner"),
        )
        assert done.returncode == 0, done.stdout + done.stderr
    return made


def remove_chain(server: PostgresServer) -> None:
    """Drop what the guide made: the roles are the server's, not one database's."""
    for database in ("ringround", "ringround_restored"):
        server.admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    for role in ROLES:
        server.admin(f"DROP ROLE IF EXISTS {role}")


@pytest.fixture
def chain(postgres_server: PostgresServer, tmp_path: Path) -> Iterator[Chain]:
    """The roles and the database of the guide's step 2, its tables made as step 6 makes them."""
    try:
        yield make_chain(postgres_server, tmp_path)
    finally:
        remove_chain(postgres_server)


def test_the_operators_role_claims_and_finishes_and_can_change_nothing_else(
    chain: Chain,
) -> None:
    import psycopg

    from storage.engine import open_engine
    from storage.locks import Claim, claim_row, finish_call
    from storage.policy import default_policy
    from storage.rows import APPOINTMENT, RowKey
    from storage.sessions import start_session

    before = chain.ringround("check", "--db", chain.app)
    assert before.returncode == 1, before.stdout
    assert "The role ringround_app lacks rights that operators need" in before.stdout
    for _time in range(2):  # a second run (after an upgrade) changes nothing
        done = chain.psql(chain.owner, PRIVILEGES.read_text(encoding="utf-8"))
        assert done.returncode == 0, done.stderr

    policy = default_policy()
    engine = open_engine(chain.app)
    conn = engine.connect()
    try:
        session = start_session(conn, "anna", engine.now())
        [appointment] = conn.execute(
            "SELECT a.id FROM appointments a JOIN clients c ON c.id = a.client_id"
            " WHERE c.external_id = 'K-1001'"
        ).fetchall()
        claim = claim_row(conn, policy, session, RowKey(APPOINTMENT, appointment[0]), engine.now())
        assert isinstance(claim, Claim)
        finish_call(conn, policy, session, claim, "confirmed", "Придёт.", engine.now())
        attempts = conn.execute("SELECT operator, outcome, comment FROM attempts").fetchall()
        locks = conn.execute("SELECT count(*) FROM locks").fetchone()
        events = conn.execute("SELECT event FROM audit ORDER BY id").fetchall()
    finally:
        conn.close()
    assert [tuple(row) for row in attempts] == [("anna", "confirmed", "Придёт.")]
    assert locks is not None and locks[0] == 0
    assert [row[0] for row in events][-2:] == ["claim", "release"]  # the finish releases

    refused = []
    with psycopg.connect(chain.app, autocommit=True) as raw:
        for statement in REFUSED:
            try:
                raw.execute(statement)
            except psycopg.errors.InsufficientPrivilege:
                refused.append(statement)
        kept = raw.execute("SELECT count(*) FROM audit").fetchone()
    assert refused == list(REFUSED)
    assert kept is not None and kept[0] == len(events)

    operator = chain.ringround("check", "--db", chain.app)
    assert operator.returncode == 0, operator.stdout
    assert "The role ringround_app may read and write the operators' tables" in operator.stdout
    assert "can change" not in operator.stdout
    assert f"The audit trail is intact: {len(events)} entries;" in operator.stdout
    owner = chain.ringround("check", "--db", chain.owner)
    assert owner.returncode == 0, owner.stdout
    assert "The role ringround_owner can change ringround's tables (it owns them)" in owner.stdout
    assert "The role ringround_owner can change or delete audit entries" in owner.stdout


def test_a_table_an_upgrade_adds_is_the_operators_at_once(chain: Chain) -> None:
    done = chain.psql(chain.owner, PRIVILEGES.read_text(encoding="utf-8"))
    assert done.returncode == 0, done.stderr
    done = chain.psql(
        chain.owner,
        "CREATE TABLE reminders (id bigint GENERATED BY DEFAULT AS IDENTITY, note text);",
    )
    assert done.returncode == 0, done.stderr
    done = chain.psql(chain.app, "INSERT INTO reminders (note) VALUES ('call back'); SELECT 1;")
    assert done.returncode == 0, done.stderr


def test_an_operators_role_that_may_rewrite_the_audit_trail_is_a_warning(chain: Chain) -> None:
    done = chain.psql(chain.owner, PRIVILEGES.read_text(encoding="utf-8"))
    assert done.returncode == 0, done.stderr
    done = chain.psql(chain.owner, "GRANT UPDATE, DELETE ON audit TO ringround_operators;")
    assert done.returncode == 0, done.stderr
    checked = chain.ringround("check", "--db", chain.app)
    assert checked.returncode == 0, checked.stdout
    assert (
        "The role ringround_app can change or delete audit entries (DELETE, UPDATE)"
        in checked.stdout
    )


def guide_lines(start: str) -> list[str]:
    """The guide's command lines that begin with ``start`` (after a cron line's time and user)."""
    found = []
    for line in GUIDE.read_text(encoding="utf-8").splitlines():
        command = re.sub(r"^(?:[\d*]+ ){5}postgres |^sudo -u postgres ", "", line)
        if command != line and command.startswith(start):
            found.append(command)
    return found


def restore_last_nights_copy(chain: Chain, folder: Path) -> str:
    """Step 7's pg_dump line and restore lines, as printed but for the backup folder, run as
    the server's superuser runs them on the server; the address of ringround_restored for the
    operators' role."""
    server = {"PGHOST": "127.0.0.1", "PGPORT": str(chain.server.port), "PGUSER": "postgres"}
    environment = {**os.environ, **server, "PATH": f"{chain.server.binaries}:{os.environ['PATH']}"}
    [dump] = guide_lines("pg_dump ")
    restore = (
        guide_lines("createdb ")
        + guide_lines("psql --dbname ringround_restored")
        + guide_lines("pg_restore ")
    )
    assert len(restore) == 3
    for command in [dump.replace("\\%", "%"), *restore]:
        command = command.replace("/var/backups/postgresql", str(folder))
        command = command.replace("ringround-Mon.dump", "ringround-*.dump")
        done = subprocess.run(
            command, shell=True, env=environment, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"{command}\n{done.stderr}"
    return chain.app.rsplit("/", 1)[0] + "/ringround_restored"


def test_a_logical_copy_restores_with_the_operators_rights_and_the_audit_trail(
    chain: Chain, tmp_path: Path
) -> None:
    done = chain.psql(chain.owner, PRIVILEGES.read_text(encoding="utf-8"))
    assert done.returncode == 0, done.stderr
    before = chain.ringround("check", "--db", chain.app)
    [trail] = [line for line in before.stdout.splitlines() if "audit trail is intact" in line]

    after = chain.ringround("check", "--db", restore_last_nights_copy(chain, tmp_path))
    assert after.returncode == 0, after.stdout
    assert "The role ringround_app may read and write the operators' tables" in after.stdout
    assert trail in after.stdout.splitlines()  # the same newest entry and hash


@pytest.fixture
def password_server() -> Iterator[PostgresServer]:
    """A server of its own that asks the guide's roles for their passwords, as step 1's
    pg_hba.conf lines do (on 127.0.0.1, without TLS); its superuser still logs in freely."""
    reason = why_not_here()
    if reason is not None:
        pytest.skip(reason)
    server = start_cluster(TEST_SETTINGS)
    try:
        hba = server.data / "pg_hba.conf"
        asks = "host all ringround_owner,ringround_app 127.0.0.1/32 scram-sha-256\n"
        hba.write_text(asks + hba.read_text(encoding="utf-8"), encoding="utf-8")
        server.admin("SELECT pg_reload_conf()")
        yield server
    finally:
        server.remove()


def pgpass_line(role: str, password: str, port: int) -> str:
    """Step 3's line of ~/.pgpass, for ``role`` on this server's port."""
    [line] = re.findall(
        r"^echo '(.*)' > /root/ringround_app\.pgpass$",
        GUIDE.read_text(encoding="utf-8"),
        flags=re.MULTILINE,
    )
    mine = str(line).replace("THE-PASSWORD-OF-STEP-2", password).replace(":5432:", f":{port}:")
    return mine.replace(":ringround_app:", f":{role}:") + "\n"


def test_the_pgpass_lines_of_step_3_log_in_to_every_database_the_guide_names(
    password_server: PostgresServer, tmp_path: Path
) -> None:
    """The operators' ~/.pgpass (step 3) and root's with the owner's password (step 6): the
    import that makes the tables, the privileges file, the operator's check, and step 7's
    check of the restored copy, each with the password from its user's file alone."""
    homes = {"ringround_owner": tmp_path / "root", "ringround_app": tmp_path / "anna"}
    for role, home in homes.items():
        home.mkdir()
        (home / ".pgpass").write_text(pgpass_line(role, f"{role}-secret", password_server.port))
        (home / ".pgpass").chmod(0o600)
    try:
        chain = make_chain(password_server, tmp_path, passwords=homes)
        privileges = PRIVILEGES.read_text(encoding="utf-8")
        done = chain.psql(chain.owner, privileges, home=homes["ringround_owner"])
        assert done.returncode == 0, done.stderr
        daily = chain.ringround("check", "--db", chain.app, home=homes["ringround_app"])
        assert daily.returncode == 0, daily.stdout
        restored = restore_last_nights_copy(chain, tmp_path)
        that_night = chain.ringround("check", "--db", restored, home=homes["ringround_app"])
        assert that_night.returncode == 0, that_night.stdout
    finally:
        remove_chain(password_server)


def test_the_policys_address_names_both_servers_and_asks_for_the_primary(tmp_path: Path) -> None:
    """Step 3's [database] path: a policy ringround accepts, an address libpq reads as meant."""
    from psycopg import conninfo

    from storage.engine import is_server_address, open_engine
    from storage.policy import load_policy

    [block] = re.findall(r"```toml\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.DOTALL)
    (tmp_path / "policy.toml").write_text(str(block), encoding="utf-8")
    location = load_policy(tmp_path / "policy.toml").database_path
    assert is_server_address(location)
    assert open_engine(location).location == location  # no password in it: accepted as it is
    parts = conninfo.conninfo_to_dict(location)
    assert parts["host"] == "db1.clinic.lan,db2.clinic.lan"
    assert parts["dbname"] == "ringround" and parts["user"] == "ringround_app"
    assert parts["target_session_attrs"] == "read-write"
    assert parts["sslmode"] == "verify-full"
    assert "password" not in parts
