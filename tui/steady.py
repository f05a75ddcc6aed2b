"""Text that repaints only what really changes (no idle repaints, few bytes over SSH)."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.css.scalar import Unit
from textual.geometry import Region
from textual.widget import Widget

from tui.safe_text import safe_text


def _line_key(line: Text) -> tuple[object, ...]:
    return line.plain, tuple(line.spans), str(line.style)


class SteadyText(Widget):
    """Static text; :meth:`show` repaints only the lines that changed, and only their cells.

    Showing the same text again writes nothing to the terminal. A changed line
    is repainted from its start to the end of the longer of its old and new
    text, so moving from one client to the next sends the new names rather
    than whole screen lines (give the widget a fixed height in CSS; with
    ``height: auto`` a different number of lines relayouts and repaints it all).
    """

    DEFAULT_CSS = """
    SteadyText {
        height: auto;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.shown = Text()

    def render(self) -> Text:
        return self.shown

    def show(self, text: str | Text) -> None:
        """Show ``text``, with any character a terminal would obey made visible (safe_text)."""
        new = text.copy() if isinstance(text, Text) else Text(text)
        new.plain = safe_text(new.plain, keep_newlines=True)  # as long as before: spans stay
        if _line_key(new) == _line_key(self.shown):
            return
        old, self.shown = self.shown, new
        self.refresh(*self._changed(old, new), layout=not self._fixed_height())

    def _fixed_height(self) -> bool:
        height = self.styles.height
        return height is not None and height.unit == Unit.CELLS

    def _changed(self, old: Text, new: Text) -> list[Region]:
        """The cells to repaint (an empty list: the whole widget)."""
        width = self.content_size.width
        if not width or self.styles.text_align not in ("left", "start"):
            return []
        old_lines = old.split("\n", allow_blank=True)
        new_lines = new.split("\n", allow_blank=True)
        regions = []
        for y in range(min(max(len(old_lines), len(new_lines)), self.content_size.height)):
            before = old_lines[y] if y < len(old_lines) else Text()
            after = new_lines[y] if y < len(new_lines) else Text()
            if _line_key(before) == _line_key(after):
                continue
            # Past the longer text both lines show the widget's own background.
            cells = min(max(cell_len(before.plain), cell_len(after.plain)), width)
            if cells:
                regions.append(Region(0, y, cells, 1))
        return regions
