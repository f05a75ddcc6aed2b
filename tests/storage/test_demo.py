"""The demo clinic: realistic, deterministic, always something to confirm, fast."""

from __future__ import annotations

import dataclasses
import re
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from storage import demo_data
from storage.connection import Connection
from storage.demo import DemoError, demo_info, demo_is_current, demo_speaks, make_demo
from storage.engine import open_engine
from storage.policy import Policy, default_policy, load_policy
from storage.sessions import Session
from storage.worklists import confirmation_days, confirmation_window, work_lists
from tests.database_contents import contents
from tests.stored_clinic import NOW, StoredClinic

MOBILE = re.compile(r"^\+7 9\d\d \d{3}-\d\d-\d\d$")
ANY_PHONE = re.compile(r"^(\+7 \d{3} |8 \(\d{3}\) )\d{3}-\d\d-\d\d$")
CYRILLIC_NAME = re.compile(r"^[А-ЯЁ][а-яё]+ [А-ЯЁ][а-яё]+ [А-ЯЁ][а-яё]+$")
ME = Session(10_000, "tester")


def _demo(
    location: str | Path,
    policy: Policy | None = None,
    *,
    clients: int = 300,
    seed: int = 1,
    now: int = NOW,
) -> Connection:
    conn = open_engine(location).connect(create=True)
    make_demo(conn, policy or default_policy(), clients=clients, seed=seed, now=now)
    return conn


def _dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def test_the_demo_is_a_plausible_clinic(engine_location: str) -> None:
    conn = _demo(engine_location)
    names = [row[0] for row in conn.execute("SELECT name FROM clients")]
    assert len(names) == 300
    russian = [n for n in names if CYRILLIC_NAME.match(n)]
    assert len(russian) > 250
    assert any(re.fullmatch(r"[A-Z][^\s]+ [A-Z][^\s]+", n) for n in names)  # some Latin names
    for name in russian:  # patronymic and surname agree with the first name's gender
        surname, first, patronymic = name.split()
        female = first in demo_data.FEMALE_NAMES
        assert patronymic.endswith(("вна", "чна")) == female, name
        if surname.endswith(("ов", "ев", "ёв", "ин")):
            assert not female, name
        if surname.endswith(("ова", "ева", "ёва", "ина", "ская")):
            assert female, name
    numbers = [row[0] for row in conn.execute("SELECT number FROM phones WHERE position = 1")]
    assert all(MOBILE.match(n) for n in numbers)
    assert all(ANY_PHONE.match(row[0]) for row in conn.execute("SELECT number FROM phones"))
    per_client = dict(
        conn.execute(
            "SELECT n, count(*) FROM (SELECT count(*) AS n FROM phones GROUP BY client_id)"
            " AS per_client GROUP BY n"
        )
    )
    assert set(per_client) == {1, 2, 3}
    shared = conn.execute(
        "SELECT count(*) FROM (SELECT digits FROM phones GROUP BY digits"
        " HAVING count(DISTINCT client_id) > 1) AS shared"
    ).fetchone()[0]
    assert shared >= 2  # families sharing a number
    assert conn.execute("SELECT count(*) FROM clients WHERE email LIKE '%@%.%'").fetchone()[0] > 50
    assert conn.execute("SELECT count(*) FROM clients WHERE do_not_call = 1").fetchone()[0] >= 2
    assert (
        conn.execute("SELECT count(*) FROM clients WHERE birth_date IS NOT NULL").fetchone()[0]
        > 250
    )
    if isinstance(conn, sqlite3.Connection):  # PostgreSQL checks both on every write
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_the_demo_fills_every_work_list(engine_location: str) -> None:
    policy = default_policy()
    conn = _demo(engine_location)
    lists = work_lists(conn, policy, ME, NOW)
    by_name = {(s.work_list.kind, s.work_list.name): s for s in lists}
    assert by_name[("appointment", "")].pending >= 10
    assert by_name[("item", "Hygiene recall, 6 months")].pending >= 10
    assert by_name[("item", "Flu vaccination reminder")].pending >= 5
    for kind in policy.callable_task_kinds:
        assert by_name[("task", kind)].pending >= 1, kind
    statuses = dict(
        conn.execute(
            "SELECT status, count(*) FROM appointments WHERE starts_at >= ? AND starts_at < ?"
            " GROUP BY status",
            confirmation_window(policy, NOW),
        ).fetchall()
    )
    assert statuses["unconfirmed"] > statuses["left message"] > 0
    assert statuses["confirmed"] > 0
    assert (
        conn.execute(
            "SELECT count(*) FROM appointments WHERE starts_at < ?", (NOW - 86400,)
        ).fetchone()[0]
        > 100
    )  # past visits
    assert (
        conn.execute(
            "SELECT count(*) FROM appointments WHERE starts_at > ?",
            (confirmation_window(policy, NOW)[1],),
        ).fetchone()[0]
        > 10
    )
    assert conn.execute("SELECT count(*) FROM tasks WHERE done_at IS NOT NULL").fetchone()[0] > 0
    assert conn.execute("SELECT count(*) FROM call_list_items WHERE note != ''").fetchone()[0] > 0
    # Earlier calls left comments for the next caller, with consistent calling state.
    assert conn.execute("SELECT count(*) FROM attempts WHERE comment != ''").fetchone()[0] > 0
    assert (
        conn.execute(
            "SELECT count(*) FROM attempts a LEFT JOIN call_rows r ON r.kind = a.kind"
            " AND r.source_id = a.source_id WHERE r.kind IS NULL"
        ).fetchone()[0]
        == 0
    )


