"""The one way the tests wait: until a condition holds, never for a fixed time.

``wait_until`` polls ``condition`` and returns its first truthy value; it gives
up with an AssertionError naming ``what`` after ``timeout`` seconds. The limit
is far beyond what a loaded CI machine needs, since the wait ends as soon as
the condition holds. Three forms, for the three places a test waits from:

- ``wait_until(condition, what)``: plain code (processes, files, terminals);
- ``await wait_until_async(condition, what)``: a coroutine (an asyncio server);
- ``await wait_until(pilot, condition, what)`` in tests/clinic_fixtures.py:
  the running app's form, which lets the app handle its messages between two
  looks (with this module's PATIENCE and POLL).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Literal, TypeVar

S = TypeVar("S")

# How long a wait lasts before the test fails.
PATIENCE = 30.0
# How often the condition is looked at.
POLL = 0.02


def wait_until(
    condition: Callable[[], S | Literal[False] | None],
    what: str,
    timeout: float = PATIENCE,
    details: Callable[[], str] = lambda: "",
) -> S:
    """Block until ``condition()`` is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}\n{details()}")
        time.sleep(POLL)
    return value


async def wait_until_async(
    condition: Callable[[], S | Literal[False] | None], what: str, timeout: float = PATIENCE
) -> S:
    """Wait (letting the event loop run) until ``condition()`` is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(POLL)
    return value
