"""``ringround check`` for a database on a PostgreSQL server (storage/health.py checks a file).

What the check looks at, engine by engine:

- both engines: the policy, the PBX password file and the administrator's log
  (storage.health: ``policy_findings``); the version of ringround's tables;
  the audit trail's hash chain (storage.audit.verify_chain, through
  storage.health: ``audit_trail``); whether a save could start now;
- SQLite only (storage/health.py): the file's kind, its file system and the
  free space on its disk, WAL mode, SQLite's integrity check (``--full``),
  that the file holds every table, column, index and trigger of its format
  (storage/schema_parts.py), the Unix permissions of the file, its
  ``-wal``/``-shm`` and its folder, and the umask;
- PostgreSQL only (here): reaching the server (one sentence naming it and
  what failed), its version, whether it is the primary (a standby only
  reads) and how many standbys receive its changes, and what the connecting
  role may do: read and write the operators' tables and add to the audit
  trail, but not change the tables or rewrite the trail (docs/postgresql-roles.sql).

The check changes nothing: it never creates or upgrades the tables, and the
write probe takes ringround's turn to write (storage/postgres_engine.py)
inside a transaction that it rolls back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import conninfo

from storage.database import StorageError
from storage.health import (
    OK,
    PROBE_TIMEOUT_S,
    PROBLEM,
    WARNING,
    Finding,
    audit_trail,
    policy_findings,
    policy_group,
    version_finding,
)
from storage.i18n import _, ngettext
from storage.policy import Policy
from storage.postgres_connection import (
    IN_SCHEMA_PUBLIC,
    NETWORK_SILENCE,
    TEXT_AS_UTF8,
    PostgresConnection,
    address_refused,
    connection_params,
    not_utf8,
    stored_encoding,
)
from storage.postgres_schema import APPLICATION, MIGRATIONS, WRITE_LOCK
from storage.server_logins import (
    Address,
    address,
    as_tried,
    login_refused,
    secure_connection_failure,
)

OLDEST_SERVER = 13  # the oldest PostgreSQL ringround supports (docs/deploy-postgresql.md)
CONNECT_TIMEOUT_S = 5
# Tables the operators' role may only read and add to: an entry, once written, stays.
APPEND_ONLY = "audit"
# What only the owner may write: the schema's version (storage/postgres_schema.py).
OWNERS_ONLY = "ringround_schema"
ROW_RIGHTS = ("SELECT", "INSERT", "UPDATE", "DELETE")
# Rights on the audit trail that would let a role rewrite it.
REWRITING_RIGHTS = ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER")
SHOWN_GAPS = 4  # missing rights named in the finding


def check(
    location: str,
    policy: Policy,
    *,
    found: str = "",
    noted_audit: tuple[int, str] | None = None,
) -> list[Finding]:
    """Every finding about the policy (already loaded) and the database at the URL ``location``.

    ``found`` and ``noted_audit`` are as for storage.health.check.
    """
    findings = policy_findings(policy, found, policy_group(policy))
    where = address(location)
    try:
        # A server gone silent ends the check as it ends the app's connections.
        params: dict[str, Any] = {**NETWORK_SILENCE, **conninfo.conninfo_to_dict(location)}
        params.update(connect_timeout=CONNECT_TIMEOUT_S, application_name="ringround check")
        params.update(TEXT_AS_UTF8)
        params["options"] = f"{IN_SCHEMA_PUBLIC} {params.get('options', '')}".strip()
        conn = psycopg.connect(autocommit=True, **params)
    except psycopg.Error as error:
        bad_address = address_refused(error, location)
        if bad_address is not None:
            return [*findings, Finding(PROBLEM, str(bad_address), bad_input=True)]
        return [*findings, unreachable(as_tried(where, error), str(error))]
    # The database and role libpq chose (a service file or PG* variables may name them).
    where = Address(where.servers, conn.info.dbname, conn.info.user)
    try:
        # A server that stops answering mid-check ends the check, not the administrator's day.
        conn.execute(f"SET statement_timeout = {int(PROBE_TIMEOUT_S * 5000)}")
        findings += _server(conn, where)
        encoding = stored_encoding(conn)
        if encoding != "UTF8":
            return [*findings, Finding(PROBLEM, str(not_utf8(location, encoding)), bad_input=True)]
        mine = _ringrounds(conn, where)
        if mine is not None:
            return [*findings, mine]
        version = None
        if _may_read(conn, OWNERS_ONLY):  # else the privileges' finding names what is missing
            version = _schema_version(conn)
            findings.append(_version(where, version))
        rights = _privileges(conn)
        findings += rights
        if version == len(MIGRATIONS) and all(f.level != PROBLEM for f in rights):
            findings += _audit(location, policy, noted_audit)
        if not _standby(conn) and all(f.level != PROBLEM for f in rights):
            findings.append(_write_probe(conn, where))
        return findings
    except psycopg.Error as error:
        return [*findings, unreachable(where, str(error))]
    finally:
        conn.close()


def unreachable(where: Address, error: str) -> Finding:
    """One sentence naming the server and what failed, from libpq's words (``error``)."""
    text = error.lower()
    server, role, database = where.servers, where.role, where.database
    if "does not exist" in text and f'database "{database.lower()}"' in text:
        return Finding(
            PROBLEM,
            _(
                "The database server {server} has no database {database}; correct the address "
                "in [database] path, or create the database (docs/deploy-postgresql.md)."
            ).format(server=server, database=database),
            bad_input=True,
        )
    refused = login_refused(where, error)
    if refused is not None:
        return Finding(PROBLEM, refused)
    if "read-only" in text or "standby" in text:
        # Before the servers that did not answer: one that answered as a standby is the
        # one to promote (libpq names every server it tried, the standby last or not).
        sentence = _(
            "No server of {server} accepts changes (those that answer are standbys, which "
            "only read); promote one to primary (docs/deploy-postgresql.md)."
        )
    elif "connection refused" in text:
        sentence = _(
            "Nothing answers at {server} (connection refused); start PostgreSQL there, or "
            "correct the address in [database] path."
        )
    elif "on socket" in text and "no such file or directory" in text:
        sentence = _(
            "Nothing answers at {server} (no socket file); start PostgreSQL there, or "
            "correct the address in [database] path."
        )
    elif secure_connection_failure(error):
        sentence = _(
            "A secure connection to {server} could not be made ({reason}); check the "
            "address's sslmode and sslrootcert (docs/deploy-postgresql.md, step 3)."
        )
    elif "timeout expired" in text or "timed out" in text:
        sentence = _(
            "The database server {server} did not answer within {seconds} seconds; check that "
            "it runs and that the network lets this server reach it."
        )
    elif "resolve host" in text or "translate host name" in text:
        sentence = _(
            "The name of the database server in {server} is not known here; correct the "
            "address in [database] path."
        )
    else:
        sentence = _("The database server {server} could not be reached ({error}).")
    first_line = error.strip().splitlines()[0] if error.strip() else ""
    return Finding(
        PROBLEM,
        sentence.format(
            server=server,
            role=role,
            database=database,
            seconds=CONNECT_TIMEOUT_S,
            error=first_line,
            reason=secure_connection_failure(error),
        ),
    )


