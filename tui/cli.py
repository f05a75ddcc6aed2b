"""The ``ringround`` command (SPEC "Command line").

Every command takes ``--db PATH`` and ``--policy PATH`` after its own name
(or before it, or from RINGROUND_DB / RINGROUND_POLICY). Without ``--db`` the
app, ``check``, ``backup``, ``export`` and ``locks`` use the policy's
[database] path; ``demo`` uses ringround-demo.db.

Exit codes: 0 success; 1 failure (including a refused ``locks --release``,
``lists close/reopen/delete``, ``lists create``, ``import call-list`` or
``report`` by someone who is not a supervisor, and ``check`` finding
problems); 2 bad input (usage, a bad policy, ``--operator`` not allowed, a
file that is not a ringround database, a CSV file to import with problems
(each listed with its line and column), a call list that does not exist, a
row that is not locked, a backup destination that is the live database or in
a missing folder); 130 interrupted. When the reader of the output goes away
(``ringround export calls | head``) the command stops quietly with 1 (click's
and Python's convention). Errors are one sentence on standard error, never a
traceback (RINGROUND_DEBUG=1 shows one for unexpected errors).
"""

from __future__ import annotations

import dataclasses
import gettext
import inspect
import io
import json
import os
import shlex
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from storage.call_lists import (
    ListInUse,
    NoSuchList,
    close_list,
    delete_list,
    find_list,
    list_summaries,
    reopen_list,
)
from storage.csv_import import KINDS as IMPORT_KINDS
from storage.csv_import import BadFile, describe_result, import_csv, parse_date, parse_moment
from storage.database import StorageError, describe, open_database
from storage.export import FILTERS, KINDS, Filter, export_csv, export_rows, iso_time
from storage.locks import NotAllowed, release_lock
from storage.policy import Policy, PolicyError, load_policy
from storage.reports import BY as REPORT_BY
from storage.reports import build_report, write_report_csv
from storage.roles import OperatorNotAllowed, is_supervisor, operator_name
from storage.rows import RowKey
from storage.sessions import Session, end_session, start_session
from tui.formats import clock_text, number, weekday_text
from tui.i18n import (
    DOMAIN,
    LOCALE_DIR,
    N_,
    _,
    choose_language,
    current_language,
    ngettext,
    set_language,
)

if TYPE_CHECKING:
    from storage.demo import DemoSummary

# The modules of demo, check and backup are imported by those commands only: the app's
# start (and its start-up time, BENCHMARKS.md) does not pay for them.

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
        policy = load_policy(self.policy_path)
        set_language(choose_language(policy))  # the policy's language, when its file sets one
        return policy


def _settings(ctx: click.Context, db: str | None, policy_path: str | None,
              operator: str | None = None) -> Settings:
    """A subcommand's own options win over those given before it (or in the environment)."""
    parent = ctx.find_object(Settings) or Settings(None, None, None)
    return Settings(db or parent.db, policy_path or parent.policy_path,
                    operator or parent.operator)


def db_options_for(db_help: str) -> Callable[[F], F]:
    """--db and --policy, as every subcommand takes them after its name; ``db_help`` is --db's."""
    def decorate(command: F) -> F:
        command = click.option(
            "--policy", "policy_path", metavar="PATH",
            help="The clinic's policy.toml (default: $RINGROUND_POLICY, else built-in "
                 "defaults).",
        )(command)
        return click.option(
            "--db", metavar="PATH",
            help=db_help,
        )(command)
    return decorate


db_options = db_options_for(N_("The database file (default: $RINGROUND_DB, else the policy's "
                                 "[database] path)."))


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


ESCAPE_DELAY_MS = 100  # Textual's own default
ESCAPE_DELAY_MAX_MS = 250


