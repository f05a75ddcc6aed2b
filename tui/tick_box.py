"""A checkbox whose state is written in characters: ``[x]`` ticked, ``[ ]`` not.

Textual's Checkbox draws ``▐X▌`` either way and shows the state only by colour,
which a Linux console, ``TERM=vt100`` or ``NO_COLOR`` lose: a call-back would
silently become "only me". Use :class:`TickBox` for every checkbox in the app.

Keys: Space or Enter toggles (Textual's Checkbox).
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Checkbox

TICKED = "[x]"
CLEAR = "[ ]"


class TickBox(Checkbox):
    """Textual's Checkbox with ``[x]`` / ``[ ]`` instead of a box told apart by colour."""

    @property
    def _button(self) -> Content:
        return Content.styled(
            TICKED if self.value else CLEAR, self.get_visual_style("toggle--button")
        )
