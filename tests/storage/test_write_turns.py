"""Writers take turns (storage/write_turns.py): waiting asleep, giving up after the busy timeout.

Another process holds the turn of a database's writers — only the turn, not
SQLite's write lock — so a write that does not wait for its turn would go
through at once. Run as a script this file is that process: it takes the
turn, says "held", and keeps it until a line arrives on its standard input
(or, given "save", it says "saving" and saves: a writer to interrupt).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import storage.database
import storage.write_turns
from storage.database import (
    ClinicConnection,
    DatabaseBusy,
    StorageError,
    open_database,
    write,
)
from storage.write_turns import Turn


class TurnHolder:
    def __init__(self, database: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, str(database)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "held"

    def let_go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        assert self.process.wait(30) == 0


def settings(database: Path) -> list[tuple[str, str]]:
    conn = open_database(database)
    try:
        return [
            (str(name), str(value))
            for name, value in conn.execute("SELECT name, value FROM settings ORDER BY name")
        ]
    finally:
        conn.close()


def save(database: Path, name: str) -> None:
    conn = open_database(database)
    try:
        with write(conn):
            conn.execute("INSERT INTO settings (name, value) VALUES (?, 'saved')", (name,))
    finally:
        conn.close()


def in_thread(action: Callable[[], None]) -> tuple[threading.Thread, list[StorageError]]:
    """Run ``action`` (a save) in a thread of its own, started; the errors it raised."""
    failed: list[StorageError] = []

    def run() -> None:
        try:
            action()
        except StorageError as error:
            failed.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, failed


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "clinic.db"
    open_database(path, create=True).close()
    return path


def test_a_write_waits_for_its_turn_and_then_goes_through(database: Path) -> None:
    holder = TurnHolder(database)
    thread, failed = in_thread(lambda: save(database, "waiter"))
    thread.join(0.5)
    assert thread.is_alive(), "the write did not wait for the other writer's turn"
    assert settings(database) == []
    holder.let_go()
    thread.join(30)
    assert not thread.is_alive() and failed == []
    assert settings(database) == [("waiter", "saved")]


def test_a_turn_that_never_comes_is_a_busy_database_and_is_let_go_later(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage.database, "BUSY_TIMEOUT_MS", 200)
    holder = TurnHolder(database)
    with pytest.raises(DatabaseBusy, match="busy with another operator's save"):
        save(database, "gave up")
    holder.let_go()
    save(database, "next")
    assert settings(database) == [("next", "saved")]


def test_a_wait_in_another_thread_that_lasts_too_long_ends_busy(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The watchdog ends the flock wait of a thread that is not the main one (the app's writes)."""
    monkeypatch.setattr(storage.database, "BUSY_TIMEOUT_MS", 200)
    holder = TurnHolder(database)
    thread, failed = in_thread(lambda: save(database, "gave up"))
    thread.join(30)
    assert not thread.is_alive(), "the wait was not ended after the busy timeout"
    assert [type(error) for error in failed] == [DatabaseBusy]
    holder.let_go()
    save(database, "next")
    assert settings(database) == [("next", "saved")]


def test_another_signal_does_not_end_a_wait(database: Path) -> None:
    """A signal the program handles (a resized terminal, say) interrupts flock; the wait goes on."""
    caught: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda number, _frame: caught.append(number))
    holder = TurnHolder(database)
    try:
        thread, failed = in_thread(lambda: save(database, "waiter"))
        thread.join(0.5)
        assert thread.ident is not None and thread.is_alive()
        signal.pthread_kill(thread.ident, signal.SIGUSR1)
        thread.join(0.5)
        assert thread.is_alive(), "the signal ended the wait"
        assert settings(database) == []
        holder.let_go()
        thread.join(30)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert not thread.is_alive() and failed == []
    assert caught == [signal.SIGUSR1]
    assert settings(database) == [("waiter", "saved")]


