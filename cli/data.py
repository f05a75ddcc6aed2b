"""The data commands of ``ringround``: ``export``, ``import``, ``lists`` and ``report``.

cli/root.py loads this module only when one of them (or ``--help``) is used,
so that starting the app does not import the CSV, call-list and report code
(BENCHMARKS.md, start-up). Exit codes and messages: cli/__init__.py.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from typing import Any, TextIO

import click
from click.core import ParameterSource
from rich.markup import escape

from cli.options import (
    Choice,
    Settings,
    database_now,
    db_options,
    operator_option,
    refuse_empty,
    settings_for,
    use_database,
)
from cli.output import print_json, say
from cli.progress import progress_bar
from storage.call_lists import (
    CallListSummary,
    NoSuchList,
    close_list,
    delete_list,
    find_list,
    list_summaries,
    reopen_list,
)
from storage.cells import Writer
from storage.connection import Connection
from storage.database import (
    DiskFull,
    StorageError,
    bad_path,
    disk_full,
    missing_folder,
    no_new_database,
)
from storage.engine import is_server_address
from storage.errors import EXIT_BAD_INPUT, BadInput, NotAllowed, RingroundError
from storage.export import FILTERS, KINDS, Filter, export_csv, export_workbook, iso_time
from storage.file_modes import hidden_prefix, remove_database_files
from storage.health import current_umask
from storage.imports import KINDS as IMPORT_KINDS
from storage.imports import (
    BadFile,
    YearOutOfRange,
    describe_result,
    import_csv,
    is_date,
    parse_date,
    parse_moment,
    read_import_file,
    year_out_of_range,
)
from storage.names import control_character
from storage.policy import Policy
from storage.reports import BY as REPORT_BY
from storage.reports import build_report, write_report_csv
from storage.roles import is_supervisor, operator_name
from storage.sessions import Session, end_session, start_session
from storage.shown import in_quotes
from tui.i18n import N_, _, ngettext
from tui.safe_text import safe_text

IMPORT_FILE = refuse_empty(N_("the file to import"))
LIST_NAME = refuse_empty(N_("the list's name"), name=True)

# -- export -----------------------------------------------------------------------------------


@click.command(short_help="CSV of clients, appointments, tasks, calls, locks or the audit.")
@click.argument("kind", type=Choice(KINDS), metavar="KIND")
@db_options
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    callback=refuse_empty(N_("the file to write, or leave -o out")),
    help="Write to FILE instead of standard output: FILE.xlsx makes an Excel "
    "workbook, FILE.csv a CSV file.",
)
@click.option(
    "--bom",
    is_flag=True,
    help="CSV: start with a byte-order mark, so that Excel reads Cyrillic correctly.",
)
@click.option(
    "--since",
    metavar="DATE",
    help="calls, audit: only those from DATE (a date, 'today', or a time) on.",
)
@click.option(
    "--until",
    metavar="DATE",
    help="calls, audit: only those before the end of DATE (or before a time).",
)
@click.option(
    "--list",
    "--name",
    "list_name",
    metavar="NAME",
    callback=LIST_NAME,
    help="calls, audit, call-list: only those of the call list NAME.",
)
@click.pass_context
def export(
    ctx: click.Context,
    kind: str,
    db: str | None,
    policy_path: str | None,
    output: str | None,
    bom: bool,
    since: str | None,
    until: str | None,
    list_name: str | None,
) -> int:
    """Write KIND as CSV (UTF-8, header row) to standard output, or to a file with -o.

    KIND: clients, appointments, tasks, calls (attempts), locks, audit,
    call-list (the items of call lists). With -o FILE.xlsx the same columns
    go into an Excel workbook: names, phones, ids and notes as text cells,
    times as date cells in the clinic's time zone, no encoding to choose.
    In CSV a cell that a spreadsheet would evaluate (starting with = + - @),
    or a text it would take for a number or a date (0012, 1,5, 01.02.2026),
    gets an apostrophe before it, which import removes.
    """
    settings = settings_for(ctx, db, policy_path)
    policy = settings.policy()
    path = settings.db or policy.database_path
    takes = FILTERS.get(kind, frozenset())
    for option, value, name in (
        ("--since", since, "since"),
        ("--until", until, "until"),
        ("--list", list_name, "list_id"),
    ):
        if value is not None and name not in takes:
            which = " and ".join(k for k in KINDS if name in FILTERS.get(k, frozenset()))
            raise BadInput(
                _("'export {kind}' takes no {option} (only {which} do).").format(
                    kind=kind, option=option, which=which
                )
            )
    workbook = output is not None and _output_kind(output) == ".xlsx"
    if workbook and bom:
        raise BadInput(_("--bom is for CSV files; an Excel workbook needs none."))
    start = _moment_option("--since", since, policy, end=False)
    end = _moment_option("--until", until, policy, end=True)
    _check_period(start, end)
    with use_database(path, reading=True) as conn:
        list_id = None if list_name is None else _call_list_id(conn, list_name)
        where = Filter(since=start, until=end, list_id=list_id)
        now = database_now(path)
        if output is None:
            export_csv(conn, policy, kind, _standard_output(), now=now, bom=bom, where=where)
            sys.stdout.flush()
            return 0
        with _new_file(output) as temporary:
            if workbook:
                count = export_workbook(conn, policy, kind, temporary, now=now, where=where)
            else:
                with open(temporary, "w", encoding="utf-8", newline="") as handle:
                    count = export_csv(conn, policy, kind, handle, now=now, bom=bom, where=where)
    say(
        ngettext("Wrote {count} row to {file}.", "Wrote {count} rows to {file}.", count).format(
            count=count, file=output
        )
    )
    return 0


class _ShownOnTerminal:
    """Standard output that is a terminal: CSV for a person reading it there, every character
    a terminal would obey made visible (tui/safe_text.py); a client named ``ESC ] 0 ; …``
    would otherwise set the admin's window title, or worse. A file or a pipe gets the CSV
    exactly."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def write(self, text: str, /) -> int:
        return self._out.write(safe_text(text, keep_newlines=True))  # as long as ``text``