@pytest.mark.parametrize("day_offset", range(7))
@pytest.mark.parametrize("hour", [0, 10, 23])
def test_appointments_to_confirm_whatever_the_weekday(
    engine_location: str, day_offset: int, hour: int
) -> None:
    policy = default_policy()
    start = datetime.fromtimestamp(NOW, policy.timezone).replace(hour=hour, minute=30)
    now = int((start + timedelta(days=day_offset)).timestamp())
    conn = _demo(engine_location, clients=40, now=now)
    window = confirmation_window(policy, now)
    lists = work_lists(conn, policy, ME, now)
    assert lists[0].work_list.kind == "appointment"
    assert lists[0].pending >= 3
    days = confirmation_days(policy, now)
    for (starts_at,) in conn.execute(
        "SELECT starts_at FROM appointments WHERE starts_at >= ? AND starts_at < ?", window
    ):
        moment = datetime.fromtimestamp(starts_at, policy.timezone)
        assert moment.date() in days
        assert (9, 0) <= (moment.hour, moment.minute) <= (19, 30)  # clinic hours


def test_a_wider_window_and_russian_texts(tmp_path: Path, engine_location: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(
        'language = "ru"\n[confirmation]\n'
        "window = { from_days = 1, to_days = 3, skip_weekends = true }\n",
        encoding="utf-8",
    )
    policy = load_policy(path)
    conn = _demo(engine_location, policy)
    days = {
        datetime.fromtimestamp(row[0], policy.timezone).date()
        for row in conn.execute(
            "SELECT starts_at FROM appointments WHERE starts_at >= ? AND starts_at < ?",
            confirmation_window(policy, NOW),
        )
    }
    assert days == set(confirmation_days(policy, NOW)) and len(days) == 3
    names = {row[0] for row in conn.execute("SELECT name FROM call_lists")}
    assert names == {"Профгигиена: прошло 6 месяцев", "Напоминание о прививке от гриппа"}


def test_same_seed_same_clinic(tmp_path: Path) -> None:
    _demo(tmp_path / "a.db", clients=120, seed=7).close()
    _demo(tmp_path / "b.db", clients=120, seed=7).close()
    _demo(tmp_path / "c.db", clients=120, seed=8).close()
    assert _dump(tmp_path / "a.db") == _dump(tmp_path / "b.db")
    assert _dump(tmp_path / "a.db") != _dump(tmp_path / "c.db")


def test_the_demo_marks_itself(engine_location: str) -> None:
    policy = default_policy()
    conn = _demo(engine_location, clients=50, seed=3)
    info = demo_info(conn)
    assert info is not None and (info.clients, info.seed, info.made_at) == (50, 3, NOW)
    assert info.language == "en" and demo_speaks(info, policy)
    assert not demo_speaks(info, dataclasses.replace(policy, language="ru"))
    assert demo_is_current(info, policy, NOW + 3600)
    assert not demo_is_current(info, policy, NOW + 86400)


def test_replacing_a_demo(engine_location: str) -> None:
    conn = _demo(engine_location, clients=50)
    with pytest.raises(DemoError):
        make_demo(conn, default_policy(), clients=60, now=NOW)
    summary = make_demo(conn, default_policy(), clients=60, seed=2, now=NOW, replace=True)
    assert summary.clients == 60
    assert conn.execute("SELECT count(*) FROM clients").fetchone()[0] == 60
    info = demo_info(conn)
    assert info is not None and (info.clients, info.seed) == (60, 2)


def test_never_written_over_clinic_data(clinic: StoredClinic) -> None:
    clinic.add_client("Real Patient")
    before = contents(clinic.conn)
    for replace in (False, True):
        with pytest.raises(DemoError, match="already holds clinic data"):
            make_demo(clinic.conn, default_policy(), clients=20, now=NOW, replace=replace)
    assert contents(clinic.conn) == before


def test_summary_matches_the_work_lists(conn: Connection) -> None:
    policy = default_policy()
    summary = make_demo(conn, policy, clients=300, now=NOW)
    lists = work_lists(conn, policy, ME, NOW)
    assert summary.to_confirm == lists[0].pending
    assert summary.pending_items == sum(s.pending for s in lists if s.work_list.kind == "item")
    assert summary.open_tasks == sum(s.pending for s in lists if s.work_list.kind == "task")
    assert summary.confirmation_days == tuple(confirmation_days(policy, NOW))


def test_feminine_surnames() -> None:
    assert demo_data.feminine("Иванов") == "Иванова"
    assert demo_data.feminine("Соловьёв") == "Соловьёва"
    assert demo_data.feminine("Ильин") == "Ильина"
    assert demo_data.feminine("Успенский") == "Успенская"
    assert demo_data.feminine("Трубецкой") == "Трубецкая"
    for same in ("Шевченко", "Черных", "Ким", "Цой"):
        assert demo_data.feminine(same) == same
    assert demo_data.latin("Фёдоров") == "fedorov"
    assert demo_data.latin("Müller") == "muller"


def test_too_few_clients(conn: Connection) -> None:
    with pytest.raises(ValueError):
        make_demo(conn, default_policy(), clients=3, now=NOW)
