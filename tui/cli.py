"""The ``ringround`` command (SPEC "Command line").

Every command takes ``--db PATH`` and ``--policy PATH`` after its own name
(or before it, or from RINGROUND_DB / RINGROUND_POLICY). Without ``--db`` the
app, ``check``, ``export`` and ``locks`` use the policy's [database] path;
``demo`` uses ringround-demo.db.

Exit codes: 0 success; 1 failure (including a refused ``locks --release`` by
someone who is not a supervisor, and ``check`` finding problems); 2 bad
input (usage, a bad policy, ``--operator`` not allowed, a file that is not a
ringround database, a row that is not locked); 130 interrupted. When the
reader of the output goes away (``ringround export calls | head``) the command
stops quietly with 1 (click's and Python's convention). Errors are one
sentence on standard error, never a traceback (RINGROUND_DEBUG=1 shows one
for unexpected errors).
"""

from __future__ import annotations

import importlib
import io
import json
import os
import shlex
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from storage import health
from storage.database import StorageError, describe, open_database
from storage.demo import DemoError, DemoSummary, demo_info, demo_is_current, make_demo
from storage.export import KINDS, export_csv, export_rows
from storage.locks import NotAllowed, release_lock
from storage.policy import Policy, PolicyError, load_policy
from storage.roles import OperatorNotAllowed, is_supervisor, operator_name
from storage.rows import RowKey
from storage.sessions import end_session, start_session

DEMO_FILE = "ringround-demo.db"
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

F = TypeVar("F", bound=Callable[..., Any])


class Failure(Exception):
    """A refusal or failure worded for people, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Settings:
    db: str | None
    policy_path: str | None
    operator: str | None

    def policy(self) -> Policy:
        return load_policy(self.policy_path)


def _settings(ctx: click.Context, db: str | None, policy_path: str | None,
              operator: str | None = None) -> Settings:
    """A subcommand's own options win over those given before it (or in the environment)."""
    parent = ctx.find_object(Settings) or Settings(None, None, None)
    return Settings(db or parent.db, policy_path or parent.policy_path,
                    operator or parent.operator)


def db_options_for(db_default: str) -> Callable[[F], F]:
    """--db and --policy, as every subcommand takes them after its name."""
    def decorate(command: F) -> F:
        command = click.option(
            "--policy", "policy_path", metavar="PATH",
            help="The clinic's policy.toml (default: $RINGROUND_POLICY, else built-in "
                 "defaults).",
        )(command)
        return click.option(
            "--db", metavar="PATH",
            help=f"The database file (default: $RINGROUND_DB, else {db_default}).",
        )(command)
    return decorate


db_options = db_options_for("the policy's [database] path")


def operator_option(command: F) -> F:
    return click.option(
        "--operator", metavar="NAME",
        help="Work as this operator (only if the policy allows it; default: your login).",
    )(command)


@contextmanager
def _database(path: str, *, create: bool = False) -> Iterator[sqlite3.Connection]:
    """An open database for one command; SQLite errors become sentences naming the file."""
    conn = open_database(path, create=create)
    try:
        yield conn
    except sqlite3.Error as error:
        raise describe(error, path) from None
    finally:
        conn.close()


def _run_app(db: str, policy: Policy, operator: str) -> int:
    """Start the terminal app (imported only now: the other commands do not need Textual)."""
    try:
        app = importlib.import_module("tui.app")
    except ModuleNotFoundError as error:
        if error.name != "tui.app":
            raise
        raise Failure("The terminal screens (tui.app) are missing from this installation of "
                      "ringround; reinstall it.") from None
    supervisor = is_supervisor(policy, operator)
    return int(app.run_app(db, policy, operator, supervisor))


@click.group(invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="RINGROUND_DB", metavar="PATH",
              help="The database file (default: the policy's [database] path).")
@click.option("--policy", "policy_path", envvar="RINGROUND_POLICY", metavar="PATH",
              help="The clinic's policy.toml (default: built-in defaults).")
@operator_option
@click.version_option(package_name="ringround", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, db: str | None, policy_path: str | None,
        operator: str | None) -> int:
    """Shared mass-calling lists for clinic phone operators.

    Without a command, starts the app on the clinic's database.
    """
    settings = Settings(db, policy_path, operator)
    ctx.obj = settings
    if ctx.invoked_subcommand is not None:
        return 0
    policy = settings.policy()
    name = operator_name(policy, settings.operator)
    path = settings.db or policy.database_path
    with _database(path):  # a clear message now rather than inside the app
        pass
    return _run_app(path, policy, name)


# -- demo -------------------------------------------------------------------------------------

def _days(summary: DemoSummary) -> str:
    return ", ".join(day.strftime("%a %d %b") for day in summary.confirmation_days)


def _described(summary: DemoSummary) -> str:
    return (f"{summary.clients:,} clients, {summary.to_confirm:,} appointments to confirm for "
            f"{_days(summary)}, {summary.call_lists} call lists with {summary.pending_items:,} "
            f"pending calls, {summary.open_tasks:,} tasks due")


