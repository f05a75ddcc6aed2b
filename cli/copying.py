"""``ringround copy FROM TO``: a whole clinic into a new database, checked table by table.

cli/root.py loads this module only when ``copy`` (or ``--help``) is used.
What is copied and how the copy is checked: storage/copying.py.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

import click

from cli.options import POLICY_HELP, database_now, refuse_empty, settings_for, use_database
from cli.output import say
from cli.progress import progress_bar
from storage.copying import CopyDiffers, TablePair, copy_clinic, tables
from storage.database import SQLITE_HEADER
from storage.engine import is_server_address, open_engine
from storage.errors import BadInput
from storage.file_modes import remove_database_files
from storage.i18n import decimal_number, whole_number
from tui.i18n import N_, _, ngettext

SHOWN_DIGITS = 12  # of a checksum in the table (all 64 would not fit 80 columns)


@click.command("copy", short_help="Copy a clinic into a new database (SQLite or PostgreSQL).")
@click.argument("source", metavar="FROM", callback=refuse_empty(N_("the database to copy from")))
@click.argument("target", metavar="TO", callback=refuse_empty(N_("the new database to copy into")))
@click.option("--policy", "policy_path", metavar="PATH", help=POLICY_HELP)
@click.pass_context
def copy(ctx: click.Context, source: str, target: str, policy_path: str | None) -> int:
    """Copy everything in the database FROM into the new, empty database TO, and check it.

    FROM and TO are each an SQLite file or a postgresql:// URL (its password
    in ~/.pgpass, PGPASSWORD or a service file, never in the URL). TO must
    be empty: a file that does not exist yet, or a new PostgreSQL database.
    Every ringround working on FROM must stop first.

    Clients, phones, appointments, tasks, call lists, sessions, calling
    state, locks, attempts, notes, settings and the audit trail are copied in
    one transaction with their ids unchanged. At the end the row count and a
    checksum of every table are compared on both sides and printed; if
    anything differs, TO is left empty and the exit code is 1.
    """
    settings = settings_for(ctx, None, policy_path)
    policy = settings.policy()  # who counts as working on FROM: the policy's alive_for
    if _same(source, target):
        raise BadInput(
            _("FROM and TO are the same database ({location}); give a new one as TO.").format(
                location=source
            )
        )
    _refuse_other_file(target)
    shown = (open_engine(source).location, open_engine(target).location)
    new_file = _new_file(target)
    started = time.monotonic()
    labels = {table.name: _("Copying {table}").format(table=table.name) for table in tables()}
    try:
        with (
            use_database(source, writes=True) as from_conn,
            use_database(target, create=True, writes=True) as to_conn,
            progress_bar(labels) as progress,
        ):
            pairs = copy_clinic(
                from_conn,
                to_conn,
                shown=shown,
                policy=policy,
                now=database_now(source),
                progress=progress,
            )
    except BaseException as error:
        if new_file is not None:  # made by this copy, and holds nothing
            remove_database_files(new_file)
        if isinstance(error, CopyDiffers):
            _print_tallies(error.tallies)
        raise
    _print_tallies(pairs)
    rows = sum(pair.target.rows for pair in pairs)
    say(
        _(
            "Copied {source} to {target}: {rows} {in_tables}, every row count and checksum "
            "the same ({seconds} s)."
        ).format(
            source=shown[0],
            target=shown[1],
            rows=ngettext("{count} row", "{count} rows", rows).format(count=whole_number(rows)),
            in_tables=ngettext("in {count} table", "in {count} tables", len(pairs)).format(
                count=len(pairs)
            ),
            seconds=decimal_number(time.monotonic() - started),
        )
    )
    return 0


def _file(location: str) -> Path | None:
    """The file of an SQLite location; None for a database server's."""
    return None if is_server_address(location) else Path(location)


def _same(source: str, target: str) -> bool:
    files = _file(source), _file(target)
    if files[0] is None or files[1] is None:
        return source == target
    if files[0].exists() and files[1].exists():
        return os.path.samefile(files[0], files[1])
    return files[0].resolve() == files[1].resolve()


def _refuse_other_file(target: str) -> None:
    """TO is a file already, but no database at all (a CSV file, the policy typed as TO):
    say so, rather than that it is damaged or not ringround's, as of a database."""
    found = _file(target)
    if found is None or not found.is_file():
        return
    try:
        with open(found, "rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError:  # opening it as a database says what is wrong
        return
    if header not in (b"", SQLITE_HEADER):
        raise BadInput(
            _(
                "{target} exists and is not a database; copy makes a new database: give TO "
                "a name not taken yet."
            ).format(target=target)
        )


def _new_file(target: str) -> Path | None:
    """TO's file when the copy is to make it (removed again if the copy fails)."""
    found = _file(target)
    return found if found is not None and not found.exists() else None


def _print_tallies(pairs: Sequence[TablePair]) -> None:
    """Each table's row count and checksum on both sides, as a table."""
    lines = [(_("TABLE"), _("ROWS IN FROM"), _("ROWS IN TO"), _("CHECKSUM"), _("SAME"))]
    for pair in pairs:
        checksum = pair.source.checksum[:SHOWN_DIGITS]
        if pair.target.checksum != pair.source.checksum:
            checksum += " ≠ " + pair.target.checksum[:SHOWN_DIGITS]
        lines.append(
            (
                pair.table,
                whole_number(pair.source.rows),
                whole_number(pair.target.rows),
                checksum,
                _("yes") if pair.same else _("NO"),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(5)]
    for line in lines:
        cells = [
            cell.rjust(width) if column in (1, 2) else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        say("  ".join(cells).rstrip())
