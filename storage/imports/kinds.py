"""The kinds of file ``ringround import`` takes, each with its spec (storage/imports/spec.py)."""

from __future__ import annotations

from storage.imports.appointments import APPOINTMENTS
from storage.imports.call_lists import CALL_LIST
from storage.imports.clients import CLIENTS
from storage.imports.spec import KindSpec
from storage.imports.tasks import TASKS

SPECS: dict[str, KindSpec] = {spec.kind: spec for spec in (CLIENTS, APPOINTMENTS, TASKS, CALL_LIST)}
KINDS = tuple(SPECS)
