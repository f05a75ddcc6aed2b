"""Matching the rows of a file to records of the database, and what would change.

A row is matched to a record by ``id`` (ringround's own id, as exported; it
must exist) or else by ``external_id`` (the id in the clinic's own system); a
row matching nothing adds a record. A row whose ``id`` and ``external_id``
name different records, or whose ``id`` names a record with another external
id, is refused (a file exported from another database, most likely); so is a
second row for the same record. Rows that name a client (appointments, tasks,
call-list items) do so by ``client_id`` or ``client_external_id``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from storage.connection import Connection
from storage.i18n import _
from storage.imports.damage import LostZeros
from storage.imports.problems import Problem
from storage.imports.spec import Plan, Row, Update
from storage.shown import in_quotes

CHUNK = 500  # ids per "IN (...)" query


def chunks(values: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def current_values(
    conn: Connection, table: str, columns: Sequence[str], ids: Iterable[int]
) -> dict[int, dict[str, Any]]:
    """The given columns of the rows with these ids, by id."""
    result: dict[int, dict[str, Any]] = {}
    wanted = sorted(set(ids))
    select = ", ".join(columns)
    for chunk in chunks(wanted):
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(f"SELECT id, {select} FROM {table} WHERE id IN ({marks})", chunk):
            result[row[0]] = dict(zip(columns, row[1:], strict=True))
    return result


def _keys(conn: Connection, table: str) -> tuple[set[int], dict[str, int]]:
    """Every id of the table, and the id of every external id."""
    ids: set[int] = set()
    external: dict[str, int] = {}
    for id_, ext in conn.execute(f"SELECT id, external_id FROM {table}"):
        ids.add(id_)
        if ext is not None:
            external[ext] = id_
    return ids, external


class Matcher:
    """Finds the record a row means (by id, else external_id) and catches repeats."""

    def __init__(self, conn: Connection, table: str, noun: str) -> None:
        self.ids, self.external = _keys(conn, table)
        self.external_of = {id_: ext for ext, id_ in self.external.items()}
        self.lost_zeros = LostZeros(self.external)
        self.noun = noun
        self.lines_of_target: dict[int, int] = {}
        self.lines_of_external: dict[str, int] = {}

    def match(self, row: Row, problems: list[Problem]) -> tuple[bool, int | None]:
        """(usable, id of the matched record or None for a new one)."""
        id_ = row.values.get("id")
        ext = row.values.get("external_id")
        target: int | None = None
        if id_ is not None:
            if id_ not in self.ids:
                problems.append(
                    Problem(
                        row.line,
                        "id",
                        _(
                            "there is no {noun} {id} in this database (leave id empty to add one)"
                        ).format(noun=self.noun, id=id_),
                    )
                )
                return False, None
            target = id_
            owner = self.external.get(ext) if ext is not None else None
            if owner is not None and owner != id_:
                problems.append(
                    Problem(
                        row.line,
                        "external_id",
                        _("'{ext}' is already the external id of {noun} {owner}").format(
                            ext=in_quotes(str(ext)), noun=self.noun, owner=owner
                        ),
                    )
                )
                return False, None
            had = self.external_of.get(id_)
            if ext is not None and had is not None and had != ext:
                # Its own id without the zeros a spreadsheet dropped, or another identity
                # (most likely a file from another database).
                lost = self.lost_zeros.problem(ext) if had.lstrip("0") == ext.lstrip("0") else None
                problems.append(
                    Problem(
                        row.line,
                        "external_id",
                        lost
                        or _(
                            "{noun} {id} has the external id '{had}', not '{ext}' (to change it, "
                            "import it empty first)"
                        ).format(noun=self.noun, id=id_, had=in_quotes(had), ext=in_quotes(ext)),
                    )
                )
                return False, None
        elif ext is not None:
            target = self.external.get(ext)
            damaged = self.lost_zeros.problem(ext) if target is None else None
            if damaged is not None:
                problems.append(Problem(row.line, "external_id", damaged))
                return False, None
        if ext is not None:
            earlier = self.lines_of_external.get(ext)
            if earlier is not None:
                problems.append(
                    Problem(
                        row.line,
                        "external_id",
                        _("'{ext}' is on line {earlier} already").format(
                            ext=in_quotes(ext), earlier=earlier
                        ),
                    )
                )
                return False, None
            self.lines_of_external[ext] = row.line
        if target is not None:
            earlier = self.lines_of_target.get(target)
            if earlier is not None:
                problems.append(
                    Problem(
                        row.line,
                        "id" if id_ is not None else "external_id",
                        _("the same {noun} as line {line}").format(noun=self.noun, line=earlier),
                    )
                )
                return False, None
            self.lines_of_target[target] = row.line
        return True, target


class ClientRefs:
    """Resolves client references (client_id / client_external_id) of rows."""

    def __init__(self, conn: Connection) -> None:
        self.ids, self.external = _keys(conn, "clients")
        self.lost_zeros = LostZeros(self.external)

    def resolve(self, row: Row, problems: list[Problem]) -> tuple[bool, int | None]:
        """(usable, the client meant or None when the row names none)."""
        client_id = row.values.get("client_id")
        ext = row.values.get("client_external_id")
        if client_id is not None and client_id not in self.ids:
            problems.append(
                Problem(
                    row.line,
                    "client_id",
                    _("there is no client {client_id}").format(client_id=client_id),
                )
            )
            return False, None
        if ext is None:
            return True, client_id
        owner = self.external.get(ext)
        if owner is None:
            problems.append(
                Problem(
                    row.line,
                    "client_external_id",
                    self.lost_zeros.problem(ext)
                    or _("no client has the external id '{ext}'").format(ext=in_quotes(ext)),
                )
            )
            return False, None
        if client_id is not None and owner != client_id:
            problems.append(
                Problem(
                    row.line,
                    "client_external_id",
                    _("'{ext}' is client {owner}, but client_id is {client_id}").format(
                        ext=in_quotes(ext), owner=owner, client_id=client_id
                    ),
                )
            )
            return False, None
        return True, owner


def diff(
    plan: Plan, row: Row, target: int, wanted: dict[str, Any], current: dict[str, Any], kept: bool
) -> None:
    """Record an update of ``target`` with the columns that differ."""
    new = {k: v for k, v in wanted.items() if current[k] != v}
    if new:
        plan.updates.append(Update(row.line, target, new, {k: current[k] for k in new}))
    else:
        plan.unchanged += 1
    plan.kept += kept
