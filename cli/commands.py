"""The commands demo, check, policy, backup and locks.

cli/root.py loads this module when one of them is run or listed (not when
the app starts); each command imports the storage modules it needs when it
runs, so that listing them in ``ringround --help`` stays cheap.
"""

from __future__ import annotations

import dataclasses
import shlex
from datetime import datetime
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from cli.options import (
    Settings,
    WholeNumber,
    WholeNumberRange,
    database_now,
    db_options,
    db_options_for,
    operator_option,
    refuse_empty,
    settings_for,
    use_database,
)
from cli.output import print_json, say
from cli.start import need_terminal, run_app
from storage.engine import is_server_address, open_engine
from storage.errors import NotAllowed
from storage.i18n import decimal_number, whole_number
from storage.policy import Policy
from storage.roles import is_supervisor, operator_name
from storage.rows import RowKey
from storage.sessions import end_session, start_session
from tui.formats import clock_text, weekday_text
from tui.i18n import N_, _, current_language, ngettext
from tui.safe_text import safe_text

if TYPE_CHECKING:
    from storage.demo import DemoSummary

DEMO_FILE = "ringround-demo.db"


# -- demo -------------------------------------------------------------------------------------


def _days(summary: DemoSummary) -> str:
    return ", ".join(weekday_text(day) for day in summary.confirmation_days)


def _described(summary: DemoSummary) -> str:
    s = summary
    return _(
        "{clients}, {appointments} to confirm for {days}, {lists} with {calls}, {tasks}"
    ).format(
        clients=ngettext("{count} client", "{count} clients", s.clients).format(
            count=whole_number(s.clients)
        ),
        appointments=ngettext("{count} appointment", "{count} appointments", s.to_confirm).format(
            count=whole_number(s.to_confirm)
        ),
        days=_days(s),
        lists=ngettext("{count} call list", "{count} call lists", s.call_lists).format(
            count=whole_number(s.call_lists)
        ),
        calls=ngettext("{count} pending call", "{count} pending calls", s.pending_items).format(
            count=whole_number(s.pending_items)
        ),
        tasks=ngettext("{count} task due", "{count} tasks due", s.open_tasks).format(
            count=whole_number(s.open_tasks)
        ),
    )


def _open_hint(path: str, settings: Settings) -> str:
    words = ["ringround", "--db", path]
    if settings.policy_path:
        words += ["--policy", settings.policy_path]
    return " ".join(shlex.quote(word) for word in words)


@click.command(short_help="Write a demo clinic and start the app on it.")
@db_options_for(
    N_(
        "The database: a file, or an empty PostgreSQL database's postgresql:// URL "
        "(default: $RINGROUND_DB, else ringround-demo.db)."
    )
)
@click.option(
    "--clients",
    type=WholeNumberRange(10, 1_000_000),
    default=300,
    show_default=True,
    help="How many clients the demo clinic has.",
)
@click.option(
    "--seed",
    type=WholeNumber(),
    default=1,
    show_default=True,
    help="The same seed always gives the same clinic.",
)
@click.option("--no-run", is_flag=True, help="Only write the demo; do not start the app.")
@click.option("--fresh", is_flag=True, help="Replace an existing demo with a new one.")
@operator_option
@click.pass_context
def demo(
    ctx: click.Context,
    db: str | None,
    policy_path: str | None,
    clients: int,
    seed: int,
    no_run: bool,
    fresh: bool,
    operator: str | None,
) -> int:
    """Write a demo clinic (default file ringround-demo.db) and start the app on it.

    Run again, it starts the app on the demo already there; a demo from an
    earlier day is rebuilt so that there are always appointments to confirm.
    """
    from storage.demo import DemoError, demo_info, demo_is_current, demo_speaks, make_demo

    settings = settings_for(ctx, db, policy_path, operator)
    # The demo's names and notes in the language the operator will see (tui.i18n).
    policy = dataclasses.replace(settings.policy(), language=current_language())
    if not no_run:
        need_terminal()  # before the demo is written, not after
    name = operator_name(policy, settings.operator)
    path = settings.db or DEMO_FILE
    explicit = {
        param
        for param in ("clients", "seed")
        if ctx.get_parameter_source(param) is not ParameterSource.DEFAULT
    }
    now = database_now(path)
    with use_database(path, create=True, writes=True) as conn:
        info = demo_info(conn)
        if info is None:
            summary = make_demo(conn, policy, clients=clients, seed=seed, now=now)
            said = _("Wrote a demo clinic to {path}: {described}.").format(
                path=path, described=_described(summary)
            )
        elif fresh:
            summary = make_demo(conn, policy, clients=clients, seed=seed, now=now, replace=True)
            said = _("Replaced the demo clinic in {path}: {described}.").format(
                path=path, described=_described(summary)
            )
        elif ("clients" in explicit and clients != info.clients) or (
            "seed" in explicit and seed != info.seed
        ):
            raise DemoError(
                (
                    _(
                        "{path} already holds a demo clinic with {clients} (seed {seed}); add "
                        "--fresh to replace it, or choose another database with --db."
                    )
                    if is_server_address(path)
                    else _(
                        "{path} already holds a demo clinic with {clients} (seed {seed}); add "
                        "--fresh to replace it, or choose another file with --db."
                    )
                ).format(
                    path=path,
                    seed=info.seed,
                    clients=ngettext("{count} client", "{count} clients", info.clients).format(
                        count=whole_number(info.clients)
                    ),
                )
            )
        elif not demo_speaks(info, policy):
            summary = make_demo(
                conn, policy, clients=info.clients, seed=info.seed, now=now, replace=True
            )
            said = _(
                "The demo clinic in {path} was written in another language; rebuilt it "
                "in the language of the screens: {described}."
            ).format(path=path, described=_described(summary))
        elif not demo_is_current(info, policy, now):
            made = weekday_text(datetime.fromtimestamp(info.made_at, policy.timezone))
            summary = make_demo(
                conn, policy, clients=info.clients, seed=info.seed, now=now, replace=True
            )
            said = _(
                "The demo clinic in {path} was from {made}; rebuilt it for today: {described}."
            ).format(path=path, made=made, described=_described(summary))
        else:
            made = clock_text(datetime.fromtimestamp(info.made_at, policy.timezone))
            counted = ngettext("{count} client", "{count} clients", info.clients).format(
                count=whole_number(info.clients)
            )
            said = _(
                "Reusing the demo clinic in {path} ({clients}, made today at {time}); "
                "add --fresh to start over."
            ).format(path=path, clients=counted, time=made)
    if no_run:
        say(said)
        say(_("Open it with: {open_hint}").format(open_hint=_open_hint(path, settings)))
        return 0
    # Printed now, it would be hidden by the app's screen until the app quits: the
    # list picker shows it instead, where a new user looks first.
    return run_app(path, policy, name, notice=said)


