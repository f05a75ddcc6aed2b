"""Small modal dialogs: a notice to dismiss, and a yes/no question.

NoticeDialog keys: Enter or Escape dismiss.
ConfirmDialog keys: y yes, n or Escape no.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.i18n import N_, _
from tui.safe_text import safe_text


class NoticeDialog(ModalScreen[None]):
    """A warning or error the operator reads and dismisses."""

    BINDINGS = [
        Binding("enter", "close", N_("OK")),
        Binding("escape", "close", N_("Close"), show=False),
    ]

    def __init__(self, message: str, *, title: str = "") -> None:
        super().__init__(classes="notice")
        self.message = message
        self.title_text = title or _("Notice")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.title_text), classes="dialog-title")
            # Messages may quote data (a name, a storage error's file name): tui/safe_text.py.
            yield Static(Text(safe_text(self.message, keep_newlines=True)), id="notice-message")
            yield Static(Text(_("Enter or Escape to close")), classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(None)


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question; Escape means no."""

    BINDINGS = [
        Binding("y", "answer(True)", N_("Yes")),
        Binding("n", "answer(False)", N_("No")),
        Binding("escape", "answer(False)", N_("No"), show=False),
    ]

    def __init__(self, question: str, *, title: str = "", hint: str = "") -> None:
        super().__init__(classes="confirm")
        self.question = question
        self.title_text = title or _("Please confirm")
        self.hint = hint or _("y — yes, n — no")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.title_text), classes="dialog-title")
            yield Static(Text(safe_text(self.question, keep_newlines=True)), id="confirm-question")
            yield Static(Text(self.hint), classes="dialog-hint")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
