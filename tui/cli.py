"""The ``ringround`` command (SPEC "Command line").

Every command takes ``--db PATH`` and ``--policy PATH`` after its own name
(or before it, or from RINGROUND_DB / RINGROUND_POLICY; without either, the
policy is found as storage/policy_files.py says). Without ``--db`` the
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
import importlib
import inspect
import io
import json
import os
import re
import shlex
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from storage import admin_log
from storage.database import ReadOnlyDatabase, check_integrity, describe, open_database
from storage.errors import EXIT_BAD_INPUT, EXIT_FAILURE, BadInput, NotAllowed, RingroundError
from storage.locks import NotLocked, release_lock
from storage.names import CONTROL_CHARACTER
from storage.policy import Policy
from storage.policy_files import PolicyChoice, find_policy
from storage.roles import is_supervisor, login_name, operator_name
from storage.rows import RowKey
from storage.sessions import end_session, start_session
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
from tui.safe_text import safe_text

if TYPE_CHECKING:
    from storage.demo import DemoSummary

# The modules of demo, check, backup and locks are imported by those commands only, and
# export, import, lists and report are in tui/cli_data.py, loaded on first use (_LazyGroup):
# the app's start (and its start-up time, BENCHMARKS.md) does not pay for them.

DEMO_FILE = "ringround-demo.db"
EXIT_INTERRUPTED = 130

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Settings:
    db: str | None
    policy_path: str | None
    operator: str | None

    def policy_choice(self) -> PolicyChoice:
        """The policy file that applies (storage.policy_files: --policy, RINGROUND_POLICY, ...)."""
        return find_policy(self.policy_path, os.environ)

    def policy(self) -> Policy:
        policy = self.policy_choice().load()
        set_language(choose_language(policy))  # the policy's language, when its file sets one
        admin_log.configure(policy.log)  # check reports a log that cannot be written
        return policy


def _settings(ctx: click.Context, db: str | None, policy_path: str | None,
              operator: str | None = None) -> Settings:
    """A subcommand's own options win over those given before it (or in the environment)."""
    parent = ctx.find_object(Settings) or Settings(None, None, None)
    return Settings(db or parent.db, policy_path or parent.policy_path,
                    operator or parent.operator)


POLICY_HELP = N_("The clinic's policy.toml (default: $RINGROUND_POLICY, else "
                 "/etc/ringround/policy.toml, else ~/.config/ringround/policy.toml, else the "
                 "built-in defaults, which 'ringround policy --default' prints).")


