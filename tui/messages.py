"""Messages the app sends to its screens, and which screens hear of a commit.

Every commit anyone makes is looked at (tui/app.py), and what it changed is
announced to the screens in sight (:func:`in_sight`) as :class:`DataChanged`.
Most of them show only what the change feed records (storage/changes.py): a
commit that changed nothing there (a session's heartbeat, a session started
or ended, an audit entry) cannot change what they show, and they are not told
of it, so an idle app sleeps through the other operators' heartbeats. A
screen that shows more, such as the sessions and their last heartbeats, is a
:class:`FollowsEveryCommit` and is told of every commit.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

from textual.message import Message
from textual.screen import Screen

from storage.changes import Changes
from storage.rows import RowKey


class DataChanged(Message):
    """Someone (maybe this app) committed to the database; ``changes`` says what changed (C3)."""

    def __init__(self, changes: Changes) -> None:
        super().__init__()
        self.changes = changes


class FollowsEveryCommit:
    """A screen that reads again at every commit, also one the change feed records nothing
    of (see the module docstring)."""


@runtime_checkable
class KeepsDrafts(Protocol):
    """A screen that keeps what was written in result dialogs closed with Escape."""

    def draft_lost(self, key: RowKey, told: str) -> bool:
        """The call on ``key`` was taken over or released (``told`` says so): show what was
        written for it, if anything; False when there was nothing to show."""


def in_sight(stack: Sequence[Screen[Any]]) -> Iterator[Screen[Any]]:
    """The screens of ``stack`` the operator can see: the top one and those under its dialogs.

    A screen hidden under another full screen reads again when it is resumed.
    """
    for screen in reversed(stack):
        yield screen
        if not screen.is_modal:
            return
