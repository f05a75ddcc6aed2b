"""Importing tasks (``ringround import tasks``).

A new task needs a kind, a due time (a date alone means 00:00) and a client.
An empty ``done_at`` keeps a done task done (counted as "kept").
"""

from __future__ import annotations

from storage.i18n import N_, _
from storage.imports.cell_values import (
    external_key,
    free_text,
    identifier,
    task_kind,
    time_reader,
)
from storage.imports.client_records import apply_client_records, plan_client_records
from storage.imports.spec import KindSpec, stays_done


def _needs(columns: set[str], list_name: str | None) -> list[str]:
    if columns & {"id", "external_id"}:
        return []
    needs = [
        _("a {column} column (or id or external_id to update tasks)").format(column=column)
        for column in ("kind", "due_at")
        if column not in columns
    ]
    if not columns & {"client_id", "client_external_id"}:
        needs.append(_("a client_id or client_external_id column"))
    return needs


TASKS = KindSpec(
    kind="tasks",
    table="tasks",
    noun=N_("task"),
    parsers={
        "id": identifier,
        "client_id": identifier,
        "client_external_id": external_key,
        "kind": task_kind,
        "title": free_text,
        "due_at": time_reader(date_alone=True),
        "done_at": time_reader(date_alone=True),
        "external_id": external_key,
    },
    ignored=frozenset({"client"}),
    not_empty=("kind", "due_at"),
    needs=_needs,
    columns=("client_id", "kind", "title", "due_at", "done_at", "external_id"),
    required=("kind", "due_at"),
    defaults={"title": ""},
    keep_results=stays_done("done_at"),
    plan=plan_client_records,
    apply=apply_client_records,
)