def _keep_escape_short() -> None:
    """Keep the wait that tells Escape from an arrow key's escape sequence short.

    A lone ESC byte may be the start of a key's sequence, so Textual waits
    ESCDELAY milliseconds (read once, when Textual is imported) for more bytes.
    Some profiles set ESCDELAY=1000 for curses programs, which would make Escape
    feel dead for a second: honour ESCDELAY up to ESCAPE_DELAY_MAX_MS only.
    """
    try:
        wanted = int(os.environ.get("ESCDELAY", ESCAPE_DELAY_MS))
    except ValueError:
        wanted = ESCAPE_DELAY_MS
    delay = min(max(wanted, 1), ESCAPE_DELAY_MAX_MS)
    os.environ["ESCDELAY"] = str(delay)
    constants = sys.modules.get("textual.constants")
    if constants is not None:  # already imported (tests): the parser reads it on every ESC
        constants.ESCAPE_DELAY = delay / 1000  # type: ignore[attr-defined]


def _share_new_files_with_group() -> None:
    """Clear the group bits of the umask.

    SQLite makes the -wal and -shm files with the creator's umask before it
    gives them the database's mode; with umask 022 another operator starting
    at that moment finds them read-only.
    """
    current = os.umask(0)
    os.umask(current & ~0o070)


def _run_app(db: str, policy: Policy, operator: str) -> int:
    """Start the terminal app (imported only now: the other commands do not need Textual)."""
    _keep_escape_short()
    _share_new_files_with_group()
    from tui.app import run_app

    return run_app(db, policy, operator, is_supervisor(policy, operator))


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
    return ", ".join(weekday_text(day) for day in summary.confirmation_days)


def _described(summary: DemoSummary) -> str:
    s = summary
    return _("{clients}, {appointments} to confirm for {days}, {lists} with {calls}, "
             "{tasks}").format(
        clients=ngettext("{count} client", "{count} clients", s.clients).format(
            count=number(s.clients)),
        appointments=ngettext("{count} appointment", "{count} appointments",
                              s.to_confirm).format(count=number(s.to_confirm)),
        days=_days(s),
        lists=ngettext("{count} call list", "{count} call lists", s.call_lists).format(
            count=number(s.call_lists)),
        calls=ngettext("{count} pending call", "{count} pending calls", s.pending_items).format(
            count=number(s.pending_items)),
        tasks=ngettext("{count} task due", "{count} tasks due", s.open_tasks).format(
            count=number(s.open_tasks)))


def _open_hint(path: str, settings: Settings) -> str:
    words = ["ringround", "--db", path]
    if settings.policy_path:
        words += ["--policy", settings.policy_path]
    return " ".join(shlex.quote(word) for word in words)


@cli.command()
@db_options_for(N_("The database file (default: $RINGROUND_DB, else ringround-demo.db)."))
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
    from storage.demo import DemoError, demo_info, demo_is_current, make_demo

    settings = _settings(ctx, db, policy_path, operator)
    # The demo's names and notes in the language the operator will see (tui.i18n).
    policy = dataclasses.replace(settings.policy(), language=current_language())
    name = operator_name(policy, settings.operator)
    path = settings.db or DEMO_FILE
    explicit = {param for param in ("clients", "seed")
                if ctx.get_parameter_source(param) is not ParameterSource.DEFAULT}
    now = int(time.time())
    with _database(path, create=True) as conn:
        info = demo_info(conn)
        if info is None:
            summary = make_demo(conn, policy, clients=clients, seed=seed, now=now)
            click.echo(_("Wrote a demo clinic to {path}: {described}.").format(
                path=path, described=_described(summary)))
        elif fresh:
            summary = make_demo(conn, policy, clients=clients, seed=seed, now=now, replace=True)
            click.echo(_("Replaced the demo clinic in {path}: {described}.").format(
                path=path, described=_described(summary)))
        elif ("clients" in explicit and clients != info.clients) or (
                "seed" in explicit and seed != info.seed):
            raise DemoError(
                _("{path} already holds a demo clinic with {clients} (seed {seed}); add --fresh "
                  "to replace it, or choose another file with --db.").format(
                    path=path, seed=info.seed, clients=ngettext(
                        "{count} client", "{count} clients", info.clients).format(
                        count=number(info.clients)))
            )
        elif not demo_is_current(info, policy, now):
            made = weekday_text(datetime.fromtimestamp(info.made_at, policy.timezone))
            summary = make_demo(conn, policy, clients=info.clients, seed=info.seed, now=now,
                                replace=True)
            click.echo(_("The demo clinic in {path} was from {made}; rebuilt it for "
                         "today: {described}.").format(
                path=path, made=made, described=_described(summary)))
        else:
            made = clock_text(datetime.fromtimestamp(info.made_at, policy.timezone))
            clients = ngettext("{count} client", "{count} clients", info.clients).format(
                count=number(info.clients))
            click.echo(_("Reusing the demo clinic in {path} ({clients}, made today at {time}); "
                         "add --fresh to start over.").format(path=path, clients=clients,
                                                              time=made))
    if no_run:
        click.echo(_("Open it with: {open_hint}").format(open_hint=_open_hint(path, settings)))
        return 0
    return _run_app(path, policy, name)


