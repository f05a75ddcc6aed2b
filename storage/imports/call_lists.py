"""Importing a call list (``ringround import call-list --name NAME``): one row per client.

The list is made if there is none of that name (``ringround lists create``
refuses one that exists); a client already on it is updated, not added
twice. The columns of a clients export are taken too (``id`` and
``external_id`` as the client's, the others ignored), so a clients export
filtered in a spreadsheet is a call list as it is. An empty ``processed_at``
keeps a processed item processed. A closed list is refused until it is
reopened. Needs the supervisor role.
"""

from __future__ import annotations

from storage.audit import audit
from storage.i18n import _
from storage.imports.cell_values import (
    call_list_name,
    external_key,
    free_text,
    identifier,
    time_reader,
)
from storage.imports.matching import ClientRefs, diff
from storage.imports.problems import PROGRESS_EVERY, Problem
from storage.imports.spec import ImportJob, KindSpec, Plan, Row, stays_done
from storage.shown import in_quotes


def _needs(columns: set[str], list_name: str | None) -> list[str]:
    needs = []
    if not columns & {"client_id", "client_external_id"}:
        needs.append(
            _(
                "a client_id or client_external_id column (id and external_id are "
                "taken as the client's)"
            )
        )
    if list_name is None and "list" not in columns:
        needs.append(_("a list column, or the list's name given with --name"))
    return needs


def _plan(job: ImportJob) -> Plan:
    conn, table, list_name, progress = job.conn, job.table, job.list_name, job.progress
    plan = Plan()
    clients = ClientRefs(conn)
    lists: dict[str, tuple[int, bool]] = {
        name: (id_, closed is not None)
        for id_, name, closed in conn.execute("SELECT id, name, closed_at FROM call_lists")
    }
    if job.create_only and list_name is not None and list_name in lists:
        plan.problems.append(
            Problem(
                0,
                "",
                _(
                    "a call list named '{list_name}' already "
                    "exists (import into it with 'ringround "
                    "import call-list --name')"
                ).format(list_name=in_quotes(list_name)),
            )
        )
        return plan
    if job.create_only and not table.rows and not table.count:
        plan.problems.append(
            Problem(0, "", _("the file names no clients; a new call list needs at least one"))
        )
        return plan
    seen: dict[tuple[str, int], int] = {}
    matched: list[tuple[Row, str, int]] = []
    for row in table.rows:
        good, client_id = clients.resolve(row, plan.problems)
        if not good:
            continue
        if client_id is None:
            plan.problems.append(
                Problem(
                    row.line, "client_id", _("names no client (client_id or client_external_id)")
                )
            )
            continue
        name = list_name if list_name is not None else row.values["list"]
        earlier = seen.get((name, client_id))
        if earlier is not None:
            plan.problems.append(
                Problem(
                    row.line,
                    "client_id",
                    _("client {client_id} is on line {earlier} already").format(
                        client_id=client_id, earlier=earlier
                    ),
                )
            )
            continue
        seen[(name, client_id)] = row.line
        if name not in lists and name not in plan.lists_created:
            plan.lists_created[name] = row.line
        matched.append((row, name, client_id))
    list_ids = [lists[name][0] for name in {n for _, n, _ in matched} if name in lists]
    current: dict[tuple[int, int], tuple[int, str, int | None]] = {}
    for list_id in list_ids:
        for item_id, client_id, note, processed in conn.execute(
            "SELECT id, client_id, note, processed_at FROM call_list_items WHERE list_id = ?",
            (list_id,),
        ):
            current[(list_id, client_id)] = (item_id, note, processed)
    closed_reported: set[str] = set()
    for done, (row, name, client_id) in enumerate(matched, start=1):
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress("checking", done, len(matched))
        values = {k: v for k, v in row.values.items() if k in job.spec.columns}
        existing = current.get((lists[name][0], client_id)) if name in lists else None
        if existing is None:
            plan.inserts.append({"line": row.line, "list": name, "client_id": client_id, **values})
            changed = True
        else:
            item_id, note, processed = existing
            stored = {"note": note, "processed_at": processed}
            kept = job.spec.keep_results(values, stored, job.policy)
            before = len(plan.updates)
            diff(plan, row, item_id, values, stored, kept)
            changed = len(plan.updates) > before
        if changed:
            plan.touched_lists.add(name)
        if changed and name in lists and lists[name][1] and name not in closed_reported:
            closed_reported.add(name)
            plan.problems.append(
                Problem(
                    row.line,
                    "list" if list_name is None else "",
                    _(
                        "the call list '{name}' is closed; reopen it "
                        "first ('ringround lists reopen')"
                    ).format(name=in_quotes(name)),
                )
            )
    plan.list_ids = {name: lists[name][0] for name in lists}
    return plan


def _apply(job: ImportJob, plan: Plan) -> None:
    conn, operator, now = job.conn, job.operator, job.now
    for name in plan.lists_created:
        list_id = conn.execute(
            "INSERT INTO call_lists (name, created_at, created_by) VALUES (?, ?, ?) RETURNING id",
            (name, now, operator),
        ).fetchone()[0]
        plan.list_ids[name] = int(list_id)
        audit(
            conn,
            now,
            operator,
            None,
            "list-create",
            None,
            None,
            list=name,
            list_id=list_id,
            items=sum(1 for v in plan.inserts if v["list"] == name),
        )
    conn.executemany(
        "INSERT INTO call_list_items (list_id, client_id, note, processed_at) VALUES (?, ?, ?, ?)",
        [
            (plan.list_ids[v["list"]], v["client_id"], v.get("note", ""), v.get("processed_at"))
            for v in plan.inserts
        ],
    )
    for update in plan.updates:
        sets = ", ".join(f"{column} = ?" for column in update.new)
        conn.execute(
            f"UPDATE call_list_items SET {sets} WHERE id = ?", (*update.new.values(), update.id)
        )


CALL_LIST = KindSpec(
    kind="call-list",
    table="call_list_items",
    parsers={
        "list": call_list_name,
        "client_id": identifier,
        "client_external_id": external_key,
        "note": free_text,
        "processed_at": time_reader(date_alone=True),
    },
    ignored=frozenset(
        {"client", "name", "phones", "state", "do_not_call", "birth_date", "email", "notes"}
    ),
    aliases={"id": "client_id", "external_id": "client_external_id"},
    not_empty=("list",),
    needs=_needs,
    columns=("note", "processed_at"),
    keep_results=stays_done("processed_at"),
    plan=_plan,
    apply=_apply,
    builds_lists=True,
)