def _standard_output() -> Writer:
    """Standard output for CSV: UTF-8, and shown safely when it is a terminal."""
    out = sys.stdout
    if isinstance(out, io.TextIOWrapper):
        out.reconfigure(encoding="utf-8")
    return _ShownOnTerminal(out) if out.isatty() else out


def _output_kind(name: str) -> str:
    """The -o file's kind by its name: ".csv" or ".xlsx"; anything else is bad input."""
    if os.path.isdir(name):  # said first: "exports/" has no suffix, but that is not the mistake
        raise BadInput(
            _("{name} is a folder; give the name of the file to write.").format(name=name)
        )
    suffix = os.path.splitext(name)[1].lower()
    if suffix not in (".csv", ".xlsx"):
        raise BadInput(
            _(
                "{name}: the file's name must end in .xlsx (an Excel workbook) or .csv "
                "(a CSV file)."
            ).format(name=name)
        )
    return suffix


@contextmanager
def _new_file(name: str) -> Iterator[str]:
    """A temporary file beside ``name`` to write; it replaces ``name`` once the block ends well.

    A failed export (a full disk, an interruption) leaves no half file and an
    earlier file of that name untouched. A new file gets the mode a new file of
    this user gets (umask), like any file the admin saves. An earlier file is
    replaced as the shell's > would overwrite it: only by a user who may write
    it (renaming over it needs only the folder's permission), keeping its mode
    and group (an export made private stays private), and through a symbolic
    link the file it points to.
    """
    target = os.path.realpath(name)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise missing_folder(folder, name)
    earlier = _earlier_file(name, target)
    try:
        fd, temporary = tempfile.mkstemp(prefix=hidden_prefix(target), suffix=".tmp", dir=folder)
    except OSError as error:
        if isinstance(error, PermissionError) or error.errno == errno.EROFS:
            raise RingroundError(
                _(
                    "You may not create files in {folder}; choose a folder you may "
                    "write, or ask the administrator."
                ).format(folder=folder)
            ) from None
        raise _disk_full(error, name, folder) from None
    os.close(fd)
    try:
        yield temporary
        if earlier is None:
            os.chmod(temporary, 0o666 & ~current_umask())
        else:
            with suppress(PermissionError):  # only root, or a member of that group, may
                os.chown(temporary, -1, earlier.st_gid)
            os.chmod(temporary, stat.S_IMODE(earlier.st_mode))
        os.replace(temporary, target)
    except BaseException as error:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        if isinstance(error, OSError):
            raise _disk_full(error, name, folder) from None
        raise