# -- check ------------------------------------------------------------------------------------

def _level(level: str) -> str:
    """A finding's level as ``check`` prints it (at most 8 letters in every language)."""
    from storage import health

    return {health.OK: _("ok"), health.WARNING: _("warning"),
            health.PROBLEM: _("PROBLEM")}[level]


@cli.command()
@db_options
@click.pass_context
def check(ctx: click.Context, db: str | None, policy_path: str | None) -> int:
    """Check the policy and the database: integrity, WAL, local disk, permissions.

    Exits 0 when there are no problems (warnings allowed), 1 with problems,
    2 when the file is not a ringround database.
    """
    from storage import health

    settings = _settings(ctx, db, policy_path)
    policy = settings.policy()
    findings = health.check(settings.db or policy.database_path, policy)
    for finding in findings:
        click.echo(f"{_level(finding.level):<8} {finding.text}")
    problems = sum(f.level == health.PROBLEM for f in findings)
    warnings = sum(f.level == health.WARNING for f in findings)
    if problems:
        click.echo(ngettext("{count} problem found.", "{count} problems found.",
                            problems).format(count=problems))
    elif warnings:
        click.echo(ngettext("No problems; {count} warning.", "No problems; {count} warnings.",
                            warnings).format(count=warnings))
    else:
        click.echo(_("All is well."))
    return health.exit_status(findings)


# -- backup -----------------------------------------------------------------------------------

@cli.command()
@click.argument("destination", metavar="DEST")
@db_options
@click.pass_context
def backup(ctx: click.Context, destination: str, db: str | None,
           policy_path: str | None) -> int:
    """Copy the database to DEST (a file, or a folder for a dated file), safely while in use.

    Uses SQLite's backup API, so operators may keep working; the copy is
    checked with PRAGMA integrity_check and only then renamed into place.
    """
    from storage.backup import backup_database

    settings = _settings(ctx, db, policy_path)
    policy = settings.policy()
    path = settings.db or policy.database_path
    made = backup_database(path, destination)
    size = made.size / 1_000_000
    click.echo(_("Backed up {source} to {destination} ({size:.1f} MB, integrity check "
                 "ok, {seconds:.1f} s).").format(
        source=made.source, destination=made.destination, size=size, seconds=made.seconds))
    return 0


# -- export -----------------------------------------------------------------------------------

@cli.command()
@click.argument("kind", type=click.Choice(KINDS), metavar="KIND")
@db_options
@click.option("--bom", is_flag=True,
              help="Start with a byte-order mark, so that Excel reads Cyrillic correctly.")
@click.option("--since", metavar="DATE",
              help="calls, audit: only those from DATE (a date, 'today', or a time) on.")
@click.option("--until", metavar="DATE",
              help="calls, audit: only those before the end of DATE (or before a time).")
@click.option("--list", "--name", "list_name", metavar="NAME",
              help="calls, audit, call-list: only those of the call list NAME.")
