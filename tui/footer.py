"""The key footer, in the current language, that never runs off the screen.

``BINDINGS`` are built when a class is defined, before the language is
chosen, so their descriptions are msgids marked with ``N_`` (tui.i18n). This
footer translates each description when it draws its keys (on every
recompose), so every screen's keys show in the language chosen at start.

Russian words are longer, and telephony adds keys: when the keys do not fit
the width, the footer leaves out the keys the screen lists in ``FOOTER_SPARE``
(action names, the least needed first; those that fit again are put back,
the most needed first), then if need be the last keys, and shows "h Keys"
instead: h lists every key of the
screen with its word (:func:`key_list`, tui/app.py). A key is never shown
without its word: a bare letter tells an operator nothing. The keys left out
still work.

Use it instead of ``textual.widgets.Footer`` on every screen.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Footer as TextualFooter

# Not exported by textual.widgets; textual is pinned exactly (pyproject.toml).
from textual.widgets._footer import FooterKey

from tui.i18n import N_, _

# h, on every screen (tui/app.py); the footer shows it when it leaves keys out.
KEYS = Binding("h", "show_keys", N_("Keys"), show=False)


def key_list(screen: Screen[object]) -> str:
    """Every key the screen's footer may show, one a line with its word: what h shows."""
    lines: dict[str, str] = {}
    for _node, binding, _enabled, _tooltip in screen.active_bindings.values():
        if binding.show and binding.description and binding.action not in lines:
            key = screen.app.get_key_display(binding)
            lines[binding.action] = f"{key:<4} {_(binding.description)}"
    return "\n".join(lines.values())


class Footer(TextualFooter):
    """Textual's footer with translated key descriptions, fitted to its width."""

    _fitted_width = 0  # the width the keys were last fitted to
    _composed_for: tuple[tuple[str, str, str, bool, str], ...] = ()  # the keys composed

    def _fit(self) -> set[str]:
        """The actions left out so that the keys, and "h Keys" then, fit the width."""
        # Before the first layout the footer has no size yet; it spans the screen's width.
        width = self.size.width or self.app.size.width
        spare = list(getattr(self.screen, "FOOTER_SPARE", ()))
        if not width or not spare:
            return set()
        cells: dict[str, int] = {}
        for _node, binding, _enabled, _tooltip in self.screen.active_bindings.values():
            if not binding.show or binding.action in cells:
                continue
            if binding.group is not None:
                return set()  # grouped keys are drawn differently: leave them be
            cells[binding.action] = self._cells(self.app.get_key_display(binding), binding)
        if sum(cells.values()) <= width:
            return set()
        room = width - self._cells(KEYS.key, KEYS)
        left_out: list[str] = []

        def used() -> int:
            return sum(cells[a] for a in cells if a not in left_out)

        for action in spare:  # the least needed first…
            if used() <= room:
                break
            if action in cells:
                left_out.append(action)
        spared = list(left_out)
        for action in reversed(cells):  # still too wide (Russian, 60 columns, telephony on):
            if used() <= room:  # the last keys too, rather than run off the edge
                break
            if action not in left_out:
                left_out.append(action)
        for action in reversed(spared):  # …and back what fits again, most needed first
            if used() + cells[action] <= room:
                left_out.remove(action)
        return set(left_out)

    def _cells(self, key: str, binding: Binding) -> int:
        """The cells a key and its word take: compact "k word " or " k word "."""
        words = cell_len(_(binding.description)) if binding.description else 0
        return cell_len(key) + words + (2 if self.compact else 3)

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
        left_out = self._fit()
        for widget in super().compose():
            if isinstance(widget, FooterKey):
                if widget.action in left_out:
                    continue
                self._as_composed(widget)
                if widget.description:
                    widget.description = _(widget.description)
                if widget.tooltip and isinstance(widget.tooltip, str):
                    widget.tooltip = _(widget.tooltip)
            yield widget
        if left_out:
            keys = FooterKey(KEYS.key, KEYS.key, _(KEYS.description), KEYS.action)
            self._as_composed(keys)
            yield keys

    def _as_composed(self, key: FooterKey) -> None:
        """The key starts as compact as its footer (what binding them sets at mount), so
        that the binding changes nothing: otherwise every key is styled twice."""
        key.set_reactive(FooterKey.compact, self.compact)
        key.set_class(self.compact, "-compact", update=False)

    def on_resize(self, event: Resize) -> None:
        if self._bindings_ready and event.size.width != self._fitted_width:
            self.call_after_refresh(self.recompose)