def _earlier_file(name: str, target: str) -> os.stat_result | None:
    """The file an export to ``name`` (``target``, links followed) replaces; None if none."""
    try:
        earlier = os.stat(target)
    except OSError as error:  # none, or in a folder we may not enter: making the new file says
        named = bad_path(error, name)  # ... but not of the hidden file it makes first
        if named is not None:
            raise named from None
        return None
    if not os.access(target, os.W_OK):
        raise RingroundError(
            _(
                "You may not write {name}; nothing was written to it. Give another file "
                "name, or ask its owner."
            ).format(name=name)
        )
    return earlier


def _disk_full(error: OSError, name: str, folder: str) -> Exception:
    """A write that failed for want of room on the file's own disk, said as such; else the
    error as it is (a full disk elsewhere, e.g. the temporary folder, is not this one)."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT) and disk_full(folder):
        return DiskFull(_("The disk holding {path} is full; nothing was saved.").format(path=name))
    return error


def _check_period(start: int | None, end: int | None) -> None:
    """Swapped --since and --until are refused: the empty result would look like no calls."""
    if start is not None and end is not None and end <= start:
        raise BadInput(_("The period ends before it begins (--until is before --since)."))


def _moment_option(option: str, text: str | None, policy: Policy, *, end: bool) -> int | None:
    """--since / --until: a date (its start; with ``end``, the end of it) or a time."""
    if text is None:
        return None
    value = text.strip().casefold()
    if not value:
        raise BadInput(
            _(
                "{option} is empty; give a date or time such as 2026-11-27, 27.11.2026, "
                "2026-11-27 10:30 or today."
            ).format(option=option)
        )
    today = datetime.now(policy.timezone).date()
    days = {
        "today": today,
        "yesterday": today - timedelta(days=1),
        "сегодня": today,
        "вчера": today - timedelta(days=1),
    }
    try:
        day = days[value] if value in days else parse_date(value) if is_date(value) else None
        if day is not None:
            day += timedelta(days=1 if end else 0)
            return int(datetime(day.year, day.month, day.day, tzinfo=policy.timezone).timestamp())
        return parse_moment(text, policy.timezone, date_alone=False)
    except YearOutOfRange:
        raise BadInput(f"{option} {year_out_of_range(text)}.") from None
    except (ValueError, OverflowError):
        raise BadInput(
            _(
                "{option} '{text}' is not a date or time such as 2026-11-27, "
                "27.11.2026, 2026-11-27 10:30 or today."
            ).format(option=option, text=in_quotes(text))
        ) from None


def _call_list_id(conn: Connection, name: str) -> int:
    try:
        return find_list(conn, name).id
    except NoSuchList:
        raise BadInput(
            _("There is no call list named '{name}' ('ringround lists' shows them).").format(
                name=in_quotes(name)
            )
        ) from None


# -- import -----------------------------------------------------------------------------------


def _missing(path: str) -> bool:
    """Whether there is no file at ``path``.

    A file that is there but cannot be seen (its folder is closed to this user)
    is not missing: opening the database then says so.
    """
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):  # the import says which of the two
        return True
    except OSError:
        return False
    return False


def _import_phases(source: str) -> dict[str, str]:
    """The progress bar's line for each phase of an import (Rich markup: the name escaped)."""
    return {
        "reading": _("Reading {file}").format(file=escape(safe_text(source))),
        "checking": _("Checking"),
        "writing": _("Writing"),
    }


