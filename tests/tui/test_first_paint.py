"""What grows with the database waits for the list picker's first paint (tui/app.py).

The session's start (an SQLite file's integrity check reads every page) and
the lists' counts would otherwise compete with the first frame; they run once
the picker has been drawn. Modules the picker does not need are not loaded
with the app either: they load where they are first used.
"""

from __future__ import annotations

import gc
import subprocess
import sys
from typing import Any

import pytest
from rich.console import RenderableType
from textual.app import App
from textual.screen import Screen
from textual.widgets._footer import FooterKey

from storage.sessions import Session
from storage.worklists import all_work_lists
from tests.clinic_fixtures import DeskClinic, running, wait_until
from tui.app import RingroundApp, SessionStart
from tui.picker import ListPicker


async def test_the_start_and_the_counts_wait_for_the_pickers_first_frame(
    desk: DeskClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    happened: list[str] = []
    draw = App._display

    def display(app: App[Any], screen: Screen[Any], renderable: RenderableType | None) -> None:
        # What Textual draws: an update that exists and is not held back by a batch.
        if renderable is not None and not app._batch_count and isinstance(screen, ListPicker):
            happened.append("picker drawn")
        draw(app, screen, renderable)

    monkeypatch.setattr(App, "_display", display)
    load = ListPicker.load

    def counting(picker: ListPicker) -> None:
        happened.append("counts")
        load(picker)

    monkeypatch.setattr(ListPicker, "load", counting)

    def start() -> Session:
        happened.append("session start")
        return desk.session("alice")

    conn = desk.connect()
    try:
        lists = all_work_lists(conn, desk.policy)
    finally:
        conn.close()
    app = RingroundApp(desk.location, desk.policy, SessionStart("alice", False, start), lists=lists)
    async with running(app) as pilot:
        await wait_until(
            pilot,
            lambda: {"counts", "session start"} <= set(happened) and app.session_started,
            "the session started and the lists counted",
        )
        picker = app.screen
        assert isinstance(picker, ListPicker)
        await wait_until(pilot, lambda: picker.summaries, "the lists' counts on the picker")
    assert happened[0] == "picker drawn", happened


async def test_the_pickers_first_frame_is_drawn_once_with_its_keys(
    desk: DeskClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The picker is the app's first screen and its footer's keys are composed with it.

    Pushed from on_mount it was rendered inside Textual's start-up batch for
    nothing; a footer waiting for the screen to announce its bindings drew its
    keys only in a second frame (docs/performance.md, "Start-up").
    """
    frames: list[tuple[str, list[str]]] = []
    draw = App._display

    def display(app: App[Any], screen: Screen[Any], renderable: RenderableType | None) -> None:
        if renderable is not None:
            keys = [key.key for key in screen.query(FooterKey)]
            frames.append((type(screen).__name__ if not app._batch_count else "held", keys))
        draw(app, screen, renderable)

    monkeypatch.setattr(App, "_display", display)
    app = desk.app("alice")
    async with running(app) as pilot:
        await wait_until(pilot, lambda: app.session_started, "the session started")
        assert [type(screen) for screen in app.screen_stack] == [ListPicker]
    assert frames[0] == ("ListPicker", ["r", "q"]), frames


# Loaded where first used, after the first paint (docs/performance.md, "Start-up").
NOT_BEFORE_FIRST_PAINT = (
    "babel",  # dates and numbers in the CLDR's forms (tui/formats.py)
    "cli.commands",  # the subcommands, loaded when one runs or --help lists them (cli/root.py)
    "cli.copying",
    "cli.data",
    "ctypes",  # a writer's wait for its turn (storage/write_turns.py)
    "importlib.resources",  # the shipped policy.toml, for `ringround policy --default`
    "json",
    "storage.audit",  # the audit trail: written by claims and finishes, read by check
    "storage.clients",
    "storage.locks",  # the lock protocol
    "storage.open_calls",  # lost calls, and quitting with a call open
    "storage.row_details",  # the work screen's rows
    "storage.sources",  # what a row is about, read when it is activated or claimed
    "tui.result_dialog",
    "tui.work_screen",
)


def test_the_app_loads_without_what_its_first_screen_does_not_need() -> None:
    code = (
        "import sys\n"
        "import cli.main, tui.start, tui.app\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {NOT_BEFORE_FIRST_PAINT!r}"
        f" or m in {NOT_BEFORE_FIRST_PAINT!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


async def test_the_collector_paused_for_the_start_runs_again_once_the_picker_is_drawn(
    desk: DeskClinic,
) -> None:
    conn = desk.connect()
    try:
        lists = all_work_lists(conn, desk.policy)
    finally:
        conn.close()
    app = RingroundApp(desk.location, desk.policy, desk.session("alice"), lists=lists)
    gc.disable()  # as the console script does (cli/launch.py)
    try:
        async with running(app) as pilot:
            await wait_until(pilot, gc.isenabled, "the collector running again")
            assert isinstance(app.screen, ListPicker)
            assert gc.get_freeze_count() > 0  # what was loaded is out of the collector's way
    finally:
        gc.unfreeze()
        gc.enable()
