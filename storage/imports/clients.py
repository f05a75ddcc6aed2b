"""Importing clients (``ringround import clients``).

Matched clients get the columns present in the file; a new client needs a
name. ``do_not_call`` is set by an import but never cleared (counted as
"kept"). Phone numbers replace the client's numbers as a whole; a new client
with the name and a phone of someone known is reported as a likely duplicate
(storage/imports/damage.py). Every changed field of a matched client goes to
the audit as a card edit made "via import".
"""

from __future__ import annotations

from typing import Any

from storage.audit import audit
from storage.clients import store_phones
from storage.i18n import N_, _
from storage.id_sequences import catch_up_ids
from storage.imports.cell_values import (
    birth_date,
    external_key,
    free_text,
    full_name,
    identifier,
    phone_numbers,
    yes_no,
)
from storage.imports.damage import likely_duplicates
from storage.imports.matching import Matcher, chunks, current_values
from storage.imports.problems import PROGRESS_EVERY, Problem
from storage.imports.spec import ImportJob, KindSpec, Plan, Row, Update
from storage.policy import Policy


def _needs(columns: set[str], list_name: str | None) -> list[str]:
    if columns & {"id", "external_id"} or "name" in columns:
        return []
    return [_("a name column (or id or external_id to update clients)")]


def _keep_do_not_call(values: dict[str, Any], stored: dict[str, Any], policy: Policy) -> bool:
    """``do_not_call`` is set by an import but never cleared."""
    if "do_not_call" not in values:
        return False
    wanted = bool(values["do_not_call"])
    values["do_not_call"] = int(wanted or stored["do_not_call"])
    return wanted != bool(values["do_not_call"])


def _plan(job: ImportJob) -> Plan:
    conn, table, progress = job.conn, job.table, job.progress
    plan = Plan()
    matcher = Matcher(conn, job.spec.table, _(job.spec.noun))
    matched: list[tuple[Row, int | None]] = []
    for row in table.rows:
        usable, target = matcher.match(row, plan.problems)
        if not usable:
            continue
        if target is None and "name" not in row.values:
            plan.problems.append(Problem(row.line, "name", _("a new client needs a name")))
            continue
        matched.append((row, target))
    fields = [c for c in job.spec.columns if c in table.columns]
    targets = [t for _, t in matched if t is not None]
    current = (
        current_values(conn, job.spec.table, fields, targets)
        if fields
        else {t: {} for t in targets}
    )
    if "phones" in table.columns:
        for client_id in current:
            current[client_id]["phones"] = ()
        for chunk in chunks(sorted(current)):
            marks = ",".join("?" * len(chunk))
            for client_id, number in conn.execute(
                f"SELECT client_id, number FROM phones WHERE client_id IN ({marks})"
                " ORDER BY client_id, position",
                chunk,
            ):
                current[client_id]["phones"] += (number,)
    for done, (row, target) in enumerate(matched, start=1):
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress("checking", done, len(matched))
        values = row.values
        if target is None:
            plan.inserts.append({"line": row.line, **values})
            continue
        wanted = {k: v for k, v in values.items() if k != "id"}
        kept = job.spec.keep_results(wanted, current[target], job.policy)
        phones = wanted.pop("phones", None)
        new = {k: v for k, v in wanted.items() if current[target][k] != v}
        old = {k: current[target][k] for k in new}
        if phones is not None and tuple(n for n, _ in phones) != current[target]["phones"]:
            new["phones"] = phones
            old["phones"] = current[target]["phones"]
        if new:
            plan.updates.append(Update(row.line, target, new, old))
        else:
            plan.unchanged += 1
        plan.kept += kept
    plan.likely_duplicates = likely_duplicates(
        conn,
        [
            (values["line"], values["name"], [key for _, key in values.get("phones", ())])
            for values in plan.inserts
        ],
    )
    return plan


def _apply(job: ImportJob, plan: Plan) -> None:
    conn, operator, now, progress = job.conn, job.operator, job.now, job.progress
    next_id = int(conn.execute("SELECT coalesce(max(id), 0) + 1 FROM clients").fetchone()[0])
    clients, phones = [], []
    for offset, values in enumerate(plan.inserts):
        client_id = next_id + offset
        clients.append(
            (
                client_id,
                values.get("external_id"),
                values["name"],
                values.get("birth_date"),
                values.get("email", ""),
                values.get("notes", ""),
                int(values.get("do_not_call", False)),
            )
        )
        phones += [
            (client_id, position, number, key)
            for position, (number, key) in enumerate(values.get("phones", ()), start=1)
        ]
    conn.executemany(
        "INSERT INTO clients (id, external_id, name, birth_date, email, notes,"
        " do_not_call) VALUES (?, ?, ?, ?, ?, ?, ?)",
        clients,
    )
    catch_up_ids(conn)  # the clients were written with their ids
    conn.executemany(
        "INSERT INTO phones (client_id, position, number, digits) VALUES (?, ?, ?, ?)", phones
    )
    if progress is not None:
        progress("writing", len(plan.inserts), len(plan.inserts) + len(plan.updates))
    for update in plan.updates:
        new = dict(update.new)
        numbers = new.pop("phones", None)
        if new:
            sets = ", ".join(f"{column} = ?" for column in new)
            conn.execute(f"UPDATE clients SET {sets} WHERE id = ?", (*new.values(), update.id))
        if numbers is not None:
            store_phones(conn, update.id, numbers)
        for column, value in update.new.items():
            old = update.old[column]
            if column == "phones":
                value, old = [n for n, _ in value], list(old)
            elif column == "do_not_call":
                value, old = bool(value), bool(old)
            audit(
                conn,
                now,
                operator,
                None,
                "card-edit",
                None,
                update.id,
                field=column,
                old=old,
                new=value,
                via="import",
            )


CLIENTS = KindSpec(
    kind="clients",
    table="clients",
    noun=N_("client"),
    parsers={
        "id": identifier,
        "name": full_name,
        "phones": phone_numbers,
        "do_not_call": yes_no,
        "external_id": external_key,
        "birth_date": birth_date,
        "email": free_text,
        "notes": free_text,
    },
    not_empty=("name",),
    needs=_needs,
    columns=("external_id", "name", "birth_date", "email", "notes", "do_not_call"),
    keep_results=_keep_do_not_call,
    plan=_plan,
    apply=_apply,
)
