"""What an import knows about each kind of file, as data: :class:`KindSpec`.

One frozen spec per kind (clients, appointments, tasks, call-list; see
storage/imports/kinds.py) says which columns the file may have and how each
cell is read, what a file must hold before any row can be written, the
record's name in messages, and the two steps of its import: ``plan`` (check
every row against the database and work out what would change, reading only)
and ``apply`` (write that plan, inside the import's one write transaction).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from storage.connection import Connection
from storage.imports.cell_values import Parser
from storage.imports.damage import LikelyDuplicate
from storage.imports.problems import Problem, Progress
from storage.policy import Policy


@dataclass
class Row:
    """A data row of the file that passed every cell check: its line and its values."""

    line: int
    values: dict[str, Any]


@dataclass
class Table:
    """The rows of a file that can be planned."""

    columns: tuple[str, ...]  # canonical names of the parsed columns present
    rows: list[Row]
    count: int  # data rows read (bad ones included)


@dataclass
class Update:
    """A matched record whose columns ``new`` differ from what the database has (``old``)."""

    line: int
    id: int
    new: dict[str, Any]
    old: dict[str, Any]


@dataclass
class Plan:
    """What an import would write; any ``problems`` and it writes nothing."""

    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    unchanged: int = 0
    kept: int = 0
    problems: list[Problem] = field(default_factory=list)
    lists_created: dict[str, int] = field(default_factory=dict)  # name -> first line
    list_ids: dict[str, int] = field(default_factory=dict)
    touched_lists: set[str] = field(default_factory=set)  # lists with items added or updated
    likely_duplicates: list[LikelyDuplicate] = field(default_factory=list)


@dataclass(frozen=True)
class ImportJob:
    """One import of one checked file: what planning and applying work from."""

    spec: KindSpec
    conn: Connection
    policy: Policy
    table: Table
    operator: str
    now: int
    list_name: str | None  # call-list: the --name given (it wins over a list column)
    create_only: bool  # call-list: refuse a list that exists
    progress: Progress | None


KeepRule = Callable[[dict[str, Any], dict[str, Any], Policy], bool]
"""Drops from (or changes in) a matched row's values what would undo the result of a call,
given the record as stored; True if the file lost to the database that way ("kept")."""


def _nothing_kept(values: dict[str, Any], stored: dict[str, Any], policy: Policy) -> bool:
    return False


def stays_done(column: str) -> KeepRule:
    """The rule that an empty ``column`` (done_at, processed_at) leaves a done record done."""

    def keep(values: dict[str, Any], stored: dict[str, Any], policy: Policy) -> bool:
        if column not in values or values[column] is not None:
            return False
        del values[column]
        return stored[column] is not None

    return keep


def _no_defaults(values: dict[str, Any], policy: Policy) -> None:
    return None


@dataclass(frozen=True)
class KindSpec:
    """Everything the import does differently for one kind of file."""

    kind: str  # as the command line names it: "clients", "call-list", ...
    table: str  # the table its records are stored in
    parsers: Mapping[str, Parser]  # column -> reader of its cells
    not_empty: tuple[str, ...]  # columns that may not be empty when present
    needs: Callable[[set[str], str | None], list[str]]
    """What a header (its columns, and the --name given) lacks for any row to be written."""
    plan: Callable[[ImportJob], Plan]
    apply: Callable[[ImportJob, Plan], None]
    columns: tuple[str, ...]  # the stored columns a row may set
    ignored: frozenset[str] = frozenset()  # columns exports write for people
    aliases: Mapping[str, str] = field(default_factory=dict)  # other names of columns
    noun: str = ""  # a record in messages, marked N_ (call lists name clients instead)
    required: tuple[str, ...] = ()  # columns a new record needs
    defaults: Mapping[str, object] = field(default_factory=dict)  # of a new record
    also_read: Mapping[str, str] = field(default_factory=dict)
    """Column present -> a stored column its rules need, read with it."""
    fill_new: Callable[[dict[str, Any], Policy], None] = _no_defaults
    """Fills in a new record's values that depend on the policy."""
    keep_results: KeepRule = _nothing_kept  # an import never undoes the result of a call
    builds_lists: bool = False  # call-list: supervisors only, --name, lists in the audit