def db_options_for(db_help: str) -> Callable[[F], F]:
    """--db and --policy, as every subcommand takes them after its name; ``db_help`` is --db's."""
    def decorate(command: F) -> F:
        command = click.option(
            "--policy", "policy_path", metavar="PATH", help=POLICY_HELP,
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


def say(line: str, *, err: bool = False) -> None:
    """Print one line for people (not a data format), with the data it quotes shown safely.

    Names, paths and file contents quoted in messages pass through
    tui/safe_text.py, so nothing in them reaches the terminal as a control
    sequence (a line break in them shows as ␊); CSV and JSON output is written
    as it is instead (click.echo).
    """
    click.echo(safe_text(line), err=err)


def print_json(value: object, indent: int | None = None) -> None:
    """JSON for scripts: the data exactly, with every control character as a \\u escape.

    json.dumps escapes C0 controls itself; C1 and bidi controls, which it would
    write as they are, are escaped here too, so that the JSON means the same and
    is as safe on a terminal as a line from say().
    """
    def escaped(found: re.Match[str]) -> str:
        character = found.group()
        # C0 controls are json.dumps's own escapes, or the line breaks of ``indent``.
        return character if character < " " else f"\\u{ord(character):04x}"

    text = json.dumps(value, ensure_ascii=False, indent=indent)
    click.echo(CONTROL_CHARACTER.sub(escaped, text))


@contextmanager
def _database(
    path: str, *, create: bool = False, reading: bool = False, writes: bool = False
) -> Iterator[sqlite3.Connection]:
    """An open database for one command; SQLite errors become sentences naming the file.

    ``reading``: the command only reads, so a user who may not write the file
    still gets a (strictly read-only) connection. ``writes``: the command may
    write, so a damaged database is refused before anything is written to it,
    with the app's own check.
    """
    conn = open_database(path, create=create, reading=reading)
    try:
        if writes:
            check_integrity(conn, path)
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


def has_terminal() -> bool:
    """Whether standard input and output are both a terminal, as the app needs."""
    try:
        return all(stream is not None and os.isatty(stream.fileno())
                   for stream in (sys.stdin, sys.stdout))
    except (OSError, ValueError, io.UnsupportedOperation):  # closed or not a real file
        return False


def _need_terminal() -> None:
    """Refuse to start the app without a terminal, before any session is written.

    ``ssh host command``, sftp and scp give the program pipes, not a terminal:
    an app started there would never see a key, never end, and count as a live
    session. Commands (check, export, import, ...) work without one.
    """
    if not has_terminal():
        admin_log.log_refused_login(login_name(), "no terminal (ssh without a tty, sftp, scp)")
        raise BadInput(_("The app needs a terminal, and standard input or output is not one: "
                         "log in with a terminal (ssh -t) or at the console; commands such as "
                         "ringround check or ringround export work without one."))


def _run_app(db: str, policy: Policy, operator: str, notice: str = "") -> int:
    """Start the terminal app (imported only now: the other commands do not need Textual).

    ``notice`` is shown on the app's first screen (the list picker).
    """
    _keep_escape_short()
    _share_new_files_with_group()
    from tui.app import run_app

    return run_app(db, policy, operator, is_supervisor(policy, operator), notice=notice)


# Click's shell completion, switched on by this environment variable (click.shell_completion).
SHELL_COMPLETION = (
    'eval "$(_RINGROUND_COMPLETE=bash_source ringround)"',
    'eval "$(_RINGROUND_COMPLETE=zsh_source ringround)"',
    "_RINGROUND_COMPLETE=fish_source ringround > ~/.config/fish/completions/ringround.fish",
)


class _LazyGroup(click.Group):
    """A group that imports some commands on first use (Click's "lazily loading subcommands").

    ``lazy_subcommands`` maps a command's name to ``"module:attribute"``; the
    module is imported when the command is run or ``--help`` lists it.
    """

    def __init__(self, *args: Any, lazy_subcommands: dict[str, str] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = dict(lazy_subcommands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_subcommands})

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """How to turn on Tab completion, with the lines to copy kept whole (not wrapped)."""
        formatter.write_paragraph()
        formatter.write_text(_(
            "Tab completes commands, options and kinds once the shell is told how: in bash "
            "add the first line below to ~/.bashrc, in zsh the second to ~/.zshrc; in fish "
            "run the third once. Each command's own --help says more."))
        formatter.write_paragraph()
        for line in SHELL_COMPLETION:
            formatter.write(f"{'':>{formatter.current_indent + 2}}{line}\n")

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_subcommands and cmd_name not in self.commands:
            module, attribute = self.lazy_subcommands[cmd_name].split(":")
            command = getattr(importlib.import_module(module), attribute)
            assert isinstance(command, click.Command), self.lazy_subcommands[cmd_name]
            _translate_help(command)  # main() translated only the commands loaded before it
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]},
             lazy_subcommands={"export": "tui.cli_data:export",
                               "import": "tui.cli_data:import_command",
                               "lists": "tui.cli_data:lists",
                               "report": "tui.cli_data:report"})
@click.option("--db", envvar="RINGROUND_DB", metavar="PATH",
              help="The database file (default: the policy's [database] path).")