def _open_hint(path: str, settings: Settings) -> str:
    words = ["ringround", "--db", path]
    if settings.policy_path:
        words += ["--policy", settings.policy_path]
    return " ".join(shlex.quote(word) for word in words)


@cli.command()
@db_options_for(DEMO_FILE)
@click.option("--clients", type=click.IntRange(10, 1_000_000), default=300, show_default=True,
              help="How many clients the demo clinic has.")
@click.option("--seed", type=int, default=1, show_default=True,
              help="The same seed always gives the same clinic.")
@click.option("--no-run", is_flag=True, help="Only write the demo; do not start the app.")
@click.option("--fresh", is_flag=True, help="Replace an existing demo with a new one.")
@operator_option
@click.pass_context
def demo(ctx: click.Context, db: str | None, policy_path: str | None, clients: int, seed: int,
         no_run: bool, fresh: bool, operator: str | None) -> int:
    """Write a demo clinic (default file ringround-demo.db) and start the app on it.

    Run again, it starts the app on the demo already there; a demo from an
    earlier day is rebuilt so that there are always appointments to confirm.
    """
    settings = _settings(ctx, db, policy_path, operator)
    policy = settings.policy()
    name = operator_name(policy, settings.operator)
    path = settings.db or DEMO_FILE
    explicit = {param for param in ("clients", "seed")
                if ctx.get_parameter_source(param) is not ParameterSource.DEFAULT}
    now = int(time.time())
    with _database(path, create=True) as conn:
        info = demo_info(conn)
        if info is None:
            summary = make_demo(conn, policy, clients=clients, seed=seed, now=now)
            click.echo(f"Wrote a demo clinic to {path}: {_described(summary)}.")
        elif fresh:
            summary = make_demo(conn, policy, clients=clients, seed=seed, now=now, replace=True)
            click.echo(f"Replaced the demo clinic in {path}: {_described(summary)}.")
        elif ("clients" in explicit and clients != info.clients) or (
                "seed" in explicit and seed != info.seed):
            raise DemoError(
                f"{path} already holds a demo clinic with {info.clients:,} clients (seed "
                f"{info.seed}); add --fresh to replace it, or choose another file with --db."
            )
        elif not demo_is_current(info, policy, now):
            made = datetime.fromtimestamp(info.made_at, policy.timezone).strftime("%a %d %b")
            summary = make_demo(conn, policy, clients=info.clients, seed=info.seed, now=now,
                                replace=True)
            click.echo(f"The demo clinic in {path} was from {made}; rebuilt it for today: "
                       f"{_described(summary)}.")
        else:
            made = datetime.fromtimestamp(info.made_at, policy.timezone).strftime("%H:%M")
            click.echo(f"Reusing the demo clinic in {path} ({info.clients:,} clients, made "
                       f"today at {made}); add --fresh to start over.")
    if no_run:
        click.echo(f"Open it with: {_open_hint(path, settings)}")
        return 0
    return _run_app(path, policy, name)


# -- check ------------------------------------------------------------------------------------

_LABELS = {health.OK: "ok", health.WARNING: "warning", health.PROBLEM: "PROBLEM"}


@cli.command()
@db_options
@click.pass_context
def check(ctx: click.Context, db: str | None, policy_path: str | None) -> int:
    """Check the policy and the database: integrity, WAL, local disk, permissions.

    Exits 0 when there are no problems (warnings allowed), 1 with problems,
    2 when the file is not a ringround database.
    """
    settings = _settings(ctx, db, policy_path)
    policy = settings.policy()
    findings = health.check(settings.db or policy.database_path, policy)
    for finding in findings:
        click.echo(f"{_LABELS[finding.level]:<8} {finding.text}")
    problems = sum(f.level == health.PROBLEM for f in findings)
    warnings = sum(f.level == health.WARNING for f in findings)
    if problems:
        click.echo(f"{problems} problem{'s' * (problems != 1)} found.")
    elif warnings:
        click.echo(f"No problems; {warnings} warning{'s' * (warnings != 1)}.")
    else:
        click.echo("All is well.")
    return health.exit_status(findings)


# -- export -----------------------------------------------------------------------------------

@cli.command()
@click.argument("kind", type=click.Choice(KINDS), metavar="KIND")
@db_options
@click.option("--bom", is_flag=True,
              help="Start with a byte-order mark, so that Excel reads Cyrillic correctly.")
@click.pass_context
def export(ctx: click.Context, kind: str, db: str | None, policy_path: str | None,
           bom: bool) -> int:
    """Write KIND as CSV (UTF-8, header row) to standard output.

    KIND: clients, appointments, tasks, calls (attempts), locks, audit.
    """
    settings = _settings(ctx, db, policy_path)
    policy = settings.policy()
    path = settings.db or policy.database_path
    out = sys.stdout
    if isinstance(out, io.TextIOWrapper):
        out.reconfigure(encoding="utf-8")
    with _database(path) as conn:
        export_csv(conn, policy, kind, out, now=int(time.time()), bom=bom)
    out.flush()
    return 0


# -- locks ------------------------------------------------------------------------------------

@cli.command()
@db_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--release", metavar="ROW",
              help="Release the lock on ROW (e.g. appointment:12); needs the supervisor role.")
