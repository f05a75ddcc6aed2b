"""The app on a PostgreSQL server that restarts under it (pg_ctl restart -m fast, a real server).

While the server is away every screen's header says so; once it answers
again the line goes, the screens read afresh, and the operator claims and
finishes as before. A save caught by the restart saves nothing: the result
dialog says "nothing was saved" and keeps the comment, and Enter then saves it
once. A save whose COMMIT the server carried out without its answer reaching
the app is found saved when Enter tries again, not reported as a lost lock.
The operator can still leave while the server is away; an open call stays
theirs, as after a crash.
The server is kept from taking the app back (ALLOW_CONNECTIONS false)
for as long as a test looks at the announcement, so no step races the
reconnection.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from benchmarks.postgres_cluster import PostgresServer
from storage.locks import Claim, finish_call
from storage.rows import APPOINTMENT, RowKey
from tests.clinic_fixtures import (
    DESK_NOW,
    DeskClinic,
    build_desk,
    notices,
    open_list,
    running,
    settle,
    state,
    text_of,
    wait_until,
)
from tui.app import RingroundApp
from tui.database_line import DatabaseLine
from tui.picker import ListPicker
from tui.result_dialog import ResultDialog
from tui.work_screen import WorkScreen

NOT_ANSWERING = "Database server not answering — reconnecting…"
COMMENT = "Confirmed, will come at 9:30"
# The writers' turn is waited for longer than a test takes (libpq options in the URL).
PATIENT_WRITERS = "?options=-c%20lock_timeout%3D600000"


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?", 1)[0]


@pytest.fixture
def server_desk(postgres_server: PostgresServer, postgres_url: str, tmp_path: Path) -> DeskClinic:
    """The app tests' clinic in a database of its own on the tests' PostgreSQL server."""
    return build_desk(tmp_path, postgres_url + PATIENT_WRITERS)


def header(app: RingroundApp) -> DatabaseLine:
    return app.screen.query_one(DatabaseLine)


def announced(app: RingroundApp) -> bool:
    line = header(app)
    return bool(line.display) and text_of(line) == NOT_ANSWERING


def allow_connections(server: PostgresServer, desk: DeskClinic, allowed: bool) -> None:
    """Let clients into the clinic's database, or keep every new connection out."""
    name = database_name(desk.location)
    server.admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS {str(allowed).lower()}")


async def restart(server: PostgresServer) -> None:
    """pg_ctl restart -m fast, off the app's loop: every connection to the server ends."""
    await asyncio.to_thread(server.restart)


async def call_and_write(pilot: Pilot[Any], screen: WorkScreen) -> ResultDialog:
    """c on the active row, then f, outcome 1 and the comment, not yet saved."""
    app = pilot.app
    await pilot.press("c")
    await wait_until(pilot, lambda: "f to finish" in state(screen), "the call to be ours")
    await pilot.press("f")
    dialog = await wait_until(
        pilot, lambda: isinstance(app.screen, ResultDialog) and app.screen, "the result dialog"
    )
    assert isinstance(dialog, ResultDialog)
    await pilot.press("1", *COMMENT)
    await wait_until(
        pilot, lambda: dialog.query_one("#comment", Input).value == COMMENT, "the comment"
    )
    return dialog


def saved_attempts(desk: DeskClinic, name: str) -> list[tuple[Any, ...]]:
    return desk.query(
        "SELECT outcome, comment FROM attempts WHERE kind = ? AND source_id = ? AND comment = ?",
        APPOINTMENT,
        desk.appointments[name],
        COMMENT,
    )