@click.option("--policy", "policy_path", metavar="PATH", help=POLICY_HELP)
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
    try:
        with _database(path):  # a clear message now rather than inside the app
            pass
    except ReadOnlyDatabase:  # not in the operators' group, or the disk is read-only
        admin_log.log_refused_login(name, "the database cannot be opened for writing",
                                    db=path)
        raise
    _need_terminal()
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


@cli.command(short_help="Write a demo clinic and start the app on it.")
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
    from storage.demo import DemoError, demo_info, demo_is_current, demo_speaks, make_demo

    settings = _settings(ctx, db, policy_path, operator)
    # The demo's names and notes in the language the operator will see (tui.i18n).
    policy = dataclasses.replace(settings.policy(), language=current_language())
    if not no_run:
        _need_terminal()  # before the demo is written, not after
    name = operator_name(policy, settings.operator)
    path = settings.db or DEMO_FILE
    explicit = {param for param in ("clients", "seed")
                if ctx.get_parameter_source(param) is not ParameterSource.DEFAULT}
    now = int(time.time())
    with _database(path, create=True, writes=True) as conn:
        info = demo_info(conn)
        if info is None:
            summary = make_demo(conn, policy, clients=clients, seed=seed, now=now)
            said = _("Wrote a demo clinic to {path}: {described}.").format(
                path=path, described=_described(summary))
        elif fresh:
            summary = make_demo(conn, policy, clients=clients, seed=seed, now=now, replace=True)
            said = _("Replaced the demo clinic in {path}: {described}.").format(
                path=path, described=_described(summary))
        elif ("clients" in explicit and clients != info.clients) or (
                "seed" in explicit and seed != info.seed):
            raise DemoError(
                _("{path} already holds a demo clinic with {clients} (seed {seed}); add --fresh "
                  "to replace it, or choose another file with --db.").format(
                    path=path, seed=info.seed, clients=ngettext(
                        "{count} client", "{count} clients", info.clients).format(
                        count=number(info.clients)))
            )
        elif not demo_speaks(info, policy):
            summary = make_demo(conn, policy, clients=info.clients, seed=info.seed, now=now,
                                replace=True)
            said = _("The demo clinic in {path} was written in another language; rebuilt it "
                     "in the language of the screens: {described}.").format(
                path=path, described=_described(summary))
        elif not demo_is_current(info, policy, now):
            made = weekday_text(datetime.fromtimestamp(info.made_at, policy.timezone))
            summary = make_demo(conn, policy, clients=info.clients, seed=info.seed, now=now,
                                replace=True)
            said = _("The demo clinic in {path} was from {made}; rebuilt it for "
                     "today: {described}.").format(
                path=path, made=made, described=_described(summary))
        else:
            made = clock_text(datetime.fromtimestamp(info.made_at, policy.timezone))
            counted = ngettext("{count} client", "{count} clients", info.clients).format(
                count=number(info.clients))
            said = _("Reusing the demo clinic in {path} ({clients}, made today at {time}); "
                     "add --fresh to start over.").format(path=path, clients=counted, time=made)
    if no_run:
        say(said)
        say(_("Open it with: {open_hint}").format(open_hint=_open_hint(path, settings)))
        return 0
    # Printed now, it would be hidden by the app's screen until the app quits: the
    # list picker shows it instead, where a new user looks first.
    return _run_app(path, policy, name, notice=said)


# -- check ------------------------------------------------------------------------------------

def _level(level: str) -> str:
    """A finding's level as ``check`` prints it (at most 8 letters in every language)."""
    from storage import health

    return {health.OK: _("ok"), health.WARNING: _("warning"),
            health.PROBLEM: _("PROBLEM")}[level]


