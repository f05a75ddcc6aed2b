"""Importing records that belong to a client: appointments and tasks.

Both are matched like clients (storage/imports/matching.py) and name their
client by ``client_id`` or ``client_external_id``. A new record needs its
spec's ``required`` columns and a client. A matched record gets the columns
present in the file, except what its spec's ``keep_results`` holds back so
that an import never undoes the result of a call.
"""

from __future__ import annotations

from storage.i18n import _
from storage.imports.matching import ClientRefs, Matcher, current_values, diff
from storage.imports.problems import PROGRESS_EVERY, Problem
from storage.imports.spec import ImportJob, Plan, Row


def plan_client_records(job: ImportJob) -> Plan:
    """Check every row against the database and work out what would change."""
    spec, table, progress = job.spec, job.table, job.progress
    noun = _(spec.noun)
    plan = Plan()
    matcher = Matcher(job.conn, spec.table, noun)
    clients = ClientRefs(job.conn)
    matched: list[tuple[Row, int | None, int | None]] = []
    for row in table.rows:
        usable, target = matcher.match(row, plan.problems)
        good, client_id = clients.resolve(row, plan.problems)
        if not (usable and good):
            continue
        if target is None:
            missing = [c for c in spec.required if row.values.get(c) is None]
            if client_id is None:
                missing.append(
                    _("{column} or {other}").format(column="client_id", other="client_external_id")
                )
            if missing:
                column = missing[0] if missing[0] in spec.required else "client_id"
                plan.problems.append(
                    Problem(
                        row.line,
                        column,
                        _("a new {noun} needs {columns}").format(
                            noun=noun, columns=_(" and ").join(missing)
                        ),
                    )
                )
                continue
        matched.append((row, target, client_id))
    present = [
        c
        for c in spec.columns
        if c in table.columns or (c == "client_id" and "client_external_id" in table.columns)
    ]
    for column, needed in spec.also_read.items():
        if column in present and needed not in present:
            present.append(needed)
    targets = [t for _, t, _ in matched if t is not None]
    current = (
        current_values(job.conn, spec.table, present, targets)
        if present
        else {t: {} for t in targets}
    )
    for done, (row, target, client_id) in enumerate(matched, start=1):
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress("checking", done, len(matched))
        values = {k: v for k, v in row.values.items() if k in spec.columns and k != "client_id"}
        if client_id is not None:
            values["client_id"] = client_id
        if target is None:
            spec.fill_new(values, job.policy)
            plan.inserts.append({"line": row.line, **values})
            continue
        kept = spec.keep_results(values, current[target], job.policy)
        diff(plan, row, target, values, current[target], kept)
    return plan


def apply_client_records(job: ImportJob, plan: Plan) -> None:
    """Write the plan: new records (the spec's defaults for columns left out), then updates."""
    spec = job.spec
    columns = ", ".join(spec.columns)
    marks = ", ".join("?" * len(spec.columns))
    job.conn.executemany(
        f"INSERT INTO {spec.table} ({columns}) VALUES ({marks})",
        [tuple(v.get(c, spec.defaults.get(c)) for c in spec.columns) for v in plan.inserts],
    )
    for update in plan.updates:
        sets = ", ".join(f"{column} = ?" for column in update.new)
        job.conn.execute(
            f"UPDATE {spec.table} SET {sets} WHERE id = ?", (*update.new.values(), update.id)
        )
