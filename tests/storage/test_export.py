"""CSV export: the documented columns (storage/export.py), ISO times with the clinic's
offset, streaming in short reads."""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

import pytest

from storage import export
from storage.audit import audit
from storage.connection import Connection
from storage.database import open_database
from storage.demo import make_demo
from storage.engine import write
from storage.export import COLUMNS, KINDS, export_csv
from storage.locks import Claim, claim_row, finish_call
from storage.policy import Policy
from storage.rows import RowKey
from tests.stored_clinic import NOW, StoredClinic, clinic_time

SPEC_COLUMNS = {
    "clients": ["id", "name", "phones", "do_not_call"],
    "appointments": ["id", "client_id", "client", "starts_at", "doctor", "service", "status"],
    "calls": ["row", "client", "operator", "started_at", "ended_at", "mode", "outcome", "comment"],
    "locks": ["row", "client", "operator", "session", "since", "alive"],
}


def _export(
    conn: Connection, policy: Policy, kind: str, *, now: int = NOW, bom: bool = False
) -> tuple[str, list[dict[str, str]]]:
    out = io.StringIO()
    count = export_csv(conn, policy, kind, out, now=now, bom=bom)
    text = out.getvalue()
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert count == len(rows)
    return text, rows


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_its_header_even_when_empty(
    conn: Connection, policy: Policy, kind: str
) -> None:
    text, rows = _export(conn, policy, kind)
    assert text == ",".join(COLUMNS[kind]) + "\n"
    assert rows == []
    if kind in SPEC_COLUMNS:
        assert list(COLUMNS[kind][: len(SPEC_COLUMNS[kind])]) == SPEC_COLUMNS[kind]


def test_clients(clinic: StoredClinic, policy: Policy) -> None:
    first = clinic.add_client(
        "Иванова Анна Сергеевна",
        ("+7 916 123-45-67", "+7 495 000-11-22"),
        birth_date="1980-02-29",
        email="anna@example.ru",
        notes='Says "call after 6",\nnot before',
    )
    clinic.add_client("Smith, John", (), do_not_call=True)
    _, rows = _export(clinic.conn, policy, "clients")
    assert rows[0] == {
        "id": str(first),
        "name": "Иванова Анна Сергеевна",
        "phones": "'+7 916 123-45-67;+7 495 000-11-22",
        "do_not_call": "0",
        "external_id": "",
        "birth_date": "1980-02-29",
        "email": "anna@example.ru",
        "notes": 'Says "call after 6",\nnot before',
    }
    assert rows[1]["name"] == "Smith, John"
    assert rows[1]["phones"] == "" and rows[1]["do_not_call"] == "1"


def test_appointments_and_tasks_in_clinic_time(clinic: StoredClinic, policy: Policy) -> None:
    client = clinic.add_client("Петров Пётр Петрович")
    appointment = clinic.add_appointment(
        client, clinic_time(2025, 3, 13, 10, 30), doctor="Петрова А. В.", service="Осмотр"
    )
    task = clinic.add_task(
        client,
        "recall",
        clinic_time(2025, 3, 12, 9),
        title="Recall",
        done_at=clinic_time(2025, 3, 12, 11, 5),
    )
    _, appointments = _export(clinic.conn, policy, "appointments")
    assert appointments == [
        {
            "id": str(appointment),
            "client_id": str(client),
            "client": "Петров Пётр Петрович",
            "starts_at": "2025-03-13T10:30:00+03:00",
            "doctor": "Петрова А. В.",
            "service": "Осмотр",
            "status": "unconfirmed",
            "external_id": "",
        }
    ]
    _, tasks = _export(clinic.conn, policy, "tasks")
    assert tasks == [
        {
            "id": str(task),
            "client_id": str(client),
            "client": "Петров Пётр Петрович",
            "kind": "recall",
            "title": "Recall",
            "due_at": "2025-03-12T09:00:00+03:00",
            "done_at": "2025-03-12T11:05:00+03:00",
            "external_id": "",
        }
    ]