@click.pass_context
def export(ctx: click.Context, kind: str, db: str | None, policy_path: str | None,
           bom: bool, since: str | None, until: str | None, list_name: str | None) -> int:
    """Write KIND as CSV (UTF-8, header row) to standard output.

    KIND: clients, appointments, tasks, calls (attempts), locks, audit,
    call-list (the items of call lists).
    """
    settings = _settings(ctx, db, policy_path)
    policy = settings.policy()
    path = settings.db or policy.database_path
    takes = FILTERS.get(kind, frozenset())
    for option, value, name in (("--since", since, "since"), ("--until", until, "until"),
                                ("--list", list_name, "list_id")):
        if value is not None and name not in takes:
            which = " and ".join(k for k in KINDS if name in FILTERS.get(k, frozenset()))
            raise Failure(_("'export {kind}' takes no {option} (only {which} do).").format(
                kind=kind, option=option, which=which),
                          EXIT_BAD_INPUT)
    start = _moment_option("--since", since, policy, end=False)
    end = _moment_option("--until", until, policy, end=True)
    out = sys.stdout
    if isinstance(out, io.TextIOWrapper):
        out.reconfigure(encoding="utf-8")
    with _database(path) as conn:
        list_id = None if list_name is None else _call_list_id(conn, list_name)
        export_csv(conn, policy, kind, out, now=int(time.time()), bom=bom,
                   where=Filter(since=start, until=end, list_id=list_id))
    out.flush()
    return 0


def _moment_option(option: str, text: str | None, policy: Policy, *, end: bool) -> int | None:
    """--since / --until: a date (its start; with ``end``, the end of it) or a time."""
    if text is None:
        return None
    value = text.strip().casefold()
    today = datetime.now(policy.timezone).date()
    days = {"today": today, "yesterday": today - timedelta(days=1),
            "сегодня": today, "вчера": today - timedelta(days=1)}
    try:
        day = days[value] if value in days else parse_date(value)
    except ValueError:
        day = None
    if day is not None:
        day += timedelta(days=1 if end else 0)
        return int(datetime(day.year, day.month, day.day, tzinfo=policy.timezone).timestamp())
    try:
        return parse_moment(text, policy.timezone, date_alone=False)
    except (ValueError, OverflowError):
        raise Failure(_("{option} {text!r} is not a date or time such as 2026-11-27, "
                        "27.11.2026, 2026-11-27 10:30 or today.").format(option=option, text=text),
                      EXIT_BAD_INPUT) from None


