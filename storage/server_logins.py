"""Why a PostgreSQL server refused a connection, in the words of ``ringround check``.

A server that answered may refuse a login for reasons the administrator fixes
once: the role unknown, its password refused or not found, no CONNECT right on
the database, no line in pg_hba.conf, no connections left. Each is one
sentence naming the server, the role and the database and what to do; the
check (storage/server_health.py) and every other connection
(storage/postgres_connection.py: the app, each command) say the same one.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass

import psycopg
from psycopg import conninfo

from storage.i18n import _


@dataclass(frozen=True)
class Address:
    """Where the connection goes, as the URL (or libpq's defaults) says: for messages."""

    servers: str  # "db1:5432, db2:5432"
    database: str
    role: str


def address(location: str) -> Address:
    parts = conninfo.conninfo_to_dict(location)
    role = str(parts.get("user") or os.environ.get("PGUSER") or getpass.getuser())
    database = str(parts.get("dbname") or os.environ.get("PGDATABASE") or role)
    if parts.get("service") and not parts.get("host"):  # the hosts are in the service file
        return Address(
            _("{name} (from the service file)").format(name=parts["service"]), database, role
        )
    hosts = str(parts.get("host") or os.environ.get("PGHOST") or "localhost").split(",")
    ports = str(parts.get("port") or os.environ.get("PGPORT") or "5432").split(",")
    if len(ports) == 1:
        ports = ports * len(hosts)
    servers = ", ".join(
        _("the socket in {folder}").format(folder=host)
        if host.startswith("/")
        else f"{host}:{port or '5432'}"
        for host, port in zip(hosts, ports, strict=False)
    )
    return Address(servers, database, role)


def as_tried(where: Address, error: psycopg.Error) -> Address:
    """The role and database libpq really asked for (a service file or PG* may name them)."""
    tried = error.pgconn
    if tried is None:
        return where
    return Address(
        where.servers,
        tried.db.decode(errors="replace") or where.database,
        tried.user.decode(errors="replace") or where.role,
    )


def secure_connection_failure(text: str) -> str:
    """libpq's reason when TLS could not be set up as the address asks; else "".

    A certificate authority missing or not the server's, a certificate for another name,
    a server without TLS: the address's settings to correct, not an outage to wait out.
    (A server restarting under TLS breaks the connection with other words: "SSL SYSCALL
    error", "unexpected eof".) With several hosts libpq says why each failed, a line each.
    """
    for line in text.splitlines():
        reason = line.rpartition(" failed: ")[2].strip()
        if "certificate" in reason or "does not support SSL" in reason:
            return reason.rstrip(".")
    return ""


def login_refused(where: Address, error: str) -> str | None:
    """Why a server that answered refused the login, as one sentence naming the fix; None
    when ``error`` (libpq's words) is none of these refusals.

    The same sentence in ``ringround check`` (storage/server_health.py) and wherever else a
    connection is refused (storage/postgres_connection.py: the app and every command).
    """
    text = error.lower()
    if "does not exist" in text and f'role "{where.role.lower()}"' in text:
        sentence = _(
            "The database server {server} knows no role {role}; correct the address in "
            "[database] path, or create the role (docs/deploy-postgresql.md)."
        )
    elif "password authentication failed" in text:
        sentence = _(
            "The database server {server} refused the password of the role {role}; correct "
            "the line for it in ~/.pgpass of the user who runs ringround."
        )
    elif "no password supplied" in text:
        sentence = _(
            "The database server {server} asks for the password of the role {role}, and "
            "ringround found none; put it in ~/.pgpass of the user who runs ringround "
            "(docs/deploy-postgresql.md)."
        )
    elif "too many connections for role" in text:
        sentence = _(
            "The role {role} may open no more connections to {server} (its CONNECTION LIMIT "
            "is reached); raise it (ALTER ROLE {role} CONNECTION LIMIT ...), or find who holds "
            "them in pg_stat_activity."
        )
    elif "too many clients" in text:
        sentence = _(
            "The database server {server} takes no more connections (max_connections is "
            "reached); raise max_connections there (docs/deploy-postgresql.md, step 1), or "
            "find who holds them in pg_stat_activity."
        )
    elif "permission denied for database" in text:
        sentence = _(
            "The database server {server} does not let the role {role} connect to {database} "
            "(it lacks the CONNECT right); make it a member of the operators' role "
            "(docs/deploy-postgresql.md, step 2)."
        )
    elif "pg_hba.conf" in text:
        sentence = _(
            "The database server {server} does not let the role {role} connect to {database} "
            "from here (no line for it in pg_hba.conf); add one on the server "
            "(docs/deploy-postgresql.md)."
        )
    else:
        return None
    return sentence.format(server=where.servers, role=where.role, database=where.database)
