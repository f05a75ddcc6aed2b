"""The client card: the full record; phones, e-mail, notes and do-not-call are editable.

Keys: Tab moves between fields, Space toggles do-not-call, Enter in a field
saves (every change is audited), Escape closes without saving.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from storage.clients import Client, get_client, split_phones, update_client
from tui.desk import AtTheDesk
from tui.formats import birth_date_text, continuing
from tui.i18n import N_, _
from tui.safe_text import safe_text, typed_back
from tui.tick_box import TickBox


class ClientCard(AtTheDesk, ModalScreen[None]):
    """See the module docstring for keys."""

    # No auto-focus (""): on_mount focuses the first field itself without scrolling to
    # it; Textual's auto-focus scrolls it to the middle, and on a short terminal the
    # dialog opened with whose it is (title, name) scrolled away.
    AUTO_FOCUS = ""

    BINDINGS = [Binding("escape", "close", N_("Close"))]

    def __init__(self, client_id: int) -> None:
        super().__init__()
        self.client_id = client_id
        self.client: Client | None = None
        self.shown: dict[str, str] = {}  # the text each field was filled with

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="client-card"):
            yield Static(Text(_("Client card")), classes="dialog-title")
            yield Static("", id="card-identity")
            # No select-on-focus: the next key would replace everything in the field.
            yield Label(_("Phones (main first, separated by ;)"))
            yield Input(id="card-phones", select_on_focus=False)
            yield Label(_("E-mail"))
            yield Input(id="card-email", select_on_focus=False)
            yield Label(_("Notes"))
            yield Input(id="card-notes", select_on_focus=False)
            yield TickBox(_("Do not call"), id="card-dnc")
            yield Static(
                Text(_("Enter saves, Escape closes")), id="card-message", classes="dialog-hint"
            )

    def on_mount(self) -> None:
        # Not scrolled to: on a short terminal the card opens at its top, with whose it is.
        self.query_one("#card-phones", Input).focus(scroll_visible=False)
        self.load()

    def load(self) -> None:
        self.on_database(
            lambda conn: get_client(conn, self.client_id),
            self.fill,
            lambda error: self.say(str(error)),
            group="card",
        )

    def fill(self, client: Client | None) -> None:
        if client is None:
            return  # removed meanwhile: the fields stay empty and Enter saves nothing
        self.client = client
        born = birth_date_text(client.birth_date) or _("unknown")
        identity = Text(safe_text(client.name), style="bold")
        identity.append("\n" + _("Born: {date}").format(date=born))
        if client.external_id:
            identity.append("   " + _("Clinic id: {id}").format(id=safe_text(client.external_id)))
        self.query_one("#card-identity", Static).update(identity)
        # Control characters show as placeholders (tui/safe_text.py), never reaching the
        # terminal; those of line breaks and tabs become them again on saving.
        self.shown = {
            "phones": "; ".join(safe_text(phone) for phone in client.phones),
            "email": safe_text(client.email),
            "notes": safe_text(client.notes),
        }
        for field, text in self.shown.items():
            self.query_one(f"#card-{field}", Input).value = text
        self.query_one("#card-dnc", TickBox).value = client.do_not_call

    def say(self, message: str) -> None:
        shown = self.query_one("#card-message", Static)
        shown.update(Text(safe_text(message, keep_newlines=True)))
        # On a short terminal it may be below the edge (tui/app.tcss, .dialog).
        self.call_after_refresh(shown.scroll_visible, animate=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.client is None:
            return
        # Only the fields the operator changed: one shown with a placeholder for a control
        # character (tui/safe_text.py) must not overwrite the stored text with it.
        typed = {field: self.query_one(f"#card-{field}", Input).value for field in self.shown}
        changes: dict[str, object] = {}
        do_not_call = self.query_one("#card-dnc", TickBox).value
        if do_not_call != self.client.do_not_call:
            changes["do_not_call"] = do_not_call
        if typed["phones"] != self.shown["phones"]:
            changes["phones"] = split_phones(typed["phones"])
        for field in ("email", "notes"):
            if typed[field] != self.shown[field]:
                changes[field] = typed_back(typed[field]).strip()  # notes keep their lines
        self.say(_("Saving…"))
        self.save(changes)

    def save(self, changes: dict[str, object]) -> None:
        desk = self.desk
        shown = self.client  # a field another card saved since is not overwritten
        self.on_database(
            lambda conn: update_client(
                conn, desk.policy, desk.session, self.client_id, changes, desk.now(), shown=shown
            ),
            lambda _saved: self.dismiss(None),
            lambda error: self.say(
                _("Not saved: {reason} Your changes are kept.").format(
                    reason=continuing(str(error))
                )
            ),
            group="card-save",
            on_busy=self.say,
        )

    def action_close(self) -> None:
        self.dismiss(None)