def test_ctrl_c_ends_a_wait_at_once(database: Path) -> None:
    """An operator's Ctrl-C is not held up until the busy timeout by a wait for the turn."""
    holder = TurnHolder(database)
    waiting = subprocess.Popen(
        [sys.executable, __file__, str(database), "save"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert waiting.stdout is not None
    assert waiting.stdout.readline().strip() == "saving"
    waiting.send_signal(signal.SIGINT)
    _out, err = waiting.communicate(timeout=30)
    assert "KeyboardInterrupt" in err and "DatabaseBusy" not in err
    holder.let_go()  # still held while the other process gave up: it ended the wait itself
    assert settings(database) == []


def test_without_the_signal_writers_ask_again(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where no handler could be set for the watchdog's signal, writers look every few ms."""
    monkeypatch.setattr(storage.write_turns, "_kick_handled", False)
    monkeypatch.setattr(storage.database, "BUSY_TIMEOUT_MS", 200)
    holder = TurnHolder(database)
    with pytest.raises(DatabaseBusy):
        save(database, "gave up")
    monkeypatch.setattr(storage.database, "BUSY_TIMEOUT_MS", 30_000)
    thread, failed = in_thread(lambda: save(database, "waiter"))
    thread.join(0.5)
    assert thread.is_alive(), "the write did not wait for the other writer's turn"
    holder.let_go()
    thread.join(30)
    assert not thread.is_alive() and failed == []
    assert settings(database) == [("waiter", "saved")]


def test_a_connection_that_gave_up_writes_once_its_turn_comes(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection keeps its place in the queue from write to write, even after giving up."""
    monkeypatch.setattr(storage.database, "BUSY_TIMEOUT_MS", 200)
    conn = open_database(database)
    try:
        holder = TurnHolder(database)
        with pytest.raises(DatabaseBusy), write(conn):
            conn.execute("INSERT INTO settings (name, value) VALUES ('gave up', 'saved')")
        holder.let_go()
        with write(conn):
            conn.execute("INSERT INTO settings (name, value) VALUES ('next', 'saved')")
        with write(conn):
            conn.execute("INSERT INTO settings (name, value) VALUES ('and next', 'saved')")
    finally:
        conn.close()
    assert settings(database) == [("and next", "saved"), ("next", "saved")]
    TurnHolder(database).let_go()  # every turn was let go


def test_two_connections_of_one_process_take_turns(database: Path) -> None:
    """Each connection queues on its own: one holding its turn keeps the other one waiting."""
    first, second = open_database(database), open_database(database, check_same_thread=False)

    def save_second() -> None:
        with write(second):
            second.execute("INSERT INTO settings (name, value) VALUES ('second', 'saved')")

    try:
        assert isinstance(first, ClinicConnection)
        _path, place = first.writers()
        with place.held(30):
            thread, failed = in_thread(save_second)
            thread.join(0.5)
            assert thread.is_alive(), "the second connection did not wait for the first one's turn"
            assert settings(database) == []
        thread.join(30)
        assert not thread.is_alive() and failed == []
    finally:
        first.close()
        second.close()
    assert settings(database) == [("second", "saved")]


def test_a_killed_writer_leaves_no_turn_behind(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage.database, "BUSY_TIMEOUT_MS", 30_000)
    holder = TurnHolder(database)
    holder.process.send_signal(signal.SIGKILL)
    holder.process.wait(30)
    save(database, "after the kill")
    assert settings(database) == [("after the kill", "saved")]


def test_one_thread_writes_two_databases_of_one_folder_at_once(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Holding the folder's turn for one database, the thread does not wait for itself."""
    monkeypatch.setattr(storage.database, "BUSY_TIMEOUT_MS", 200)
    other = database.with_name("other.db")
    first, second = open_database(database), open_database(other, create=True)
    try:
        with write(first), write(second):
            first.execute("INSERT INTO settings (name, value) VALUES ('first', 'saved')")
            second.execute("INSERT INTO settings (name, value) VALUES ('second', 'saved')")
    finally:
        first.close()
        second.close()
    assert settings(database) == [("first", "saved")]
    assert settings(other) == [("second", "saved")]
    # The turn was let go at the end: another process takes it at once.
    holder = TurnHolder(database)
    holder.let_go()


if __name__ == "__main__":
    if sys.argv[2:] == ["save"]:  # a writer that waits for the turn until it is interrupted
        # Ctrl-C as a program started from a shell's prompt meets it. This process inherits
        # SIGINT as the test run had it: ignored, when a shell without job control started
        # the run in the background (POSIX has it so), and Python then leaves it ignored.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        print("saving", flush=True)
        save(Path(sys.argv[1]), "interrupted")
    else:
        with Turn(sys.argv[1]).held(30):
            print("held", flush=True)
            sys.stdin.readline()
