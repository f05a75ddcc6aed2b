"""The import itself: check the whole file, plan every change, then write them in one go.

Every row is checked first (storage/imports/checking.py), then planned against
the database by its kind's spec; the changes are written in one write
transaction that plans again inside it, so the references (ids, external ids,
clients) are checked against what the database holds at the moment of
writing. Any problem leaves the database exactly as it was and is reported as
a :class:`BadFile` listing every problem with its line and column. A dry run
only plans, outside any transaction.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from storage.audit import audit
from storage.clients import rekey_phones
from storage.connection import Connection
from storage.engine import is_server_address, location_of, write
from storage.errors import BadInput, NotAllowed
from storage.i18n import _, ngettext, whole_number
from storage.imports.cell_values import MAX_LIST_NAME
from storage.imports.checking import read_table
from storage.imports.damage import LikelyDuplicate
from storage.imports.kinds import KINDS, SPECS
from storage.imports.problems import BadFile, Progress
from storage.imports.spec import ImportJob, KindSpec, Plan, Table
from storage.names import control_character
from storage.policy import Policy
from storage.shown import in_quotes


@dataclass(frozen=True)
class ImportResult:
    """What an import did (or, with dry_run, would do)."""

    kind: str
    source: str
    dry_run: bool
    rows: int  # data rows read
    added: int
    updated: int
    unchanged: int
    kept: int  # matched rows where a call result in the database won over the file
    changed_fields: Mapping[str, int]  # column -> updated rows where it changed
    lists_created: tuple[str, ...] = ()
    likely_duplicates: tuple[LikelyDuplicate, ...] = ()  # new clients like known ones

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.lists_created)


def import_csv(
    conn: Connection,
    policy: Policy,
    kind: str,
    data: bytes,
    *,
    source: str,
    operator: str,
    supervisor: bool,
    now: int,
    list_name: str | None = None,
    create_only: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Import one file (CSV or .xlsx) of ``kind`` (see the package text) in one write transaction.

    ``source`` names the file in messages and the audit. ``list_name`` is the
    call list (kind "call-list"); ``create_only`` refuses a list that exists.
    With ``dry_run`` nothing is written (the database is only read).

    Raises BadFile (nothing changed) for any problem in the file, NotAllowed
    when a call list is imported by someone who is not a supervisor, and
    BadInput for a kind or list name that makes no sense.
    """
    spec = SPECS.get(kind)
    if spec is None:
        raise BadInput(
            _("cannot import '{kind}'; choose one of {items}").format(
                kind=in_quotes(kind), items=", ".join(KINDS)
            )
        )
    if spec.builds_lists:
        if not supervisor:
            raise NotAllowed(_("Only a supervisor may build call lists."))
        if list_name is not None:
            list_name = list_name.strip()
            if (
                not list_name
                or len(list_name) > MAX_LIST_NAME
                or control_character(list_name) is not None
            ):
                raise BadInput(
                    _(
                        "The call list's name must have 1 to {count} characters, none of "
                        "them a control character."
                    ).format(count=MAX_LIST_NAME)
                )
    elif list_name is not None:
        raise BadInput(_("a list name is only for importing a call list"))
    table, problems = read_table(
        spec,
        data,
        policy,
        list_name=list_name,
        progress=progress,
        stores_nul=not is_server_address(location_of(conn)),
    )
    if problems and not table.rows:
        raise BadFile(source, problems)

    job = ImportJob(spec, conn, policy, table, operator, now, list_name, create_only, progress)

    def plan_it() -> Plan:
        plan = spec.plan(job)
        if problems or plan.problems:
            raise BadFile(source, [*problems, *plan.problems])
        return plan

    if dry_run or problems:
        # Reads only, outside any transaction: the plan is a preview (or a list of
        # problems); the real import plans again inside its write transaction.
        plan = plan_it()
    else:
        with write(conn):
            rekey_phones(conn, policy.phones)  # matched numbers compare keys of today's rules
            plan = plan_it()
            if plan.inserts or plan.updates or plan.lists_created:
                spec.apply(job, plan)
                audit(
                    conn,
                    now,
                    operator,
                    None,
                    "import",
                    None,
                    None,
                    **_audit_detail(spec, source, table, plan),
                )
    if progress is not None:
        progress("writing", 1, 1)
    return ImportResult(
        kind=kind,
        source=source,
        dry_run=dry_run,
        rows=table.count,
        added=len(plan.inserts),
        updated=len(plan.updates),
        unchanged=plan.unchanged,
        kept=plan.kept,
        changed_fields=dict(Counter(c for u in plan.updates for c in u.new).most_common()),
        lists_created=tuple(plan.lists_created),
        likely_duplicates=tuple(plan.likely_duplicates),
    )


def _audit_detail(spec: KindSpec, source: str, table: Table, plan: Plan) -> dict[str, object]:
    detail: dict[str, object] = {
        "kind": spec.kind,
        "file": source,
        "rows": table.count,
        "added": len(plan.inserts),
        "updated": len(plan.updates),
        "unchanged": plan.unchanged,
    }
    if spec.builds_lists:
        detail["lists"] = sorted(plan.touched_lists)
    return detail


def describe_result(result: ImportResult) -> str:
    """One sentence saying what the import did (or would do)."""
    fields = ", ".join(
        f"{name} {whole_number(count)}" for name, count in result.changed_fields.items()
    )
    updated = whole_number(result.updated) + (f" ({fields})" if fields else "")
    kept = (
        ngettext(
            "; {count} kept a call result the file would have undone",
            "; {count} kept a call result the file would have undone",
            result.kept,
        ).format(count=whole_number(result.kept))
        if result.kept
        else ""
    )
    lists = ""
    if result.lists_created:
        names = ", ".join(json.dumps(name, ensure_ascii=False) for name in result.lists_created)
        count = len(result.lists_created)
        lists = (
            ngettext(
                "; would make the call list {names}", "; would make the call lists {names}", count
            )
            if result.dry_run
            else ngettext("; made the call list {names}", "; made the call lists {names}", count)
        ).format(names=names)
    # "rows" after 1 as well: scripts read these lines (tests/cli/test_cli_data.py).
    rows = ngettext("{count} rows", "{count} rows", result.rows).format(
        count=whole_number(result.rows)
    )
    parts = {
        "source": result.source,
        "rows": rows,
        "added": whole_number(result.added),
        "updated": updated,
        "unchanged": whole_number(result.unchanged),
        "kept": kept,
        "lists": lists,
    }
    if result.dry_run:
        return _(
            "Dry run of {source} ({rows}): would add {added}, update {updated}, leave "
            "{unchanged} unchanged{kept}{lists}; nothing was changed."
        ).format(**parts)
    return _(
        "Imported {source} ({rows}): added {added}, updated {updated}, unchanged "
        "{unchanged}{kept}{lists}."
    ).format(**parts)