def _read_file(name: str) -> bytes:
    """The bytes of FILE ('-': standard input); a missing or unreadable file is bad input.

    FILE is a file, or a pipe (``import clients <(iconv ...)``), read as standard
    input is, up to the most an import takes (storage.imports.files.MAX_FILE_BYTES:
    a larger file is refused before it is read). A folder, and a device (/dev/zero
    would never end), are refused by what they are.
    """
    if name == "-":
        if sys.stdin.isatty():  # else it waits for the file in silence, as if hung
            say(
                _(
                    "Reading the file from the keyboard: paste it, then press Ctrl-D on a new "
                    "line (Ctrl-C stops)."
                ),
                err=True,
            )
        return read_import_file(sys.stdin.buffer, _("standard input"))
    try:
        mode = os.stat(name).st_mode
        if stat.S_ISDIR(mode):
            raise BadInput(_("{name} is a folder, not a CSV file.").format(name=name))
        if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
            raise BadInput(
                _(
                    "{name} is a device, not a file; give a CSV file or a workbook (.xlsx), "
                    "or - to read standard input."
                ).format(name=name)
            )
        with open(name, "rb") as handle:
            return read_import_file(handle, name)
    except FileNotFoundError:
        raise BadInput(_("There is no file {name}.").format(name=name)) from None
    except PermissionError:
        raise BadInput(
            _("You may not read {name} (permission denied).").format(name=name)
        ) from None


def _import(
    settings: Settings,
    kind: str,
    file: str,
    *,
    list_name: str | None,
    dry_run: bool,
    create_only: bool = False,
) -> int:
    """Import FILE into the database (made if missing, only once the file imported cleanly)."""
    policy = settings.policy()
    name = operator_name(policy, settings.operator)
    supervisor = is_supervisor(policy, name)
    if kind == "call-list" and not supervisor:
        raise NotAllowed(
            _(
                "Only a supervisor may build call lists, and {name} is not one "
                "in the policy ({source})."
            ).format(name=name, source=policy.shown_source)
        )
    character = None if list_name is None else control_character(list_name)
    if character is not None:
        raise BadInput(
            _(
                "The call list's name holds a control character ({character}); give "
                "a name of letters, digits, spaces and punctuation."
            ).format(character=character)
        )
    if kind != "call-list" and list_name is not None:
        raise BadInput(_("--name is for importing a call list, not {kind}.").format(kind=kind))
    data = _read_file(file)
    source = _("standard input") if file == "-" else file
    path = settings.db or policy.database_path
    # A server's empty database gets the schema first (under a role that may make tables;
    # a failed import leaves it empty); only a new file is made beside and renamed.
    server = is_server_address(path)
    fresh = not server and _missing(path)
    target = path
    if fresh:  # import into a new file beside it; it takes the name only when all went well
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise missing_folder(folder, path)
        if not os.access(folder, os.W_OK | os.X_OK):  # said of the database asked for, not of
            raise no_new_database(folder, path)  # the hidden file made first
        target = os.path.join(folder, f".{os.path.basename(path)}.import-{os.getpid()}")
    try:
        with (
            # A dry run saves nothing: read-only, for a user who may only read the file too;
            # it refuses a damaged database as the import would.
            use_database(
                target, create=fresh or server, reading=dry_run and not fresh, writes=True
            ) as conn,
            progress_bar(_import_phases(source)) as progress,
        ):
            result = import_csv(
                conn,
                policy,
                kind,
                data,
                source=source,
                operator=name,
                supervisor=supervisor,
                now=database_now(target),
                list_name=list_name,
                create_only=create_only,
                dry_run=dry_run,
                progress=progress,
            )
        if fresh and not dry_run:
            try:
                os.link(target, path)  # never over a database made meanwhile
            except FileExistsError:
                raise StorageError(
                    _(
                        "A database appeared at {path} during the import; "
                        "nothing was imported, run the import again."
                    ).format(path=path)
                ) from None
    except BadFile as bad:
        say(f"ringround: {bad}.", err=True)
        for line in bad.details():
            say(f"  {line}", err=True)
        return EXIT_BAD_INPUT
    finally:
        if fresh:
            remove_database_files(target)
    say(describe_result(result))
    if result.likely_duplicates:
        say(
            ngettext(
                "Likely duplicate (the same name and phone number); check before importing:",
                "Likely duplicates (the same name and phone number); check before importing:",
                len(result.likely_duplicates),
            )
            if dry_run
            else ngettext(
                "Added as new, but likely a duplicate (the same name and phone number):",
                "Added as new, but likely duplicates (the same name and phone number):",
                len(result.likely_duplicates),
            )
        )
        for duplicate in result.likely_duplicates:
            say(f"  {duplicate}.")
    if fresh:
        say(
            (
                _("The database {path} did not exist; the import would make it.")
                if dry_run
                else _("The database {path} did not exist; it was made.")
            ).format(path=path)
        )
    return 0


