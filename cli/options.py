"""What every command shares: its settings (--db, --policy, --operator) and its database."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from storage import admin_log
from storage.connection import Connection
from storage.database import describe
from storage.engine import open_engine
from storage.errors import BadInput
from storage.names import is_utf8, not_utf8
from storage.policy import Policy
from storage.policy_files import PolicyChoice, find_policy
from storage.shown import in_quotes
from tui.i18n import N_, _, choose_language, set_language

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Settings:
    """--db, --policy and --operator as given (None: left out); an empty one is refused.

    ``--db "$CLINIC"`` with the variable unset gives an empty value, which must
    not be taken for a left-out option: that would work on the policy's
    database, under the defaults or as the login, not what the script meant.
    (An empty operator name is refused by storage.roles, which names the
    operator.) Empty RINGROUND_DB and RINGROUND_POLICY count as unset, as
    Click and storage.policy_files read them.
    """

    db: str | None
    policy_path: str | None
    operator: str | None

    def __post_init__(self) -> None:
        if self.db is not None and not self.db.strip():
            raise BadInput(
                _(
                    "--db is empty; give the database (a file or a postgresql:// address), "
                    "or leave --db out."
                )
            )
        if self.policy_path is not None and not self.policy_path.strip():
            raise BadInput(_("--policy is empty; give the policy file, or leave --policy out."))

    def policy_choice(self) -> PolicyChoice:
        """The policy file that applies (storage.policy_files: --policy, RINGROUND_POLICY, ...)."""
        return find_policy(self.policy_path, os.environ)

    def policy(self) -> Policy:
        policy = self.policy_choice().load()
        set_language(choose_language(policy))  # the policy's language, when its file sets one
        admin_log.configure(policy.log)  # check reports a log that cannot be written
        return policy


def settings_for(
    ctx: click.Context, db: str | None, policy_path: str | None, operator: str | None = None
) -> Settings:
    """A subcommand's own options win over those given before it (or in the environment)."""
    parent = ctx.find_object(Settings) or Settings(None, None, None)
    return Settings(
        parent.db if db is None else db,
        parent.policy_path if policy_path is None else policy_path,
        parent.operator if operator is None else operator,
    )


def refuse_empty(
    what: str, *, name: bool = False
) -> Callable[[click.Context, click.Parameter, str | None], str | None]:
    """A Click callback refusing an empty argument (DEST, FROM, FILE, NAME, -o), naming it.

    ``backup "$DEST"`` with the variable unset gives an empty argument, which taken as it
    is was the current folder (a backup written there), "." in copy's "is a folder" or
    "There is no file ." in import's. ``what`` (marked with N_) says what to give instead.
    ``name``: the value is a name stored in the database (a call list's), so it must be
    UTF-8 text as well; typed in a terminal set to another character set (CP1251) it
    could be neither stored nor looked up. (A file's name may be any bytes.)
    """

    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None:
            return value
        shown = max(param.opts, key=len) if isinstance(param, click.Option) else None
        shown = shown or param.human_readable_name
        if not value.strip():
            raise BadInput(_("{name} is empty; give {what}.").format(name=shown, what=_(what)))
        if name and not is_utf8(value):
            raise BadInput(not_utf8(shown))
        return value

    return check


POLICY_HELP = N_(
    "The clinic's policy.toml (default: $RINGROUND_POLICY, else "
    "/etc/ringround/policy.toml, else ~/.config/ringround/policy.toml, else the "
    "built-in defaults, which 'ringround policy --default' prints)."
)


def db_options_for(db_help: str) -> Callable[[F], F]:
    """--db and --policy, as every subcommand takes them after its name; ``db_help`` is --db's."""

    def decorate(command: F) -> F:
        command = click.option(
            "--policy",
            "policy_path",
            metavar="PATH",
            help=POLICY_HELP,
        )(command)
        return click.option(
            "--db",
            metavar="PATH",
            help=db_help,
        )(command)

    return decorate


DB_HELP = N_("The database file (default: $RINGROUND_DB, else the policy's [database] path).")
db_options = db_options_for(DB_HELP)


def operator_option(command: F) -> F:
    return click.option(
        "--operator",
        metavar="NAME",
        help="Work as this operator (only if the policy allows it; default: your login).",
    )(command)


@contextmanager
def use_database(
    path: str, *, create: bool = False, reading: bool = False, writes: bool = False
) -> Iterator[Connection]:
    """An open database for one command; SQLite errors become sentences naming the file.

    ``reading``: the command only reads, so a user who may not write the file
    still gets a (strictly read-only) connection. ``writes``: the command may
    write (or, as an import's dry run, says what it would write), so a damaged
    database is refused before anything is written to it, with the app's own
    check.
    """
    engine = open_engine(path)
    conn = engine.connect(create=create, reading=reading)
    try:
        if writes:
            engine.check_integrity(conn)
        yield conn
    except sqlite3.Error as error:
        raise describe(error, path) from None
    finally:
        conn.close()


def database_now(path: str) -> int:
    """Now, on the clock of the database at ``path`` (its engine's: storage/engine.py)."""
    return open_engine(path).now()


class Choice(click.Choice[str]):
    """click.Choice saying a word it does not know in the sentence's own quotes.

    Click quotes the word with ``repr`` ('patients' in a Russian sentence too); here
    the quotes are the catalog's and the word goes through :func:`in_quotes`, as in
    every other message (cli/errors.py says Click's usage errors likewise).
    """

    def get_invalid_choice_message(self, value: Any, ctx: click.Context | None) -> str:
        return _("'{value}' is not one of {choices}.").format(
            value=in_quotes(str(value)), choices=", ".join(self.choices)
        )

    def get_missing_message(self, param: click.Parameter, ctx: click.Context | None) -> str:
        return _("Choose from: {choices}.").format(choices=", ".join(self.choices))


class WholeNumber(click.types.IntParamType):
    """click's int, saying a value that is no whole number in the sentence's own quotes."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            number = int(value)
        except ValueError:
            self.fail(
                _("'{value}' is not a whole number.").format(value=in_quotes(str(value))),
                param,
                ctx,
            )
        return super().convert(number, param, ctx)


class WholeNumberRange(WholeNumber, click.IntRange):
    """click.IntRange, saying a value that is no whole number as :class:`WholeNumber` does."""