def test_calls_locks_and_audit(clinic: StoredClinic, policy: Policy) -> None:
    client = clinic.add_client("Client A")
    appointment = clinic.add_appointment(client, clinic_time(2025, 3, 13, 11))
    other = clinic.add_appointment(client, clinic_time(2025, 3, 13, 12))
    alice = clinic.session("alice")
    claim = claim_row(clinic.conn, policy, alice, RowKey("appointment", appointment), NOW)
    assert isinstance(claim, Claim)
    finish_call(clinic.conn, policy, alice, claim, "no-answer", "Try later", NOW + 60)
    bob = clinic.session("bob", NOW + 70)
    claim_row(clinic.conn, policy, bob, RowKey("appointment", other), NOW + 70)

    _, calls = _export(clinic.conn, policy, "calls", now=NOW + 80)
    assert calls == [
        {
            "row": f"appointment:{appointment}",
            "client": "Client A",
            "operator": "alice",
            "started_at": "2025-03-12T10:00:00+03:00",
            "ended_at": "2025-03-12T10:01:00+03:00",
            "mode": "manual",
            "outcome": "no-answer",
            "comment": "Try later",
            "number": "",
            "callback_at": "",
            "client_id": str(client),
            "session": str(alice.id),
        }
    ]
    _, locks = _export(clinic.conn, policy, "locks", now=NOW + 80)
    assert locks == [
        {
            "row": f"appointment:{other}",
            "client": "Client A",
            "operator": "bob",
            "session": str(bob.id),
            "since": "2025-03-12T10:01:10+03:00",
            "alive": "1",
        }
    ]
    _, later = _export(clinic.conn, policy, "locks", now=NOW + 80 + policy.alive_for + 1)
    assert later[0]["alive"] == "0"
    _, audit = _export(clinic.conn, policy, "audit")
    assert [(a["operator"], a["event"], a["row"]) for a in audit] == [
        ("alice", "claim", f"appointment:{appointment}"),
        ("alice", "release", f"appointment:{appointment}"),
        ("bob", "claim", f"appointment:{other}"),
    ]
    assert audit[0]["at"] == "2025-03-12T10:00:00+03:00"
    assert '"outcome": "no-answer"' in audit[1]["detail"]


def test_bom_for_excel(clinic: StoredClinic, policy: Policy) -> None:
    clinic.add_client("Ёлкина Зоя")
    text, rows = _export(clinic.conn, policy, "clients", bom=True)
    assert text.startswith("\ufeffid,name,")
    assert rows[0]["name"] == "Ёлкина Зоя"


def test_unknown_kind(conn: Connection, policy: Policy) -> None:
    with pytest.raises(ValueError, match="choose one of"):
        export_csv(conn, policy, "patients", io.StringIO(), now=NOW)


class CheckpointingWriter(io.StringIO):
    """Output that, on each write, checks no read transaction blocks a full checkpoint."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.other = sqlite3.connect(path, isolation_level=None)
        self.checks = 0

    def write(self, text: str) -> int:
        self.other.execute("BEGIN IMMEDIATE")
        audit(self.other, 0, "x", None, "probe")
        self.other.execute("COMMIT")
        self.other.execute("INSERT INTO tasks (client_id, kind, due_at) VALUES (1, 'x', 0)")
        busy, _, _ = self.other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0, "the export holds a read transaction while writing"
        self.checks += 1
        return super().write(text)


@pytest.mark.parametrize("kind", ["clients", "appointments", "tasks", "calls", "audit"])
def test_streams_in_short_reads(
    tmp_path: Path, policy: Policy, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    path = tmp_path / "demo.db"
    conn = open_database(path, create=True)
    make_demo(conn, policy, clients=200, now=NOW)
    with write(conn):
        for n in range(20):
            audit(conn, NOW + n, "x", None, "test")
    monkeypatch.setattr(export, "BATCH", 2)
    expected = list(csv.reader(io.StringIO(_export(conn, policy, kind)[0])))
    out = CheckpointingWriter(path)
    try:
        # Rows saved meanwhile (the probe's) are not exported: the export ends.
        export_csv(conn, policy, kind, out, now=NOW)
        assert list(csv.reader(io.StringIO(out.getvalue()))) == expected
        assert len(expected) > 3 * 2 + 1  # several batches
        assert out.checks >= len(expected)
        assert not conn.in_transaction
    finally:
        out.other.close()
        conn.close()


def test_phones_of_a_batch_boundary_client(
    clinic: StoredClinic, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "BATCH", 2)
    for n in range(5):
        clinic.add_client(f"Client {n}", tuple(f"+7 900 000-00-{n}{p}" for p in range(n % 3 + 1)))
    _, rows = _export(clinic.conn, policy, "clients")
    assert [r["phones"].count(";") for r in rows] == [0, 1, 2, 0, 1]
    assert rows[4]["phones"] == "'+7 900 000-00-40;+7 900 000-00-41"  # storage/cells.py