# -- check ------------------------------------------------------------------------------------


def _level(level: str) -> str:
    """A finding's level as ``check`` prints it (at most 8 letters in every language)."""
    from storage import health

    return {health.OK: _("ok"), health.WARNING: _("warning"), health.PROBLEM: _("PROBLEM")}[level]


def _noted_audit_entry(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> tuple[int, str] | None:
    if value is None:
        return None
    entry, _colon, digest = value.partition(":")
    digest = digest.strip().lower()
    if (
        not entry.strip().isdigit()
        or len(digest) != 64
        or any(c not in "0123456789abcdef" for c in digest)
    ):
        raise click.BadParameter(
            _("expected ID:HASH as an earlier check printed it, such as 1234:9f86d0…"),
            ctx=ctx,
            param=param,
        )
    return int(entry), digest


@click.command(short_help="Check the policy and the database; exit 0 only if all is well.")
@db_options
@click.option(
    "--audit-entry",
    "noted_audit",
    metavar="ID:HASH",
    callback=_noted_audit_entry,
    help="An audit entry and its hash as an earlier check printed them; check that "
    "the trail still holds it unchanged.",
)
@click.option(
    "--full",
    is_flag=True,
    help="Also run SQLite's integrity check, which reads the whole file (seconds for "
    "a big database).",
)
@click.pass_context
def check(
    ctx: click.Context,
    db: str | None,
    policy_path: str | None,
    noted_audit: tuple[int, str] | None,
    full: bool,
) -> int:
    """Check the policy, the database (WAL, disk, permissions, audit), the PBX.

    With --full also SQLite's integrity check of every page. With telephony
    on, it logs in to the phone exchange as the app would, sends a ping and
    logs off.

    Exits 0 when there are no problems (warnings allowed), 1 with problems,
    2 when the file is not a ringround database.
    """
    from storage import health

    settings = settings_for(ctx, db, policy_path)
    policy = settings.policy()
    location = settings.db or policy.database_path
    found = settings.policy_choice().verdict()
    if is_server_address(location):
        # A password in the URL, or a ringround without PostgreSQL support: one sentence.
        open_engine(location)
        from storage import server_health

        findings = server_health.check(location, policy, found=found, noted_audit=noted_audit)
        if full:
            findings.append(
                health.Finding(
                    health.OK,
                    _(
                        "--full runs SQLite's integrity check of a database file; on a "
                        "PostgreSQL server, pg_amcheck checks its tables and indexes."
                    ),
                )
            )
    else:
        findings = health.check(location, policy, found=found, noted_audit=noted_audit, full=full)
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
        say(
            ngettext("{count} problem found.", "{count} problems found.", problems).format(
                count=problems
            )
        )
    elif warnings:
        say(
            ngettext(
                "No problems; {count} warning.", "No problems; {count} warnings.", warnings
            ).format(count=warnings)
        )
    else:
        say(_("All is well."))
    return health.exit_status(findings)


# -- policy -----------------------------------------------------------------------------------


@click.command("policy", short_help="Say which policy file applies, or print the default one.")
@db_options
@click.option(
    "--default",
    "show_default",
    is_flag=True,
    help="Print the documented default policy.toml, to start a clinic's own from.",
)
@click.pass_context
def policy_command(
    ctx: click.Context, db: str | None, policy_path: str | None, show_default: bool
) -> int:
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
    settings = settings_for(ctx, db, policy_path)
    settings.policy()  # a policy that is not valid stops here, with exit code 2
    say(settings.policy_choice().verdict())
    return 0


# -- backup -----------------------------------------------------------------------------------


@click.command(short_help="A consistent copy of the database, safe while operators work.")
@click.argument(
    "destination", metavar="DEST", callback=refuse_empty(N_("the file or folder for the backup"))
)
@db_options
@click.pass_context
def backup(ctx: click.Context, destination: str, db: str | None, policy_path: str | None) -> int:
    """Copy the database to DEST (a file, or a folder for a dated file), safely while in use.

    Uses SQLite's backup API, so operators may keep working; the copy is
    checked with PRAGMA integrity_check and only then renamed into place.
    """
    from storage.backup import backup_database

    settings = settings_for(ctx, db, policy_path)
    policy = settings.policy()
    path = settings.db or policy.database_path
    made = backup_database(path, destination)
    size = made.size / 1_000_000
    say(
        _(
            "Backed up {source} to {destination} ({size} MB, integrity check ok, {seconds} s)."
        ).format(
            source=made.source,
            destination=made.destination,
            size=decimal_number(size),
            seconds=decimal_number(made.seconds),
        )
    )
    return 0


# -- locks ------------------------------------------------------------------------------------


@click.command(short_help="List the locked rows (who is calling whom), or release one.")
@db_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--release",
    metavar="ROW",
    help="Release the lock on ROW (e.g. appointment:12); needs the supervisor role.",
)
@operator_option
@click.pass_context
def locks(
    ctx: click.Context,
    db: str | None,
    policy_path: str | None,
    as_json: bool,
    release: str | None,
    operator: str | None,
) -> int:
    """List the locked rows (who is calling whom), or release one."""
    settings = settings_for(ctx, db, policy_path, operator)
    policy = settings.policy()
    path = settings.db or policy.database_path
    if release is not None:
        return _release(path, policy, settings, release, as_json)
    from storage.export import export_rows

    with use_database(path, reading=True) as conn:
        rows = list(export_rows(conn, policy, "locks", now=database_now(path)))
    if as_json:
        print_json(
            [
                {
                    "row": row,
                    "client": client,
                    "operator": who,
                    "session": int(session),
                    "since": since,
                    "alive": alive == "1",
                }
                for row, client, who, session, since, alive in rows
            ],
            indent=2,
        )
    elif not rows:
        say(_("No rows are locked."))
    else:
        table = [(_("ROW"), _("CLIENT"), _("OPERATOR"), _("SESSION"), _("SINCE"), _("ALIVE"))] + [
            (
                row,
                safe_text(client),
                safe_text(who),
                session,
                since[:16].replace("T", " "),
                _("yes") if alive == "1" else _("no"),
            )
            for row, client, who, session, since, alive in rows
        ]
        widths = [max(len(line[i]) for line in table) for i in range(6)]
        for line in table:
            say(
                "  ".join(
                    cell.ljust(width) for cell, width in zip(line, widths, strict=True)
                ).rstrip()
            )
    return 0