def _noted_audit_entry(ctx: click.Context, param: click.Parameter,
                       value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    entry, _colon, digest = value.partition(":")
    digest = digest.strip().lower()
    if not entry.strip().isdigit() or len(digest) != 64 or any(
            c not in "0123456789abcdef" for c in digest):
        raise click.BadParameter(_("expected ID:HASH as an earlier check printed it, such as "
                                   "1234:9f86d0…"), ctx=ctx, param=param)
    return int(entry), digest


@cli.command(short_help="Check the policy and the database; exit 0 only if all is well.")
@db_options
@click.option("--audit-entry", "noted_audit", metavar="ID:HASH", callback=_noted_audit_entry,
              help="An audit entry and its hash as an earlier check printed them; check that "
                   "the trail still holds it unchanged.")
@click.pass_context
def check(ctx: click.Context, db: str | None, policy_path: str | None,
          noted_audit: tuple[int, str] | None) -> int:
    """Check the policy, the database (integrity, WAL, disk, permissions, audit), the PBX.

    With telephony on, it logs in to the phone exchange as the app would,
    sends a ping and logs off.

    Exits 0 when there are no problems (warnings allowed), 1 with problems,
    2 when the file is not a ringround database.
    """
    from storage import health

    settings = _settings(ctx, db, policy_path)
    policy = settings.policy()
    findings = health.check(settings.db or policy.database_path, policy,
                            found=settings.policy_choice().verdict(), noted_audit=noted_audit)
    if policy.telephony.enabled:
        from telephony.exchange_check import check_exchange

        exchange = check_exchange(policy.telephony)
        if exchange is not None:
            findings.append(exchange)
    for finding in findings:
        say(f"{_level(finding.level):<8} {finding.text}")
    problems = sum(f.level == health.PROBLEM for f in findings)
    warnings = sum(f.level == health.WARNING for f in findings)
    if problems:
        say(ngettext("{count} problem found.", "{count} problems found.",
                            problems).format(count=problems))
    elif warnings:
        say(ngettext("No problems; {count} warning.", "No problems; {count} warnings.",
                            warnings).format(count=warnings))
    else:
        say(_("All is well."))
    return health.exit_status(findings)


# -- policy -----------------------------------------------------------------------------------

@cli.command("policy", short_help="Say which policy file applies, or print the default one.")
@db_options
@click.option("--default", "show_default", is_flag=True,
              help="Print the documented default policy.toml, to start a clinic's own from.")
@click.pass_context
def policy_command(ctx: click.Context, db: str | None, policy_path: str | None,
                   show_default: bool) -> int:
    """Say which policy file applies here and check it; or print the default one.

    The policy is the file given with --policy, else the one named by
    RINGROUND_POLICY, else /etc/ringround/policy.toml, else
    ringround/policy.toml in your configuration folder (~/.config), else the
    built-in defaults.
    """
    from storage.policy_files import default_text

    if show_default:
        click.echo(default_text(), nl=False)
        return 0
    settings = _settings(ctx, db, policy_path)
    settings.policy()  # a policy that is not valid stops here, with exit code 2
    say(settings.policy_choice().verdict())
    return 0


# -- backup -----------------------------------------------------------------------------------

@cli.command(short_help="A consistent copy of the database, safe while operators work.")
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
    say(_("Backed up {source} to {destination} ({size:.1f} MB, integrity check "
                 "ok, {seconds:.1f} s).").format(
        source=made.source, destination=made.destination, size=size, seconds=made.seconds))
    return 0


# -- locks ------------------------------------------------------------------------------------

@cli.command(short_help="List the locked rows (who is calling whom), or release one.")
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
    from storage.export import export_rows

    with _database(path, reading=True) as conn:
        rows = list(export_rows(conn, policy, "locks", now=int(time.time())))
    if as_json:
        print_json([
            {"row": row, "client": client, "operator": who, "session": int(session),
             "since": since, "alive": alive == "1"}
            for row, client, who, session, since, alive in rows
        ], indent=2)
    elif not rows:
        say(_("No rows are locked."))
    else:
        table = [(_("ROW"), _("CLIENT"), _("OPERATOR"), _("SESSION"), _("SINCE"), _("ALIVE"))] + [
            (row, safe_text(client), safe_text(who), session, since[:16].replace("T", " "),
             _("yes") if alive == "1" else _("no"))
            for row, client, who, session, since, alive in rows
        ]
        widths = [max(len(line[i]) for line in table) for i in range(6)]
        for line in table:
            say("  ".join(cell.ljust(width) for cell, width in zip(line, widths,
                                                                          strict=True)).rstrip())
    return 0


def _release(path: str, policy: Policy, settings: Settings, text: str, as_json: bool) -> int:
    key = RowKey.parse(text)
    name = operator_name(policy, settings.operator)
    supervisor = is_supervisor(policy, name)
    with _database(path, writes=True) as conn:
        holder = conn.execute("SELECT operator FROM locks WHERE kind = ? AND source_id = ?",
                              (key.kind, key.source_id)).fetchone()
        if holder is None:
            raise NotLocked(_("Row {key} is not locked.").format(key=key))
        if not supervisor and holder[0] != name:
            raise NotAllowed(_("Only a supervisor may release {holder}'s lock, and {name} "
                               "is not one in the policy ({source}).").format(
                holder=holder[0], name=name, source=policy.shown_source))
        # A short session of its own, so that the audit shows where the release came from.
        session = start_session(conn, name, int(time.time()), supervisor=supervisor)
        try:
            released_from = release_lock(conn, session, key, int(time.time()))
        finally:
            end_session(conn, session, int(time.time()))
    if as_json:
        print_json({"released": str(key), "operator": released_from})
    else:
        say(_("Released {released_from}'s lock on {key}.").format(
            released_from=released_from, key=key))
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
    say(f"ringround: {_sentence(message)}", err=True)
    return code


def _translate_help(command: click.Command) -> None:
    """Show the help of ``command`` and its subcommands in the current language.

    The help texts (docstrings, ``help=``) are written in English and are the
    msgids (tui/i18n_extract.py puts them in the catalog); the English stays
    kept on each object, so another language later starts from it again.
    """
    items: list[click.Command | click.Parameter] = [command, *command.params]
    for item in items:
        for attribute in ("help", "short_help"):
            original = item.__dict__.setdefault(f"_{attribute}_msgid",
                                                getattr(item, attribute, None))
            if original:
                setattr(item, attribute, _(inspect.cleandoc(original)))
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
    except click.ClickException as error:
        return _fail(error.format_message(), error.exit_code)
    except (click.Abort, KeyboardInterrupt):  # click.Abort: click's form of Ctrl-C
        return _fail(_("Interrupted."), EXIT_INTERRUPTED)
    except BrokenPipeError:  # the reader of the output went away: stop quietly
        _quiet_stdout()
        return EXIT_FAILURE
    except Exception as error:
        known = family_member(error)
        if known is None:
            return _bug(error)
        return _fail(str(known), known.exit_code)
    return int(result or 0)


def family_member(error: Exception) -> RingroundError | None:
    """The error as staff are told about it; None for a bug.

    Besides the family itself (storage/errors.py), SQLite's and the system's
    errors reach here from the environment (a full disk, a file that vanished,
    a database another program damaged), not from a mistake in ringround.
    """
    if isinstance(error, RingroundError):
        return error
    if isinstance(error, sqlite3.Error):
        return describe(error, _("(the one in use)"))
    if isinstance(error, OSError):
        reason = error.strerror or str(error)
        if error.filename:
            return RingroundError(_("ringround could not use {filename}: {reason}").format(
                filename=error.filename, reason=reason))
        return RingroundError(_("ringround stopped because of a system error: {reason}").format(
            reason=reason))
    return None


def _bug(error: Exception) -> int:
    """Anything else is a mistake in ringround: its traceback goes to the administrator's log."""
    admin_log.log_crash(error, operator=login_name(), session=None)
    if os.environ.get("RINGROUND_DEBUG"):
        raise error
    return _fail(_("ringround stopped because of a bug ({kind}: {error}); the details went to "
                   "the administrator's log, and RINGROUND_DEBUG=1 shows them here.").format(
        kind=type(error).__name__, error=error), EXIT_FAILURE)

