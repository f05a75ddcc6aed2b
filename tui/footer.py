"""The key footer, in the current language, that never runs off the screen.

``BINDINGS`` are built when a class is defined, before the language is
chosen, so their descriptions are msgids marked with ``N_`` (tui.i18n). This
footer translates each description when it draws its keys (on every
recompose), so every screen's keys show in the language chosen at start.

Russian words are longer, and telephony adds keys: when the keys do not fit
the width, the footer leaves out those the screen lists in ``FOOTER_SPARE``
(action names, the first left out first) rather than cut the last ones off.
The keys still work; README and the SPEC list them all.

Use it instead of ``textual.widgets.Footer`` on every screen.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.events import Resize
from textual.widgets import Footer as TextualFooter

# Not exported by textual.widgets; textual is pinned exactly (pyproject.toml).
from textual.widgets._footer import FooterKey

from tui.i18n import _


class Footer(TextualFooter):
    """Textual's footer with translated key descriptions, fitted to its width."""

    _fitted_width = 0  # the width the keys were last fitted to

    def _left_out(self) -> set[str]:
        """The actions whose keys stay out of the footer so that the rest fit its width."""
        width = self.size.width
        spare = list(getattr(self.screen, "FOOTER_SPARE", ()))
        if not width or not spare:
            return set()
        shown: dict[str, int] = {}
        for _node, binding, _enabled, _tooltip in self.screen.active_bindings.values():
            if not binding.show or binding.action in shown:
                continue
            if binding.group is not None:
                return set()  # grouped keys are drawn differently: leave them as they are
            key = cell_len(self.app.get_key_display(binding))
            text = cell_len(_(binding.description)) if binding.description else 0
            # compact: "k text" and a margin; otherwise " k " and "text ".
            shown[binding.action] = key + text + 2 if self.compact else key + text + 3
        left_out: set[str] = set()
        while sum(shown.values()) > width and spare:
            action = spare.pop(0)
            if action in shown:
                left_out.add(action)
                del shown[action]
        return left_out

    def compose(self) -> ComposeResult:
        self._fitted_width = self.size.width
        left_out = self._left_out()
        for widget in super().compose():
            if isinstance(widget, FooterKey):
                if widget.action in left_out:
                    continue
                if widget.description:
                    widget.description = _(widget.description)
                if widget.tooltip and isinstance(widget.tooltip, str):
                    widget.tooltip = _(widget.tooltip)
            yield widget

    def on_resize(self, event: Resize) -> None:
        if self._bindings_ready and event.size.width != self._fitted_width:
            self.call_after_refresh(self.recompose)