def _in_english(language: str) -> bool:
    """Whether a server's lc_messages gives its messages in English (C and POSIX do; ''
    leaves them to the server's environment, which check cannot see)."""
    name = language.split(".")[0]
    return name in ("", "C", "POSIX") or name == "en" or name.startswith("en_")


def _server(conn: psycopg.Connection[tuple[object, ...]], where: Address) -> list[Finding]:
    """The server's version, and whether it is the primary and who follows it."""
    number = conn.info.server_version  # 150018 for 15.18
    shown = str(conn.execute("SHOW server_version").fetchone()[0]).split()[0]  # type: ignore[index]
    here = f"{conn.info.host}:{conn.info.port}"
    findings = []
    if number // 10000 < OLDEST_SERVER:
        findings.append(
            Finding(
                PROBLEM,
                _(
                    "The database server {server} runs PostgreSQL {version}; ringround needs "
                    "{oldest} or newer: upgrade the server."
                ).format(server=here, version=shown, oldest=OLDEST_SERVER),
            )
        )
    else:
        findings.append(
            Finding(
                OK,
                _("The database server {server} answers: PostgreSQL {version}.").format(
                    server=here, version=shown
                ),
            )
        )
    language = str(conn.execute("SHOW lc_messages").fetchone()[0])  # type: ignore[index]
    if not _in_english(language):
        findings.append(
            Finding(
                WARNING,
                _(
                    "The database server {server} writes its messages in {language}; ringround "
                    "knows a refused login (no such database, no right to it) only by its "
                    "English words, and would tell operators that the server does not answer: "
                    "set lc_messages = 'C.UTF-8' (docs/deploy-postgresql.md, step 1)."
                ).format(server=here, language=language),
            )
        )
    if _standby(conn):
        findings.append(
            Finding(
                PROBLEM,
                _(
                    "{server} is a standby, which only reads, so no operator could save; name "
                    "the primary first in [database] path, with target_session_attrs=read-write "
                    "(docs/deploy-postgresql.md)."
                ).format(server=here),
            )
        )
        return findings
    row = conn.execute("SELECT count(*) FROM pg_stat_replication").fetchone()
    standbys = int(row[0]) if row is not None else 0  # type: ignore[call-overload]
    if standbys:
        findings.append(
            Finding(
                OK,
                ngettext(
                    "{server} is the primary; {count} standby receives its changes.",
                    "{server} is the primary; {count} standbys receive its changes.",
                    standbys,
                ).format(server=here, count=standbys),
            )
        )
    else:
        findings.append(
            Finding(
                OK,
                _(
                    "{server} is the primary; no standby receives its changes (one that "
                    "could take over: docs/deploy-postgresql.md)."
                ).format(server=here),
            )
        )
    return findings


