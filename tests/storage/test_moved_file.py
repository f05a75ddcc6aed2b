"""The database file deleted, moved or replaced under a running program: saves are refused.

An open SQLite connection keeps writing into the file it opened (the inode),
even after that file was deleted or renamed and another took its name: what
is saved then is lost to everyone else, silently. The program must notice
(the change watch each second, every write before it begins and before it
commits), say so in one sentence naming the file, and never make a fresh
database in its place.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.connection import Connection
from storage.database import DatabaseGone
from storage.engine import open_engine, write
from storage.file_modes import COMPANIONS
from tests.gone_file import GONE, deleted, moved, moved_back, moved_to, replaced


def add_call_list(conn: Connection, name: str) -> None:
    with write(conn):
        conn.execute(
            "INSERT INTO call_lists (name, created_at, created_by) VALUES (?, 0, 'root')", (name,)
        )


def call_lists(path: Path) -> list[str]:
    conn = open_engine(path).connect()
    try:
        return [str(row[0]) for row in conn.execute("SELECT name FROM call_lists ORDER BY id")]
    finally:
        conn.close()


@pytest.mark.parametrize("how", GONE)
def test_a_save_after_the_file_went_is_refused_with_a_sentence(db_path: Path, how: str) -> None:
    conn = open_engine(db_path).connect()
    try:
        add_call_list(conn, "Before")
        GONE[how](db_path)
        with pytest.raises(DatabaseGone) as caught:
            add_call_list(conn, "After")
    finally:
        conn.close()
    assert str(db_path) in str(caught.value)
    assert "nothing more can be saved" in str(caught.value)
    if how == "deleted":
        assert not db_path.exists()  # no fresh database in its place
    else:
        assert call_lists(moved_to(db_path)) == ["Before"]
    if how == "replaced":
        assert call_lists(db_path) == []


def test_a_file_moved_during_a_long_write_keeps_nothing_of_it(db_path: Path) -> None:
    conn = open_engine(db_path).connect()
    try:
        with pytest.raises(DatabaseGone), write(conn):
            conn.execute(
                "INSERT INTO call_lists (name, created_at, created_by) VALUES ('Long', 0, 'root')"
            )
            moved(db_path)  # an import or copy still writing when the file is renamed
    finally:
        conn.close()
    assert call_lists(moved_to(db_path)) == []


@pytest.mark.parametrize("how", GONE)
def test_the_watch_notices_and_notices_the_file_coming_back(db_path: Path, how: str) -> None:
    watch = open_engine(db_path).watch()
    try:
        assert watch.changes() is None
        GONE[how](db_path)
        with pytest.raises(DatabaseGone) as caught:
            watch.changes()
        assert str(db_path) in str(caught.value)
        if how == "moved":  # the administrator puts it back: work goes on
            moved_back(db_path)
            assert watch.changes() is None
    finally:
        watch.close()


@pytest.mark.parametrize("create", [False, True])
def test_a_new_connection_after_the_file_went_makes_no_database(
    db_path: Path, create: bool
) -> None:
    engine = open_engine(db_path)
    engine.connect().close()
    deleted(db_path)
    with pytest.raises(DatabaseGone):
        engine.connect(create=create)
    assert not db_path.exists()


def test_a_new_connection_to_a_replacement_is_refused(db_path: Path) -> None:
    engine = open_engine(db_path)
    engine.connect().close()
    replaced(db_path)
    with pytest.raises(DatabaseGone):
        engine.connect()


def test_a_save_after_the_working_files_went_is_refused(db_path: Path) -> None:
    """rm clinic.db-wal clinic.db-shm alone: the next program makes new ones, and this one's
    saves would go on into the deleted -wal, which nobody else reads."""
    conn = open_engine(db_path).connect()
    try:
        add_call_list(conn, "Before")
        for suffix in COMPANIONS:
            Path(f"{db_path}{suffix}").unlink()
        with pytest.raises(DatabaseGone) as caught:
            add_call_list(conn, "After")
    finally:
        conn.close()
    assert f"{db_path}-wal" in str(caught.value), caught.value
    assert "nothing more can be saved" in str(caught.value)


def test_other_programs_opening_and_closing_do_not_look_like_a_move(db_path: Path) -> None:
    """Only the last connection to close removes the working files, never while one is open."""
    engine = open_engine(db_path)
    conn = engine.connect()
    try:
        for turn in range(3):
            other = open_engine(db_path).connect()
            add_call_list(other, f"Other {turn}")
            other.close()
            add_call_list(conn, f"Mine {turn}")
        assert len(call_lists(db_path)) == 6
    finally:
        conn.close()
    again = engine.connect()  # the working files were removed by the last close: made anew
    try:
        add_call_list(again, "Later")
    finally:
        again.close()
