"""Importing appointments (``ringround import appointments``).

A new appointment needs a time (``starts_at``) and a client; without a
``status`` it gets the policy's first open status. An open status in the file
(``unconfirmed``, ``left message``) does not replace a closed one
(``confirmed``, ``cancelled``) unless the appointment moves to another time;
an empty status changes nothing.
"""

from __future__ import annotations

from typing import Any

from storage.i18n import N_, _
from storage.imports.cell_values import (
    confirmation_status,
    external_key,
    free_text,
    identifier,
    time_reader,
)
from storage.imports.client_records import apply_client_records, plan_client_records
from storage.imports.spec import KindSpec
from storage.policy import Policy


def _needs(columns: set[str], list_name: str | None) -> list[str]:
    if columns & {"id", "external_id"}:
        return []
    needs = []
    if "starts_at" not in columns:
        needs.append(_("a starts_at column (or id or external_id to update appointments)"))
    if not columns & {"client_id", "client_external_id"}:
        needs.append(_("a client_id or client_external_id column"))
    return needs


def _first_open_status(values: dict[str, Any], policy: Policy) -> None:
    if values.get("status") is None:
        values["status"] = policy.open_statuses[0]


def _keep_closed_status(values: dict[str, Any], stored: dict[str, Any], policy: Policy) -> bool:
    if "status" not in values:
        return False
    status = values["status"]
    moved = values.get("starts_at", stored["starts_at"]) != stored["starts_at"]
    if status is None:
        del values["status"]
    elif (
        status in policy.open_statuses
        and stored["status"] not in policy.open_statuses
        and not moved
    ):
        del values["status"]
        return bool(status != stored["status"])
    return False


APPOINTMENTS = KindSpec(
    kind="appointments",
    table="appointments",
    noun=N_("appointment"),
    parsers={
        "id": identifier,
        "client_id": identifier,
        "client_external_id": external_key,
        "starts_at": time_reader(date_alone=False),
        "doctor": free_text,
        "service": free_text,
        "status": confirmation_status,
        "external_id": external_key,
    },
    ignored=frozenset({"client"}),
    not_empty=("starts_at",),
    needs=_needs,
    columns=("client_id", "starts_at", "doctor", "service", "status", "external_id"),
    required=("starts_at",),
    defaults={"doctor": "", "service": ""},
    also_read={"status": "starts_at"},  # the status rule needs the current time of the visit
    fill_new=_first_open_status,
    keep_results=_keep_closed_status,
    plan=plan_client_records,
    apply=apply_client_records,
)