def _standby(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    return bool(row is not None and row[0])


def _ringrounds(conn: psycopg.Connection[tuple[object, ...]], where: Address) -> Finding | None:
    """None when the database holds ringround's tables; else what it is (bad input)."""
    row = conn.execute("SELECT to_regclass('ringround_schema') IS NOT NULL").fetchone()
    if row is not None and row[0]:
        if not _may_read(conn, OWNERS_ONLY):
            return None  # a role without the operators' rights: the privileges' finding says so
        kinds = conn.execute("SELECT DISTINCT application FROM ringround_schema").fetchall()
        if [tuple(kind) for kind in kinds] == [(APPLICATION,)]:
            return None
    else:
        row = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')"
            " AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'"
        ).fetchone()
        if row is not None and row[0] == 0:
            return Finding(
                PROBLEM,
                _(
                    "The database {database} on {server} is empty, not yet a ringround "
                    "database; fill it under the owner role with 'ringround copy' or an "
                    "import (docs/deploy-postgresql.md), or correct [database] path."
                ).format(database=where.database, server=where.servers),
                bad_input=True,
            )
    return Finding(
        PROBLEM,
        _(
            "The database {database} on {server} holds another program's tables, not "
            "ringround's; correct the address in [database] path."
        ).format(database=where.database, server=where.servers),
        bad_input=True,
    )


def _audit(location: str, policy: Policy, noted: tuple[int, str] | None) -> list[Finding]:
    """The audit trail's chain, verified by the code SQLite's check runs (storage.audit)."""
    params = connection_params(location)
    params["application_name"] = "ringround check"
    try:
        shared = PostgresConnection(params, location)
    except StorageError as error:
        return [Finding(PROBLEM, str(error))]
    try:
        return audit_trail(shared, policy, noted)
    finally:
        shared.close()


def _may_read(conn: psycopg.Connection[tuple[object, ...]], table: str) -> bool:
    row = conn.execute("SELECT has_table_privilege(%s, 'SELECT')", (table,)).fetchone()
    return bool(row is not None and row[0])


def _schema_version(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    row = conn.execute("SELECT max(version) FROM ringround_schema").fetchone()
    return int(str(row[0])) if row is not None and row[0] is not None else 0


def _version(where: Address, version: int) -> Finding:
    current = len(MIGRATIONS)
    if version < current:
        return Finding(
            WARNING,
            _(
                "The database {database} is in an older format ({version}); operators' "
                "sessions may not change its tables, so run ringround once under the owner "
                "role to bring it to format {current} (docs/deploy-postgresql.md)."
            ).format(database=where.database, version=version, current=current),
        )
    return version_finding(_("The database {database}").format(database=where.database), version)


@dataclass(frozen=True)
class Rights:
    """What the connecting role may do with one table of ringround's."""

    table: str
    owns: bool
    granted: frozenset[str]  # of ROW_RIGHTS and REWRITING_RIGHTS


def _rights(conn: psycopg.Connection[tuple[object, ...]]) -> list[Rights]:
    checked = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "TRIGGER")
    rows = conn.execute(
        "SELECT c.relname, pg_has_role(c.relowner, 'USAGE'), "
        + ", ".join(f"has_table_privilege(c.oid, '{right}')" for right in checked)
        + " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY c.relname"
    ).fetchall()
    return [
        Rights(
            str(row[0]),
            bool(row[1]),
            frozenset(right for right, held in zip(checked, row[2:], strict=True) if held),
        )
        for row in rows
    ]