def _call_list_id(conn: sqlite3.Connection, name: str) -> int:
    try:
        return find_list(conn, name).id
    except NoSuchList:
        raise Failure(_("There is no call list named {name!r} ('ringround lists' shows "
                        "them).").format(name=name),
                      EXIT_BAD_INPUT) from None


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
        click.echo(_("No rows are locked."))
    else:
        table = [(_("ROW"), _("CLIENT"), _("OPERATOR"), _("SESSION"), _("SINCE"), _("ALIVE"))] + [
            (row, client, who, session, since[:16].replace("T", " "),
             _("yes") if alive == "1" else _("no"))
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
            raise Failure(_("Row {key} is not locked.").format(key=key), EXIT_BAD_INPUT)
        if not supervisor and holder[0] != name:
            raise Failure(_("Only a supervisor may release {holder}'s lock, and {name} "
                            "is not one in the policy ({source}).").format(
                holder=holder[0], name=name, source=policy.source))
        # A short session of its own, so that the audit shows where the release came from.
        session = start_session(conn, name, int(time.time()), supervisor=supervisor)
        try:
            released_from = release_lock(conn, session, key, int(time.time()))
        except NotAllowed as error:
            raise Failure(str(error)) from None
        except LookupError:
            raise Failure(_("Row {key} is not locked.").format(key=key), EXIT_BAD_INPUT) from None
        finally:
            end_session(conn, session, int(time.time()))
    if as_json:
        click.echo(json.dumps({"released": str(key), "operator": released_from},
                              ensure_ascii=False))
    else:
        click.echo(_("Released {released_from}'s lock on {key}.").format(
            released_from=released_from, key=key))
    return 0


# -- import -----------------------------------------------------------------------------------

class _ProgressBar:
    """A rich progress bar on standard error, shown once work has taken over a moment."""

    DELAY = 0.7  # seconds

    def __init__(self, title: str) -> None:
        self.title = title
        self.started = time.monotonic()
        self.bar: Any = None
        self.tasks: dict[str, Any] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self.bar is None:
            if time.monotonic() - self.started < self.DELAY:
                return
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                TaskProgressColumn(), console=Console(stderr=True),
                                transient=True)
            self.bar.start()
        if phase not in self.tasks:
            label = {"reading": _("Reading {file}").format(file=self.title),
                     "checking": _("Checking"), "writing": _("Writing")}.get(phase, phase)
            self.tasks[phase] = self.bar.add_task(label, total=total)
        self.bar.update(self.tasks[phase], completed=done, total=total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@contextmanager
def _progress(title: str) -> Iterator[_ProgressBar | None]:
    """A progress callback when standard error is a terminal, else None."""
    if not sys.stderr.isatty():
        yield None
        return
    bar = _ProgressBar(title)
    try:
        yield bar
    finally:
        bar.close()


def _read_file(name: str) -> bytes:
    """The bytes of FILE ('-': standard input); a missing or unreadable file is bad input."""
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        with open(name, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise Failure(_("There is no file {name}.").format(name=name), EXIT_BAD_INPUT) from None
    except IsADirectoryError:
        raise Failure(_("{name} is a folder, not a CSV file.").format(name=name),
                      EXIT_BAD_INPUT) from None
    except PermissionError:
        raise Failure(_("You may not read {name} (permission denied).").format(name=name),
                      EXIT_BAD_INPUT) from None


def _import(settings: Settings, kind: str, file: str, *, list_name: str | None,
            dry_run: bool, create_only: bool = False) -> int:
    """Import FILE into the database (made if missing, only once the file imported cleanly)."""
    policy = settings.policy()
    name = operator_name(policy, settings.operator)
    supervisor = is_supervisor(policy, name)
    if kind == "call-list" and not supervisor:
        raise Failure(_("Only a supervisor may build call lists, and {name} is not one "
                        "in the policy ({source}).").format(name=name, source=policy.source))
    if kind == "call-list" and list_name is not None and not list_name.strip():
        raise Failure(_("The call list's name given with --name is empty."), EXIT_BAD_INPUT)
    if kind != "call-list" and list_name is not None:
        raise Failure(_("--name is for importing a call list, not {kind}.").format(kind=kind),
                      EXIT_BAD_INPUT)
    data = _read_file(file)
    source = _("standard input") if file == "-" else file
    path = settings.db or policy.database_path
    fresh = not os.path.exists(path)
    target = path
    if fresh:  # import into a new file beside it; it takes the name only when all went well
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise Failure(_("The folder {folder} does not exist.").format(folder=folder),
                          EXIT_BAD_INPUT)
        target = os.path.join(folder, f".{os.path.basename(path)}.import-{os.getpid()}")
    try:
        with _database(target, create=fresh) as conn, _progress(source) as progress:
            result = import_csv(conn, policy, kind, data, source=source, operator=name,
                                supervisor=supervisor, now=int(time.time()),
                                list_name=list_name, create_only=create_only,
                                dry_run=dry_run, progress=progress)
        if fresh and not dry_run:
            try:
                os.link(target, path)  # never over a database made meanwhile
            except FileExistsError:
                raise Failure(_("A database appeared at {path} during the import; "
                                "nothing was imported, run the import again.").format(
                    path=path)) from None
    except BadFile as bad:
        click.echo(f"ringround: {bad}.", err=True)
        for line in bad.details():
            click.echo(f"  {line}", err=True)
        return EXIT_BAD_INPUT
    except NotAllowed as error:
        raise Failure(str(error)) from None
    finally:
        if fresh:
            for suffix in ("", "-wal", "-shm"):
                with suppress(FileNotFoundError):
                    os.unlink(target + suffix)
    click.echo(describe_result(result))
    if fresh:
        click.echo((_("The database {path} did not exist; the import would make it.")
                    if dry_run else _("The database {path} did not exist; it was made.")).format(
            path=path))
    return 0


@cli.command("import")
@click.argument("kind", type=click.Choice(IMPORT_KINDS), metavar="KIND")
@click.argument("file", metavar="FILE.csv")
@db_options
@click.option("--name", "list_name", metavar="NAME",
              help="call-list: the list to fill (made if there is none of that name).")
@click.option("--dry-run", is_flag=True,
              help="Check the file and say what would change, changing nothing.")
@operator_option
@click.pass_context
def import_command(ctx: click.Context, kind: str, file: str, db: str | None,
                   policy_path: str | None, list_name: str | None, dry_run: bool,
                   operator: str | None) -> int:
    """Import FILE.csv ('-' for standard input) into the database.

    KIND: clients, appointments, tasks, call-list (needs --name or a list
    column, and the supervisor role). Rows with an id or external_id that is
    already there update it; others are added. A file with any problem
    changes nothing: every problem is listed with its line and column (exit
    code 2). Accepts what 'ringround export' writes; UTF-8 with or without a
    byte-order mark, separated by commas or semicolons.
    """
    settings = _settings(ctx, db, policy_path, operator)
    return _import(settings, kind, file, list_name=list_name, dry_run=dry_run)


# -- call lists -------------------------------------------------------------------------------

def _when(seconds: int | None, policy: Policy) -> str:
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, policy.timezone).strftime("%Y-%m-%d %H:%M")


def _print_table(table: list[tuple[str, ...]], right: frozenset[int] = frozenset()) -> None:
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for line in table:
        click.echo("  ".join(cell.rjust(width) if i in right else cell.ljust(width)
                             for i, (cell, width) in enumerate(zip(line, widths, strict=True))
                             ).rstrip())


@cli.group(invoke_without_command=True)
@db_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def lists(ctx: click.Context, db: str | None, policy_path: str | None, as_json: bool) -> int:
    """Show the call lists with their pending and processed items; or change one.

    'given up' items were closed without result (wrong number, do not call,
    too many attempts). Closing, reopening and deleting need the supervisor role.
    """
    settings = _settings(ctx, db, policy_path)
    ctx.obj = settings
    if ctx.invoked_subcommand is not None:
        return 0
    policy = settings.policy()
    with _database(settings.db or policy.database_path) as conn:
        found = list_summaries(conn)
    if as_json:
        click.echo(json.dumps([
            {"name": s.name, "open": s.is_open, "items": s.items, "pending": s.pending,
             "processed": s.processed, "given_up": s.given_up, "created_by": s.created_by,
             "created_at": iso_time(s.created_at, policy),
             "closed_at": iso_time(s.closed_at, policy) or None}
            for s in found], ensure_ascii=False, indent=2))
    elif not found:
        click.echo(_("There are no call lists (make one with 'ringround lists create')."))
    else:
        _print_table([(_("LIST"), _("STATE"), _("ITEMS"), _("PENDING"), _("PROCESSED"),
                       _("GIVEN UP"), _("CREATED"), _("BY"))] + [
            (s.name, _("open") if s.is_open else _("closed"), str(s.items), str(s.pending),
             str(s.processed), str(s.given_up), _when(s.created_at, policy), s.created_by)
            for s in found], right=frozenset({2, 3, 4, 5}))
    return 0


@lists.command("create")
@click.argument("name")
@click.argument("file", metavar="FILE.csv")
@db_options
@click.option("--dry-run", is_flag=True,
              help="Check the file and say what the list would hold, changing nothing.")
@operator_option
@click.pass_context
def lists_create(ctx: click.Context, name: str, file: str, db: str | None,
                 policy_path: str | None, dry_run: bool, operator: str | None) -> int:
    """Make the call list NAME from FILE.csv (as 'import call-list'; needs the supervisor role).

    The file names one client per row by client_id or client_external_id (a
    clients export will do); a note column says what the call is about.
    """
    settings = _settings(ctx, db, policy_path, operator)
    return _import(settings, "call-list", file, list_name=name, dry_run=dry_run,
                   create_only=True)


def _change_list(ctx: click.Context, db: str | None, policy_path: str | None,
                 operator: str | None, name: str, doing: str,
                 change: Callable[[sqlite3.Connection, Session, str, int], Any]) -> Any:
    """Run a supervisor's change of a call list in a short session of its own."""
    settings = _settings(ctx, db, policy_path, operator)
    policy = settings.policy()
    who = operator_name(policy, settings.operator)
    if not is_supervisor(policy, who):
        raise Failure(_("Only a supervisor may {doing} a call list, and {who} is not "
                        "one in the policy ({source}).").format(
            doing=doing, who=who, source=policy.source))
    with _database(settings.db or policy.database_path) as conn:
        _call_list_id(conn, name)  # a missing list is bad input (exit 2)
        session = start_session(conn, who, int(time.time()), supervisor=True)
        try:
            return change(conn, session, name, int(time.time()))
        except NoSuchList as error:
            raise Failure(str(error), EXIT_BAD_INPUT) from None
        except (NotAllowed, ListInUse) as error:
            raise Failure(str(error)) from None
        finally:
            end_session(conn, session, int(time.time()))


@lists.command("close")
@click.argument("name")
@db_options
@operator_option
@click.pass_context
def lists_close(ctx: click.Context, name: str, db: str | None, policy_path: str | None,
                operator: str | None) -> int:
    """Close the call list NAME: its pending items leave the work lists (supervisor)."""
    closed = _change_list(ctx, db, policy_path, operator, name, _("close"), close_list)
    click.echo(ngettext("Closed the call list {name!r}; {count} pending item will not be called.",
                        "Closed the call list {name!r}; {count} pending items will not be "
                        "called.", closed.pending).format(name=closed.name, count=closed.pending))
    return 0


@lists.command("reopen")
@click.argument("name")
@db_options
@operator_option
@click.pass_context
def lists_reopen(ctx: click.Context, name: str, db: str | None, policy_path: str | None,
                 operator: str | None) -> int:
    """Open the closed call list NAME again (supervisor)."""
    opened = _change_list(ctx, db, policy_path, operator, name, _("reopen"), reopen_list)
    click.echo(ngettext("The call list {name!r} is open; {count} pending item.",
                        "The call list {name!r} is open; {count} pending items.",
                        opened.pending).format(name=opened.name, count=opened.pending))
    return 0


@lists.command("delete")
@click.argument("name")
@db_options
@operator_option
@click.pass_context
def lists_delete(ctx: click.Context, name: str, db: str | None, policy_path: str | None,
                 operator: str | None) -> int:
    """Delete the call list NAME and its items (supervisor; only a list nobody has called)."""
    items = _change_list(ctx, db, policy_path, operator, name, _("delete"), delete_list)
    click.echo(ngettext("Deleted the call list {name!r} and its {count} item.",
                        "Deleted the call list {name!r} and its {count} items.",
                        items).format(name=name, count=items))
    return 0


# -- report -----------------------------------------------------------------------------------

@cli.command()
@db_options
@click.option("--since", metavar="DATE", default="today", show_default=True,
              help="The first day (or a time) of the period.")
@click.option("--until", metavar="DATE",
              help="The last day of the period (or a time it ends before); default: now.")
@click.option("--by", type=click.Choice(REPORT_BY), default="operator", show_default=True,
              help="One row per operator, or per work list.")
@click.option("--bom", is_flag=True,
              help="Start with a byte-order mark, so that Excel reads Cyrillic correctly.")
@operator_option
@click.pass_context
def report(ctx: click.Context, db: str | None, policy_path: str | None, since: str,
           until: str | None, by: str, bom: bool, operator: str | None) -> int:
    """Calls, outcomes, success rate and calls per hour as CSV (supervisor).

    A call counts in the period it started in. success_rate: calls whose
    outcome closes and completes the row, divided by calls. calls_per_hour:
    calls divided by active_hours, the clock hours in which each operator
    made at least one such call.
    """
    settings = _settings(ctx, db, policy_path, operator)
    policy = settings.policy()
    who = operator_name(policy, settings.operator)
    supervisor = is_supervisor(policy, who)
    if not supervisor:
        raise Failure(_("Only a supervisor may see reports, and {who} is not one in the "
                        "policy ({source}).").format(who=who, source=policy.source))
    start = _moment_option("--since", since, policy, end=False)
    end = _moment_option("--until", until, policy, end=True)
    assert start is not None
    end = int(time.time()) + 1 if end is None else end
    if end <= start:
        raise Failure(_("The report's period ends before it begins."), EXIT_BAD_INPUT)
    out = sys.stdout
    if isinstance(out, io.TextIOWrapper):
        out.reconfigure(encoding="utf-8")
    with _database(settings.db or policy.database_path) as conn:
        made = build_report(conn, policy, since=start, until=end, by=by, supervisor=supervisor)
    write_report_csv(made, policy, out, bom=bom)
    out.flush()
    return 0


# -- entry point ------------------------------------------------------------------------------

def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else text + "."


def _usage_sentence(error: click.UsageError) -> str:
    command = error.ctx.command_path if error.ctx is not None else "ringround"
    message = " ".join(error.format_message().split()).rstrip(".")
    return _("{message} (see '{command} --help').").format(message=message, command=command)


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


def _translate_help(command: click.Command) -> None:
    """Show the help of ``command`` and its subcommands in the current language.

    The help texts (docstrings, ``help=``) are written in English and are the
    msgids (tui/i18n_extract.py puts them in the catalog); the English stays
    kept on each object, so another language later starts from it again.
    """
    items: list[click.Command | click.Parameter] = [command, *command.params]
    for item in items:
        original = item.__dict__.setdefault("_help_msgid", getattr(item, "help", None))
        if original:
            item.help = _(inspect.cleandoc(original))  # type: ignore[union-attr]
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _translate_help(sub)


def _click_messages() -> None:
    """Never called: Click's own messages, listed for pybabel so that our catalog has them.

    Click translates its words with gettext's global domain, which main() sets
    to ours (the language then follows LC_ALL / LC_MESSAGES / LANG).
    """
    _("Usage:"), _("Options"), _("Commands"), _("Show this message and exit.")
    _("Show the version and exit."), _("Error: {message}"), _("Missing command.")
    _("Missing argument"), _("Missing option"), _("Missing parameter"), _("Aborted!")
    _("No such option {name!r}."), _("No such command {name!r}."), _("default: {default}")
    _("Invalid value for {param_hint}: {message}"), _("Try '{command} {option}' for help.")
    _("{value} is not in the range {range}."), _("{value!r} is not a valid {number_type}.")
    _("Option {name!r} does not take a value.")
    ngettext("{value!r} is not {choice}.", "{value!r} is not one of {choices}.", 2)
    ngettext("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)", 2)
    ngettext("Got unexpected extra argument ({args})",
             "Got unexpected extra arguments ({args})", 2)
    ngettext("Option {name!r} requires an argument.",
             "Option {name!r} requires {nargs} arguments.", 2)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (never raises, never a traceback)."""
    # The environment's language until a command reads the policy (Settings.policy).
    set_language(choose_language(None))
    gettext.bindtextdomain(DOMAIN, LOCALE_DIR)  # Click's own words (_click_messages)
    gettext.textdomain(DOMAIN)
    _translate_help(cli)
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
            return _fail(_("ringround could not use {filename}: {reason}").format(
                filename=error.filename, reason=reason), EXIT_FAILURE)
        return _fail(_("ringround stopped because of a system error: {reason}").format(
            reason=reason), EXIT_FAILURE)
    except KeyboardInterrupt:
        return _fail("Interrupted.", EXIT_INTERRUPTED)
    except Exception as error:
        if os.environ.get("RINGROUND_DEBUG"):
            raise
        return _fail(_("ringround stopped because of an unexpected error ({kind}: {error}); "
                       "run it again with RINGROUND_DEBUG=1 to see the details").format(
            kind=type(error).__name__, error=error),
                     EXIT_FAILURE)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
