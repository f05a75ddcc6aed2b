"""A Static that repaints only when its text really changes (no idle repaints over SSH)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class SteadyText(Static):
    """Static text; :meth:`show` with the same text again writes nothing to the terminal."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes)
        self.shown = Text()

    def show(self, text: str | Text) -> None:
        new = text if isinstance(text, Text) else Text(text)
        if new == self.shown:
            return
        self.shown = new
        self.update(new)