async def test_a_restart_is_announced_and_the_work_goes_on_after_it(
    server_desk: DeskClinic, postgres_server: PostgresServer
) -> None:
    desk = server_desk
    app = desk.app("alice", poll_every=0.2)
    async with running(app) as pilot:
        screen = await open_list(pilot)
        assert not header(app).display  # nothing to say while the server answers
        allow_connections(postgres_server, desk, False)
        try:
            await restart(postgres_server)
            await wait_until(pilot, lambda: announced(app), "the header's announcement")
            assert app.screen is screen
        finally:
            allow_connections(postgres_server, desk, True)
        await wait_until(pilot, lambda: not header(app).display, "the announcement to go")
        assert "The database server answers again; the screen is read afresh." in notices(app)

        await wait_until(pilot, lambda: "c to start the call" in state(screen), "a free row")
        await call_and_write(pilot, screen)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is screen, "the dialog to close")
        await settle(pilot)
        assert saved_attempts(desk, "ivanova") == [("confirmed", COMMENT)]
        assert desk.locks() == []


async def test_a_save_caught_by_a_restart_saves_nothing_and_keeps_the_comment(
    server_desk: DeskClinic, postgres_server: PostgresServer
) -> None:
    desk = server_desk
    app = desk.app("alice", poll_every=0.2)
    async with running(app) as pilot:
        screen = await open_list(pilot)
        dialog = await call_and_write(pilot, screen)
        # Another writer holds the writers' turn, so the save waits inside its transaction...
        import psycopg

        from storage.postgres_schema import WRITE_LOCK

        holder = psycopg.connect(desk.location)
        try:
            holder.execute(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")
            await pilot.press("enter")
            await wait_until(
                pilot, lambda: waiting_writers(postgres_server, desk) == 1, "the save to wait"
            )
            # ... when the server restarts under it.
            await restart(postgres_server)
        finally:
            holder.close()
        message = dialog.query_one("#result-message")
        await wait_until(pilot, lambda: "nothing was saved" in text_of(message), "the refusal")
        # The server ends the lock's holder and the waiting save together: the save hears
        # it at its first statement, or (granted the lock as the holder went, its first
        # statement done) at its COMMIT, when the server, back, says the save was not
        # committed. Either way one sentence saying nothing was saved.
        assert text_of(message) in {
            f"The database server {app.engine.location} does not answer; nothing was saved."
            " Your text is kept; Enter tries again.",
            f"The connection to the database server {app.engine.location} broke while saving;"
            " nothing was saved. Your text is kept; Enter tries again.",
        }
        assert app.screen is dialog
        assert dialog.query_one("#comment", Input).value == COMMENT
        assert saved_attempts(desk, "ivanova") == []
        lock = desk.locks()
        assert lock == [(APPOINTMENT, desk.appointments["ivanova"], "alice", app.session.id)]

        await pilot.press("enter")  # again, the server back
        await wait_until(pilot, lambda: app.screen is screen, "the dialog to close")
        await settle(pilot)
        assert saved_attempts(desk, "ivanova") == [("confirmed", COMMENT)]
        assert desk.locks() == []


def waiting_writers(server: PostgresServer, desk: DeskClinic) -> int:
    """Sessions of the clinic's database waiting for a lock (the writers' advisory lock)."""
    import psycopg

    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
            (database_name(desk.location),),
        ).fetchone()
    assert row is not None
    return int(row[0])


async def test_a_save_whose_answer_was_lost_is_found_saved_when_tried_again(
    server_desk: DeskClinic,
) -> None:
    desk = server_desk
    app = desk.app("alice", poll_every=0.2)
    async with running(app) as pilot:
        screen = await open_list(pilot)
        await call_and_write(pilot, screen)
        # The save reached the server, which committed it and went away before answering
        # (its lost connection told the dialog so): the database holds the finish.
        ivanova = RowKey(APPOINTMENT, desk.appointments["ivanova"])
        ((session_id, epoch, since),) = desk.query(
            "SELECT session_id, epoch, since FROM locks WHERE kind = ? AND source_id = ?",
            ivanova.kind,
            ivanova.source_id,
        )
        claim = Claim(ivanova, desk.clients["ivanova"], session_id, epoch, since)
        conn = desk.connect()
        try:
            finish_call(conn, desk.policy, app.session, claim, "confirmed", COMMENT, DESK_NOW)
        finally:
            conn.close()
        await pilot.press("enter")  # the operator tries again
        await wait_until(pilot, lambda: app.screen is screen, "the dialog to close")
        await settle(pilot)
        assert "Saved; the row is done." in notices(app)
        assert saved_attempts(desk, "ivanova") == [("confirmed", COMMENT)]
        assert desk.locks() == []