@click.command("import", short_help="Import clients, appointments, tasks or a call list.")
@click.argument("kind", type=Choice(IMPORT_KINDS), metavar="KIND")
@click.argument("file", metavar="FILE", callback=IMPORT_FILE)
@db_options
@click.option(
    "--name",
    "list_name",
    metavar="NAME",
    callback=LIST_NAME,
    help="call-list: the list to fill (made if there is none of that name).",
)
@click.option(
    "--dry-run", is_flag=True, help="Check the file and say what would change, changing nothing."
)
@operator_option
@click.pass_context
def import_command(
    ctx: click.Context,
    kind: str,
    file: str,
    db: str | None,
    policy_path: str | None,
    list_name: str | None,
    dry_run: bool,
    operator: str | None,
) -> int:
    """Import FILE, a CSV file or an Excel workbook (.xlsx), into the database.

    KIND: clients, appointments, tasks, call-list (needs --name or a list
    column, and the supervisor role). Rows with an id or external_id that is
    already there update it; others are added. A file with any problem
    changes nothing: every problem is listed with its line and column (exit
    code 2). Accepts what 'ringround export' writes. A CSV file ('-' for
    standard input) is UTF-8, with or without a byte-order mark, separated
    by commas, semicolons or tabs. A workbook is read from its first sheet,
    whose first row names the columns; date cells are clinic time. Refused
    as damaged by a spreadsheet: garbled Cyrillic (a wrong code page), phone
    numbers in scientific notation or with too few or too many digits, and
    external ids that lost their leading zeros. --dry-run also lists new
    clients who look like clients already there (same name and phone).
    """
    settings = settings_for(ctx, db, policy_path, operator)
    return _import(settings, kind, file, list_name=list_name, dry_run=dry_run)


# -- call lists -------------------------------------------------------------------------------


def _when(seconds: int | None, policy: Policy) -> str:
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, policy.timezone).strftime("%Y-%m-%d %H:%M")


