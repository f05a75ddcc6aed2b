"""Row activation and opening a work list, timed inside the app (App.run_test and Pilot).

The app is the real RingroundApp on a real database file, at 80×24, with its
real clock, heartbeat and polling; only the terminal is Textual's headless
driver. Two hooks tell when something is on screen:

- ``WorkScreen.show_activation`` marks the moment the activated row's client,
  lock state and history (``inspect_row`` and the pane's reads, done in a
  worker thread) reach the pane;
- ``App._display`` is where Textual hands a finished screen update to the
  terminal: the hook turns the update into the bytes a terminal would get
  (so that cost is counted too) and stops the clock at the first update that
  contains what is awaited.

A row activation is timed from just before the key is sent to the first
screen update after the pane shows that row; opening a work list from just
before Enter in the list picker to the first update in which the table's
first rows are painted. Keys are delivered as Pilot.press delivers them (an
event from the driver) but without Pilot's wait for every widget to drain
its queue, which would hold back the very screen updates being timed; and
``PAUSE`` seconds pass between keys, as when an operator reads the pane
(Textual's frame timer behaves differently under back-to-back keys).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual import events
from textual.pilot import Pilot

from storage.database import open_database
from storage.policy import default_policy
from storage.sessions import start_session
from tui.app import RingroundApp
from tui.client_pane import Activation
from tui.picker import ListPicker
from tui.row_table import RowTable
from tui.work_screen import WorkScreen

MOVES_DOWN = 100
MOVES_UP = 40
OPENS = 5
PAUSE = 0.2  # seconds between key presses, as an operator reads the pane
WAIT = 60.0  # seconds before a measurement counts as hung


@dataclass
class Timings:
    rows: int
    activations_ms: list[float] = field(default_factory=list)
    opens_ms: list[float] = field(default_factory=list)
    first_activation_ms: list[float] = field(default_factory=list)
    update_bytes: list[int] = field(default_factory=list)  # per activation, headless estimate


class Probe:
    """Stops a clock at the first screen update showing what ``awaited`` says."""

    def __init__(self, app: RingroundApp) -> None:
        self.app = app
        self.awaited: Callable[[], bool] | None = None
        self.event = asyncio.Event()
        self.at = 0.0
        self.bytes = 0
        self.activated: int | None = None  # source id whose activation the pane shows
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            written = 0
            if renderable is not None and hasattr(renderable, "render_segments"):
                written = len(renderable.render_segments(app.console).encode())
            original(screen, renderable)
            if self.awaited is not None and self.awaited():
                self.at = time.perf_counter()
                self.bytes = written
                self.awaited = None
                self.event.set()

        app._display = display  # type: ignore[method-assign]

    def expect(self, condition: Callable[[], bool]) -> None:
        self.event.clear()
        self.awaited = condition

    async def wait(self, what: str) -> float:
        try:
            await asyncio.wait_for(self.event.wait(), WAIT)
        except TimeoutError:
            raise RuntimeError(f"{what} did not show within {WAIT} s") from None
        return self.at


def _hook_activations(probe_of: Callable[[], Probe | None]) -> Callable[[], None]:
    """Wrap WorkScreen.show_activation; returns the function that undoes it."""
    original = WorkScreen.show_activation

    def show_activation(self: WorkScreen, activation: Activation) -> None:
        original(self, activation)
        probe = probe_of()
        if probe is not None and self.activation is activation:
            probe.activated = activation.state.key.source_id

    WorkScreen.show_activation = show_activation  # type: ignore[method-assign]

    def undo() -> None:
        WorkScreen.show_activation = original  # type: ignore[method-assign]

    return undo


def _send_key(app: RingroundApp, key: str) -> None:
    """Deliver a key as a terminal driver does (and as Pilot.press does first).

    Pilot.press then waits until every widget has drained its queue, posting
    a message to each; doing that while the clock runs would hold back the
    screen's idle-time updates, which are what is being timed.
    """
    event = events.Key(key, None)
    event.set_sender(app)
    driver = app._driver
    assert driver is not None
    driver.send_message(event)


async def until(pilot: Pilot[Any], condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await pilot.pause(0.01)


def table_of(app: RingroundApp) -> RowTable | None:
    screen = app.screen
    return screen.query_one(RowTable) if isinstance(screen, WorkScreen) else None


def first_rows_painted(app: RingroundApp) -> bool:
    table = table_of(app)
    return table is not None and bool(table.ids) and table.ids[0] in table.rows


async def highlight_call_list(pilot: Pilot[Any]) -> RingroundApp:
    """Wait for the list picker's counts and move its cursor to the call list."""
    app = pilot.app
    assert isinstance(app, RingroundApp)
    await until(
        pilot,
        lambda: isinstance(app.screen, ListPicker) and app.screen.summaries,
        "the list picker's counts",
    )
    picker = app.screen
    assert isinstance(picker, ListPicker)
    index = next(i for i, s in enumerate(picker.summaries) if s.work_list.kind == "item")
    while picker.query_one("#lists").highlighted != index:  # type: ignore[attr-defined]
        await pilot.press("down")
    return app


