"""The app's connections (storage/connections.py): lent to one job at a time, few kept open."""

from __future__ import annotations

import threading

from storage.changes import latest
from storage.connections import IDLE_KEPT, Connections
from storage.engine import open_engine
from tests.waiting import PATIENCE


def test_jobs_one_after_another_share_one_connection(engine_location: str) -> None:
    connections = Connections(open_engine(engine_location))
    try:
        seen = []
        for _job in range(5):
            with connections.borrow() as conn:
                assert latest(conn) == 0
                seen.append(conn)
        assert len({id(conn) for conn in seen}) == 1
        assert connections.open_count == 1
    finally:
        connections.close_all()
    assert connections.open_count == 0


def test_jobs_at_once_each_get_one_and_few_stay_open(engine_location: str) -> None:
    connections = Connections(open_engine(engine_location))
    jobs = IDLE_KEPT + 3
    inside = threading.Barrier(jobs)  # every job holds its connection at the same moment
    lent: list[object] = []
    guard = threading.Lock()

    def job() -> None:
        with connections.borrow() as conn:
            latest(conn)  # usable on this thread
            with guard:
                lent.append(conn)
            inside.wait(timeout=PATIENCE)

    try:
        threads = [threading.Thread(target=job) for _job in range(jobs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len({id(conn) for conn in lent}) == jobs  # never one connection for two jobs
        assert connections.open_count == IDLE_KEPT  # the rest were closed when given back
        with connections.borrow() as conn:
            assert latest(conn) == 0  # a kept one still works, on yet another thread
    finally:
        connections.close_all()


def test_a_connection_closed_under_a_running_job_is_given_back_quietly(
    engine_location: str,
) -> None:
    """The app closes its connections while its watch thread still has one (the app leaving)."""
    connections = Connections(open_engine(engine_location))
    with connections.borrow() as conn:
        latest(conn)
        connections.close_all()
    assert connections.open_count == 0
    with connections.borrow() as again:  # a job after the close gets a connection of its own
        assert again is not conn
        latest(again)
    assert connections.open_count == 0