@operator_option
@click.pass_context
def locks(ctx: click.Context, db: str | None, policy_path: str | None, as_json: bool,
          release: str | None, operator: str | None) -> int:
    """List the locked rows (who is calling whom), or release one."""
    settings = _settings(ctx, db, policy_path, operator)
    policy = settings.policy()
    path = settings.db or policy.database_path
    if release is not None:
        return _release(path, policy, settings, release, as_json)
    with _database(path) as conn:
        rows = list(export_rows(conn, policy, "locks", now=int(time.time())))
    if as_json:
        click.echo(json.dumps([
            {"row": row, "client": client, "operator": who, "session": int(session),
             "since": since, "alive": alive == "1"}
            for row, client, who, session, since, alive in rows
        ], ensure_ascii=False, indent=2))
    elif not rows:
        click.echo("No rows are locked.")
    else:
        table = [("ROW", "CLIENT", "OPERATOR", "SESSION", "SINCE", "ALIVE")] + [
            (row, client, who, session, since[:16].replace("T", " "),
             "yes" if alive == "1" else "no")
            for row, client, who, session, since, alive in rows
        ]
        widths = [max(len(line[i]) for line in table) for i in range(6)]
        for line in table:
            click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths,
                                                                          strict=True)).rstrip())
    return 0


def _release(path: str, policy: Policy, settings: Settings, text: str, as_json: bool) -> int:
    try:
        key = RowKey.parse(text)
    except ValueError as error:
        raise Failure(f"{str(error)[0].upper()}{str(error)[1:]}.", EXIT_BAD_INPUT) from None
    name = operator_name(policy, settings.operator)
    supervisor = is_supervisor(policy, name)
    with _database(path) as conn:
        holder = conn.execute("SELECT operator FROM locks WHERE kind = ? AND source_id = ?",
                              (key.kind, key.source_id)).fetchone()
        if holder is None:
            raise Failure(f"Row {key} is not locked.", EXIT_BAD_INPUT)
        if not supervisor and holder[0] != name:
            raise Failure(f"Only a supervisor may release {holder[0]}'s lock, and {name} is not "
                          f"one in the policy ({policy.source}).")
        # A short session of its own, so that the audit shows where the release came from.
        session = start_session(conn, name, int(time.time()), supervisor=supervisor)
        try:
            released_from = release_lock(conn, session, key, int(time.time()))
        except NotAllowed as error:
            raise Failure(str(error)) from None
        except LookupError:
            raise Failure(f"Row {key} is not locked.", EXIT_BAD_INPUT) from None
        finally:
            end_session(conn, session, int(time.time()))
    if as_json:
        click.echo(json.dumps({"released": str(key), "operator": released_from},
                              ensure_ascii=False))
    else:
        click.echo(f"Released {released_from}'s lock on {key}.")
    return 0


# -- entry point ------------------------------------------------------------------------------

def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else text + "."


def _usage_sentence(error: click.UsageError) -> str:
    command = error.ctx.command_path if error.ctx is not None else "ringround"
    message = " ".join(error.format_message().split()).rstrip(".")
    return f"{message} (see '{command} --help')."


def _quiet_stdout() -> None:
    """After a broken pipe: send what is left to /dev/null so Python's exit stays silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


def _fail(message: str, code: int) -> int:
    click.echo(f"ringround: {_sentence(message)}", err=True)
    return code


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (never raises, never a traceback)."""
    try:
        result = cli.main(args=argv, prog_name="ringround", standalone_mode=False)
    except click.UsageError as error:
        return _fail(_usage_sentence(error), EXIT_BAD_INPUT)
    except click.Abort:  # click's form of Ctrl-C
        return _fail("Interrupted.", EXIT_INTERRUPTED)
    except click.ClickException as error:
        return _fail(error.format_message(), error.exit_code)
    except Failure as error:
        return _fail(str(error), error.code)
    except (PolicyError, OperatorNotAllowed) as error:
        return _fail(str(error), EXIT_BAD_INPUT)
    except StorageError as error:
        return _fail(str(error), EXIT_BAD_INPUT if error.bad_input else EXIT_FAILURE)
    except sqlite3.Error as error:
        stored = describe(error, "in use")
        return _fail(str(stored), EXIT_BAD_INPUT if stored.bad_input else EXIT_FAILURE)
    except BrokenPipeError:  # the reader of the output went away: stop quietly
        _quiet_stdout()
        return EXIT_FAILURE
    except OSError as error:
        reason = error.strerror or str(error)
        if error.filename:
            return _fail(f"ringround could not use {error.filename}: {reason}", EXIT_FAILURE)
        return _fail(f"ringround stopped because of a system error: {reason}", EXIT_FAILURE)
    except KeyboardInterrupt:
        return _fail("Interrupted.", EXIT_INTERRUPTED)
    except Exception as error:
        if os.environ.get("RINGROUND_DEBUG"):
            raise
        return _fail(f"ringround stopped because of an unexpected error ({type(error).__name__}: "
                     f"{error}); run it again with RINGROUND_DEBUG=1 to see the details",
                     EXIT_FAILURE)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
