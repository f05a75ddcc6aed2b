"""The key footer, in the current language, that never runs off the screen.

``BINDINGS`` are built when a class is defined, before the language is
chosen, so their descriptions are msgids marked with ``N_`` (tui.i18n). This
footer translates each description when it draws its keys (on every
recompose), so every screen's keys show in the language chosen at start.

Russian words are longer, and telephony adds keys: when the keys do not fit
the width, the keys the screen lists in ``FOOTER_SPARE`` (action names, the
least needed first) are shown as the key alone ("r" rather than "r Refresh"),
and only if that is still too wide are they left out, in the same order,
rather than cut the last ones off. The keys still work; the README
lists them all.

Use it instead of ``textual.widgets.Footer`` on every screen.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Footer as TextualFooter

# Not exported by textual.widgets; textual is pinned exactly (pyproject.toml).
from textual.widgets._footer import FooterKey

from tui.i18n import _


class Footer(TextualFooter):
    """Textual's footer with translated key descriptions, fitted to its width."""

    _fitted_width = 0  # the width the keys were last fitted to
    _composed_for: tuple[tuple[str, str, str, bool, str], ...] = ()  # the keys composed

    def _fit(self) -> tuple[set[str], set[str]]:
        """(actions shown as the key alone, actions left out) so that the keys fit the width."""
        # Before the first layout the footer has no size yet; it spans the screen's width.
        width = self.size.width or self.app.size.width
        spare = list(getattr(self.screen, "FOOTER_SPARE", ()))
        if not width or not spare:
            return set(), set()
        keys: dict[str, int] = {}
        words: dict[str, int] = {}
        for _node, binding, _enabled, _tooltip in self.screen.active_bindings.values():
            if not binding.show or binding.action in keys:
                continue
            if binding.group is not None:
                return set(), set()  # grouped keys are drawn differently: leave them be
            keys[binding.action] = cell_len(self.app.get_key_display(binding)) + 1  # margin
            text = cell_len(_(binding.description)) if binding.description else 0
            # compact: "k text"; otherwise " k " and "text ".
            words[binding.action] = text + 1 if self.compact else text + 2
        bare: set[str] = set()
        left_out: set[str] = set()
        for action in spare:  # first the least needed keys lose their words…
            if sum(keys.values()) + sum(words.values()) <= width:
                break
            if action in words:
                bare.add(action)
                del words[action]
        for action in spare:  # …then, if still too wide, the keys themselves
            if sum(keys.values()) + sum(words.values()) <= width:
                break
            if action in keys:
                left_out.add(action)
                del keys[action]
        return bare, left_out

    def _shown(self) -> tuple[tuple[str, str, str, bool, str], ...]:
        """The keys the footer shows for the screen's bindings now."""
        return tuple(
            (binding.key, binding.action, binding.description, enabled, tooltip)
            for _node, binding, enabled, tooltip in self.screen.active_bindings.values()
            if binding.show
        )

    def bindings_changed(self, screen: Screen[object]) -> None:
        """Compose the keys again only if they changed since they were composed."""
        if screen is self.screen and self._shown() == self._composed_for:
            return
        super().bindings_changed(screen)

    def compose(self) -> ComposeResult:
        # The keys are in the screen's first frame: Textual's footer shows none until the
        # screen announces its bindings, after that frame, and then draws them in another.
        self.set_reactive(TextualFooter._bindings_ready, True)
        self._composed_for = self._shown()
        self._fitted_width = self.size.width or self.app.size.width
        bare, left_out = self._fit()
        for widget in super().compose():
            if isinstance(widget, FooterKey):
                # The key starts as compact as its footer (what binding them sets at mount), so
                # that the binding changes nothing: otherwise every key is styled twice.
                widget.set_reactive(FooterKey.compact, self.compact)
                widget.set_class(self.compact, "-compact", update=False)
                if widget.action in left_out:
                    continue
                if widget.action in bare:
                    widget.description = ""
                if widget.description:
                    widget.description = _(widget.description)
                if widget.tooltip and isinstance(widget.tooltip, str):
                    widget.tooltip = _(widget.tooltip)
            yield widget

    def on_resize(self, event: Resize) -> None:
        if self._bindings_ready and event.size.width != self._fitted_width:
            self.call_after_refresh(self.recompose)
