"""Checking a file against its kind: the header names known columns, every cell holds a value.

The header row names the columns in any order; names are matched without
regard to case, surrounding spaces, or ``-``/space instead of ``_``. An
unknown or repeated column is an error (usually a typo). Empty lines, and
lines whose fields are all empty, are skipped. Each cell is read by its
column's reader (storage/imports/cell_values.py) after the damage checks of
storage/imports/damage.py.
"""

from __future__ import annotations

import re
from typing import Any

from storage.i18n import _, ngettext
from storage.imports.cell_values import BadValue
from storage.imports.damage import garbled_problem
from storage.imports.files import Broken, Unreadable, file_records
from storage.imports.problems import PROGRESS_EVERY, Problem, Progress
from storage.imports.spec import KindSpec, Row, Table
from storage.imports.workbooks import is_workbook
from storage.policy import Policy
from storage.shown import in_quotes


def _canonical(name: str) -> str:
    return re.sub(r"[\s-]+", "_", name.strip().strip("\ufeff").strip().casefold())


def _header(spec: KindSpec, names: list[str]) -> tuple[list[str | None], list[Problem]]:
    """For each column of the file: its canonical name (None: ignored), and problems."""
    known = sorted({*spec.parsers, *spec.ignored, *spec.aliases})
    problems: list[Problem] = []
    result: list[str | None] = []
    seen: dict[str, str] = {}
    for position, written in enumerate(names, start=1):
        name = _canonical(written)
        canonical = spec.aliases.get(name, name)
        if not name:
            problems.append(Problem(1, f"#{position}", _("this column has no name")))
            result.append(None)
            continue
        if canonical not in spec.parsers and canonical not in spec.ignored:
            problems.append(
                Problem(
                    1,
                    written.strip(),
                    _("unknown column for {kind} (known: {items})").format(
                        kind=spec.kind, items=", ".join(known)
                    ),
                )
            )
            result.append(None)
            continue
        if canonical in seen:
            also = (
                ""
                if seen[canonical] == written.strip()
                else _(" (as '{name}')").format(name=in_quotes(seen[canonical]))
            )
            problems.append(
                Problem(1, written.strip(), _("this column appears twice{also}").format(also=also))
            )
            result.append(None)
            continue
        seen[canonical] = written.strip()
        result.append(canonical if canonical in spec.parsers else None)
    return result, problems


def read_table(
    spec: KindSpec,
    data: bytes,
    policy: Policy,
    *,
    list_name: str | None = None,
    progress: Progress | None = None,
    stores_nul: bool,
) -> tuple[Table, list[Problem]]:
    """Read and check the file (CSV or .xlsx): the parsed rows, and every problem found in them.

    ``stores_nul``: the database can store a NUL character (SQLite can, PostgreSQL cannot);
    a CSV file holding one is refused anyway, a workbook cell can hold one (``_x0000_``).
    """
    try:
        records, total_lines = file_records(data)
        first = next(records, None)
    except Unreadable as unreadable:
        return Table((), [], 0), unreadable.problems
    except Broken as broken:
        return Table((), [], 0), [Problem(broken.line, "", broken.problem)]
    if first is None or not any(name.strip() for name in first[1]):
        return Table((), [], 0), [Problem(1, "", _("the first line must name the columns"))]
    names = first[1]
    columns, problems = _header(spec, names)
    if spec.builds_lists and list_name is not None:
        columns = [None if c == "list" else c for c in columns]  # --name wins
    present = {c for c in columns if c is not None}
    problems += [
        Problem(1, "", _("the file needs {need}").format(need=need))
        for need in spec.needs(present, list_name)
    ]
    if problems:
        return Table((), [], 0), problems
    not_empty = set(spec.not_empty)
    workbook = is_workbook(data)  # a sheet leaves out the empty cells at the end of a row
    rows: list[Row] = []
    count = 0
    try:
        for line, record, bad in records:
            if not any(field.strip() for field in record) and not bad:
                continue
            count += 1
            if progress is not None and count % PROGRESS_EVERY == 0:
                progress("reading", min(line, total_lines), total_lines)
            if len(record) > len(names) or (len(record) < len(names) and not workbook):
                problems.append(
                    Problem(
                        line,
                        "",
                        ngettext(
                            "has {count} field but the header has {header}",
                            "has {count} fields but the header has {header}",
                            len(record),
                        ).format(count=len(record), header=len(names)),
                    )
                )
                continue
            record = record + [""] * (len(names) - len(record))
            values: dict[str, Any] = {}
            good = True
            for cell in bad:
                if columns[cell.column] is not None:  # a formula in an ignored column is fine
                    problems.append(Problem(line, names[cell.column].strip(), cell.reason))
                    good = False
            for column, raw in zip(columns, record, strict=True):
                if column is None:
                    continue
                if column in not_empty and not raw.strip():
                    problems.append(Problem(line, column, _("is empty")))
                    good = False
                    continue
                if not stores_nul and "\x00" in raw:
                    problems.append(
                        Problem(
                            line,
                            column,
                            _("holds a NUL character, which a PostgreSQL database cannot store"),
                        )
                    )
                    good = False
                    continue
                garbled = garbled_problem(raw)
                if garbled is not None:
                    problems.append(Problem(line, column, garbled))
                    good = False
                    continue
                try:
                    values[column] = spec.parsers[column](raw, policy)
                except BadValue as bad_value:
                    problems.append(Problem(line, column, str(bad_value)))
                    good = False
            if good:
                rows.append(Row(line, values))
    except Broken as broken:
        problems.append(
            Problem(
                broken.line,
                "",
                _("{problem}; the rest of the file was not read").format(problem=broken.problem),
            )
        )
    if progress is not None:
        progress("reading", total_lines, total_lines)
    return Table(tuple(c for c in columns if c is not None), rows, count), problems
