"""Messages the app sends to its screens."""

from __future__ import annotations

from textual.message import Message

from storage.changes import Changes


class DataChanged(Message):
    """Someone (maybe this app) committed to the database; ``changes`` says what changed (C3)."""

    def __init__(self, changes: Changes) -> None:
        super().__init__()
        self.changes = changes