def _print_table(table: Sequence[tuple[str, ...]], right: frozenset[int] = frozenset()) -> None:
    table = [tuple(safe_text(cell) for cell in line) for line in table]  # one line per row
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for line in table:
        say(
            "  ".join(
                cell.rjust(width) if i in right else cell.ljust(width)
                for i, (cell, width) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
        )


@click.group(
    invoke_without_command=True,
    short_help="Call lists and their counts; make, close, reopen or delete one.",
)
@db_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def lists(ctx: click.Context, db: str | None, policy_path: str | None, as_json: bool) -> int:
    """Show the call lists with their pending and processed items; or change one.

    'given up' items were closed without result (wrong number, do not call,
    too many attempts). Closing, reopening and deleting need the supervisor role.
    """
    settings = settings_for(ctx, db, policy_path)
    ctx.obj = settings
    if ctx.invoked_subcommand is not None:
        return 0
    policy = settings.policy()
    with use_database(settings.db or policy.database_path, reading=True) as conn:
        found = list_summaries(conn)
    if as_json:
        print_json(
            [
                {
                    "name": s.name,
                    "open": s.is_open,
                    "items": s.items,
                    "pending": s.pending,
                    "processed": s.processed,
                    "given_up": s.given_up,
                    "created_by": s.created_by,
                    "created_at": iso_time(s.created_at, policy),
                    "closed_at": iso_time(s.closed_at, policy) or None,
                }
                for s in found
            ],
            indent=2,
        )
    elif not found:
        say(_("There are no call lists (make one with 'ringround lists create')."))
    else:
        _print_table(
            [
                (
                    _("LIST"),
                    _("STATE"),
                    _("ITEMS"),
                    _("PENDING"),
                    _("PROCESSED"),
                    _("GIVEN UP"),
                    _("CREATED"),
                    _("BY"),
                )
            ]
            + [
                (
                    s.name,
                    _("open") if s.is_open else _("closed"),
                    str(s.items),
                    str(s.pending),
                    str(s.processed),
                    str(s.given_up),
                    _when(s.created_at, policy),
                    s.created_by,
                )
                for s in found
            ],
            right=frozenset({2, 3, 4, 5}),
        )
    return 0


@lists.command("create", short_help="Make the call list NAME from FILE.csv (supervisors).")
@click.argument("name", callback=LIST_NAME)
@click.argument("file", metavar="FILE", callback=IMPORT_FILE)
@db_options
@click.option(
    "--dry-run",
    is_flag=True,
    help="Check the file and say what the list would hold, changing nothing.",
)
@operator_option
@click.pass_context
def lists_create(
    ctx: click.Context,
    name: str,
    file: str,
    db: str | None,
    policy_path: str | None,
    dry_run: bool,
    operator: str | None,
) -> int:
    """Make the call list NAME from FILE, CSV or .xlsx ('import call-list'; supervisor role).

    The file names one client per row by client_id or client_external_id (a
    clients export will do); a note column says what the call is about.
    """
    settings = settings_for(ctx, db, policy_path, operator)
    return _import(settings, "call-list", file, list_name=name, dry_run=dry_run, create_only=True)


def _change_list(
    ctx: click.Context,
    db: str | None,
    policy_path: str | None,
    operator: str | None,
    name: str,
    doing: str,
    change: Callable[[Connection, Session, str, int], Any],
) -> Any:
    """Run a supervisor's change of a call list in a short session of its own."""
    settings = settings_for(ctx, db, policy_path, operator)
    policy = settings.policy()
    who = operator_name(policy, settings.operator)
    if not is_supervisor(policy, who):
        raise NotAllowed(
            _(
                "Only a supervisor may {doing} a call list, and {who} is not "
                "one in the policy ({source})."
            ).format(doing=doing, who=who, source=policy.shown_source)
        )
    path = settings.db or policy.database_path
    with use_database(path, writes=True) as conn:
        _call_list_id(conn, name)  # a missing list is bad input (exit 2)
        session = start_session(conn, who, database_now(path), supervisor=True)
        try:
            return change(conn, session, name, database_now(path))
        finally:
            end_session(conn, session, database_now(path))


@lists.command("close", short_help="Close the call list NAME (supervisors).")
@click.argument("name", callback=LIST_NAME)
@db_options
@operator_option
@click.pass_context
def lists_close(
    ctx: click.Context, name: str, db: str | None, policy_path: str | None, operator: str | None
) -> int:
    """Close the call list NAME: its pending items leave the work lists (supervisor)."""
    was_open: list[bool] = []

    def close(conn: Connection, session: Session, name: str, now: int) -> CallListSummary:
        was_open.append(find_list(conn, name).is_open)
        return close_list(conn, session, name, now)

    closed = _change_list(ctx, db, policy_path, operator, name, _("close"), close)
    if not all(was_open):  # closing it again changes nothing: not "Closed ..." once more
        say(
            _("The call list '{name}' was closed already; nothing changed.").format(
                name=in_quotes(closed.name)
            )
        )
        return 0
    say(
        ngettext(
            "Closed the call list '{name}'; {count} pending item will not be called.",
            "Closed the call list '{name}'; {count} pending items will not be called.",
            closed.pending,
        ).format(name=in_quotes(closed.name), count=closed.pending)
    )
    return 0


@lists.command("reopen", short_help="Open the closed call list NAME again (supervisors).")
@click.argument("name", callback=LIST_NAME)
@db_options
@operator_option
@click.pass_context
def lists_reopen(
    ctx: click.Context, name: str, db: str | None, policy_path: str | None, operator: str | None
) -> int:
    """Open the closed call list NAME again (supervisor)."""
    opened = _change_list(ctx, db, policy_path, operator, name, _("reopen"), reopen_list)
    say(
        ngettext(
            "The call list '{name}' is open; {count} pending item.",
            "The call list '{name}' is open; {count} pending items.",
            opened.pending,
        ).format(name=in_quotes(opened.name), count=opened.pending)
    )
    return 0


@lists.command("delete", short_help="Delete the call list NAME and its items (supervisors).")
@click.argument("name", callback=LIST_NAME)
@db_options
@operator_option
@click.pass_context
def lists_delete(
    ctx: click.Context, name: str, db: str | None, policy_path: str | None, operator: str | None
) -> int:
    """Delete the call list NAME and its items (supervisor; only a list nobody has called)."""
    items = _change_list(ctx, db, policy_path, operator, name, _("delete"), delete_list)
    say(
        ngettext(
            "Deleted the call list '{name}' and its {count} item.",
            "Deleted the call list '{name}' and its {count} items.",
            items,
        ).format(name=in_quotes(name), count=items)
    )
    return 0


# -- report -----------------------------------------------------------------------------------


@click.command(short_help="Calls, outcomes, success rate, calls per hour as CSV (supervisors).")
@db_options
@click.option(
    "--since",
    metavar="DATE",
    default="today",
    show_default=True,
    help="The first day (or a time) of the period.",
)
@click.option(
    "--until",
    metavar="DATE",
    help="The last day of the period (or a time it ends before); default: now.",
)
@click.option(
    "--by",
    type=Choice(REPORT_BY),
    default="operator",
    show_default=True,
    help="One row per operator, or per work list.",
)
@click.option(
    "--bom",
    is_flag=True,
    help="Start with a byte-order mark, so that Excel reads Cyrillic correctly.",
)
@operator_option
@click.pass_context
def report(
    ctx: click.Context,
    db: str | None,
    policy_path: str | None,
    since: str,
    until: str | None,
    by: str,
    bom: bool,
    operator: str | None,
) -> int:
    """Calls, outcomes, success rate and calls per hour as CSV (supervisor).

    A call counts in the period it started in. success_rate: calls whose
    outcome closes and completes the row, divided by calls. calls_per_hour:
    calls divided by active_hours, the clock hours in which each operator
    made at least one such call.
    """
    settings = settings_for(ctx, db, policy_path, operator)
    policy = settings.policy()
    who = operator_name(policy, settings.operator)
    supervisor = is_supervisor(policy, who)
    if not supervisor:
        raise NotAllowed(
            _(
                "Only a supervisor may see reports, and {who} is not one in the policy ({source})."
            ).format(who=who, source=policy.shown_source)
        )
    start = _moment_option("--since", since, policy, end=False)
    end = _moment_option("--until", until, policy, end=True)
    assert start is not None
    path = settings.db or policy.database_path
    # A period left open ends now and begins today: say so, as the admin did not type it.
    if end is None:
        now = database_now(path)
        if start > now:
            raise BadInput(
                _("--since '{since}' is after now, where the report ends without --until.").format(
                    since=in_quotes(since)
                )
            )
        end = now + 1
    elif end <= start and ctx.get_parameter_source("since") is ParameterSource.DEFAULT:
        raise BadInput(
            _("--until '{until}' is before today, where the report begins without --since.").format(
                until=in_quotes(str(until))
            )
        )
    _check_period(start, end)
    out = _standard_output()
    with use_database(path, reading=True) as conn:
        made = build_report(conn, policy, since=start, until=end, by=by, supervisor=supervisor)
    write_report_csv(made, policy, out, bom=bom)
    sys.stdout.flush()
    return 0