async def test_the_operator_can_quit_while_the_server_is_away(
    server_desk: DeskClinic, postgres_server: PostgresServer
) -> None:
    desk = server_desk
    app = desk.app("alice", poll_every=0.2)
    async with running(app) as pilot:
        await open_list(pilot)
        await pilot.press("c")  # a call open when the server goes
        await wait_until(pilot, lambda: desk.locks(), "the claim")
        allow_connections(postgres_server, desk, False)
        try:
            await restart(postgres_server)
            await wait_until(pilot, lambda: announced(app), "the header's announcement")
            await pilot.press("escape")  # back to the lists, then quit
            await wait_until(pilot, lambda: isinstance(app.screen, ListPicker), "the lists")
            await pilot.press("q")
            await wait_until(pilot, lambda: app.return_code is not None, "the app to quit")
        finally:
            allow_connections(postgres_server, desk, True)
    # The call stays hers, as after a crash (C9): her next session finds it from earlier.
    assert desk.locks() == [(APPOINTMENT, desk.appointments["ivanova"], "alice", app.session.id)]


def in_clinic(desk: DeskClinic, *statements: str) -> None:
    """Run ``statements`` in the clinic's database as the server's superuser."""
    import psycopg

    with psycopg.connect(desk.location, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement.encode())


def connect_right(server: PostgresServer, desk: DeskClinic, role: str, given: bool) -> None:
    """Give ``role`` the CONNECT right on the clinic's database, or take it and end the
    role's connections (as an administrator locking a role out mid-shift does)."""
    name = database_name(desk.location)
    if given:
        server.admin(f"GRANT CONNECT ON DATABASE {name} TO {role}")
        return
    server.admin(f"REVOKE CONNECT ON DATABASE {name} FROM {role}")
    server.admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'")


async def test_a_login_refused_mid_shift_is_named_in_the_header_until_it_works_again(
    server_desk: DeskClinic, postgres_server: PostgresServer
) -> None:
    """The server answers but refuses the operators' login (here their CONNECT right is taken
    away and their connections ended): waiting does not help, so the header says why, in
    the words of check, not "not answering"; once the login works again the line goes."""
    desk = server_desk
    name = database_name(desk.location)
    role = f"clerk_{name}"
    postgres_server.admin(f"CREATE ROLE {role} LOGIN")
    postgres_server.admin(f"REVOKE CONNECT ON DATABASE {name} FROM PUBLIC")
    connect_right(postgres_server, desk, role, True)
    in_clinic(  # the operators' rights (docs/postgresql-roles.sql)
        desk,
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
    )
    clerk = replace(desk, location=desk.location.replace("//postgres@", f"//{role}@"))
    refusal = (
        f"The database server 127.0.0.1:{postgres_server.port} does not let the role {role} "
        f"connect to {name} (it lacks the CONNECT right); make it a member of the operators' "
        "role (docs/deploy-postgresql.md, step 2)."
    )
    try:
        app = clerk.app("alice", poll_every=0.2)
        async with running(app) as pilot:
            await open_list(pilot)
            connect_right(postgres_server, desk, role, False)
            await wait_until(
                pilot, lambda: text_of(header(app)) == refusal, "the refusal in the header"
            )
            assert header(app).display
            connect_right(postgres_server, desk, role, True)
            await wait_until(pilot, lambda: not header(app).display, "the refusal to go")
            assert "The database server answers again; the screen is read afresh." in notices(app)
    finally:
        in_clinic(desk, f"DROP OWNED BY {role}")  # its rights on the tables
        postgres_server.admin(f"DROP ROLE {role}")