def _privileges(conn: psycopg.Connection[tuple[object, ...]]) -> list[Finding]:
    """May the connecting role do the operators' work, and no more (docs/postgresql-roles.sql)?"""
    row = conn.execute(
        "SELECT current_user, rolsuper, has_schema_privilege(current_schema(), 'CREATE'),"
        " has_sequence_privilege(pg_get_serial_sequence('audit', 'id'), 'SELECT')"
        " FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert row is not None  # the role connected, so it exists
    role, superuser, creates, reads_ids = str(row[0]), bool(row[1]), bool(row[2]), bool(row[3])
    tables = _rights(conn)
    lacking = [
        f"{rights.table} ({', '.join(missing)})"
        for rights in tables
        if (missing := [right for right in _needed(rights.table) if right not in rights.granted])
    ]
    if not reads_ids:
        lacking.append("audit_id_seq (SELECT)")
    findings = []
    if lacking:
        shown = ", ".join(lacking[:SHOWN_GAPS])
        if len(lacking) > SHOWN_GAPS:
            shown += _(" and {count} more").format(count=len(lacking) - SHOWN_GAPS)
        findings.append(
            Finding(
                PROBLEM,
                _(
                    "The role {role} lacks rights that operators need ({rights}); as the owner, "
                    "run docs/postgresql-roles.sql (docs/deploy-postgresql.md)."
                ).format(role=role, rights=shown),
            )
        )
    if superuser:
        how = _("it is a superuser")
    elif any(rights.owns for rights in tables):
        how = _("it owns them")
    elif creates:
        how = _("it may create tables")
    elif any(rights.table == OWNERS_ONLY and rights.granted - {"SELECT"} for rights in tables):
        how = _("it may change the schema's version")
    else:
        how = ""
    if how:
        findings.append(
            Finding(
                WARNING,
                _(
                    "The role {role} can change ringround's tables ({how}): right for the "
                    "owner who upgrades them, wrong for operators' sessions, which must connect "
                    "as a role that cannot (docs/postgresql-roles.sql)."
                ).format(role=role, how=how),
            )
        )
    audit = next((rights for rights in tables if rights.table == APPEND_ONLY), None)
    rewrites = sorted(set(REWRITING_RIGHTS) & audit.granted) if audit is not None else []
    if superuser or (audit is not None and (audit.owns or rewrites)):
        findings.append(
            Finding(
                WARNING,
                _(
                    "The role {role} can change or delete audit entries ({how}): right for the "
                    "owner, wrong for operators' sessions, which must only add to the trail "
                    "(docs/postgresql-roles.sql)."
                ).format(
                    role=role,
                    how=_("it is a superuser")
                    if superuser
                    else _("it owns the trail")
                    if audit is not None and audit.owns
                    else ", ".join(rewrites),
                ),
            )
        )
    if not findings:
        findings.append(
            Finding(
                OK,
                _(
                    "The role {role} may read and write the operators' tables and add to the "
                    "audit trail, and can neither change the tables nor rewrite the trail."
                ).format(role=role),
            )
        )
    return findings


def _needed(table: str) -> tuple[str, ...]:
    if table == APPEND_ONLY:
        return ("SELECT", "INSERT")
    if table == OWNERS_ONLY:
        return ("SELECT",)
    return ROW_RIGHTS


def _write_probe(conn: psycopg.Connection[tuple[object, ...]], where: Address) -> Finding:
    """Could a save start now? Takes ringround's turn to write and gives it back at once."""
    try:
        conn.execute("BEGIN")
        read_only = conn.execute("SHOW transaction_read_only").fetchone()
        if read_only is not None and read_only[0] == "on":
            return Finding(
                PROBLEM,
                _(
                    "The database {database} refuses every change: its transactions are "
                    "read-only (default_transaction_read_only is on for the server, the "
                    "database or the role {role}), so operators cannot save; turn it off "
                    "(ALTER DATABASE ... RESET default_transaction_read_only)."
                ).format(database=where.database, role=where.role),
            )
        conn.execute(f"SET LOCAL lock_timeout = {int(PROBE_TIMEOUT_S * 1000)}")
        conn.execute(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")
    except psycopg.errors.LockNotAvailable:
        return Finding(
            WARNING,
            _(
                "The database {database} is busy: a program has held ringround's turn to write "
                "for over {seconds:g} seconds, so saves wait; run the check again in a minute, "
                "and if it stays busy, look for a stuck session in pg_stat_activity."
            ).format(database=where.database, seconds=PROBE_TIMEOUT_S),
        )
    finally:
        conn.execute("ROLLBACK")
    return Finding(
        OK,
        _("Saves to {database} can start: nobody holds ringround's turn to write.").format(
            database=where.database
        ),
    )