def _release(path: str, policy: Policy, settings: Settings, text: str, as_json: bool) -> int:
    # Loaded here: starting the app, the other path through this module, does not need it.
    from storage.locks import NotLocked, lock_holder, release_lock

    key = RowKey.parse(text)
    name = operator_name(policy, settings.operator)
    supervisor = is_supervisor(policy, name)
    with use_database(path, writes=True) as conn:
        holder = lock_holder(conn, key)
        if holder is None:
            raise NotLocked(_("Row {key} is not locked.").format(key=key))
        if not supervisor and holder.operator != name:
            raise NotAllowed(
                _(
                    "Only a supervisor may release {holder}'s lock, and {name} "
                    "is not one in the policy ({source})."
                ).format(holder=holder.operator, name=name, source=policy.shown_source)
            )
        # A short session of its own, so that the audit shows where the release came from.
        session = start_session(conn, name, database_now(path), supervisor=supervisor)
        try:
            # Exactly the lock read above: one that changed hands since is refused.
            release_lock(conn, session, holder, database_now(path))
        finally:
            end_session(conn, session, database_now(path))
    released_from = holder.operator
    if as_json:
        print_json({"released": str(key), "operator": released_from})
    else:
        say(
            _("Released {released_from}'s lock on {key}.").format(
                released_from=released_from, key=key
            )
        )
    return 0