async def _open(pilot: Pilot[Any], probe: Probe, timings: Timings) -> None:
    """Enter on the call list in the picker; time until its first rows are painted."""
    app = await highlight_call_list(pilot)
    probe.activated = None
    await pilot.pause(0.1)
    probe.expect(lambda: first_rows_painted(app))
    began = time.perf_counter()
    _send_key(app, "enter")
    timings.opens_ms.append((await probe.wait("the first rows") - began) * 1000)
    table = table_of(app)
    assert table is not None
    first = table.ids[0]
    probe.expect(lambda: probe.activated == first)
    if probe.activated != first:
        await probe.wait("the first row's activation")
    timings.first_activation_ms.append((probe.at - began) * 1000)


async def _activate(pilot: Pilot[Any], probe: Probe, key: str, timings: Timings) -> None:
    app = pilot.app
    assert isinstance(app, RingroundApp)
    table = table_of(app)
    assert table is not None
    target = table.ids[table.cursor + (1 if key == "down" else -1)]
    probe.activated = None
    probe.expect(lambda: probe.activated == target)
    began = time.perf_counter()
    _send_key(app, key)
    at = await probe.wait(f"the activation of row {target}")
    await pilot.pause()  # let the table ask for rows that scrolled into view
    await asyncio.sleep(PAUSE)
    timings.activations_ms.append((at - began) * 1000)
    timings.update_bytes.append(probe.bytes)


async def _measure(path: Path, rows: int) -> Timings:
    policy = default_policy()
    conn = open_database(path)
    try:
        session = start_session(conn, "bench", int(time.time()))
    finally:
        conn.close()
    app = RingroundApp(path, policy, session)
    timings = Timings(rows)
    probe: Probe | None = None
    undo = _hook_activations(lambda: probe)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            probe = Probe(app)
            for number in range(OPENS):
                await _open(pilot, probe, timings)
                # A big list paints its first page first: let the whole order arrive.
                await until(
                    pilot,
                    lambda: (
                        isinstance(app.screen, WorkScreen)
                        and app.screen.order is not None
                        and not app.screen.partial
                    ),
                    "the whole order",
                )
                if number < OPENS - 1:
                    await pilot.pause(0.2)
                    await pilot.press("escape")
            await pilot.pause(0.5)
            for key, count in (("down", MOVES_DOWN), ("up", MOVES_UP)):
                for _ in range(count):
                    await _activate(pilot, probe, key, timings)
    finally:
        undo()
        app.close_database()
    return timings


def measure(path: Path, rows: int) -> Timings:
    """Time opening the database's call list and moving through it (see the docstring)."""
    return asyncio.run(_measure(path, rows))


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):.1f} ms, p95 {p95:.1f} ms, max {ordered[-1]:.1f} ms"
