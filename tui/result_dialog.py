"""The result dialog (C5): pick an outcome, write a comment, save.

Keys: 1…9 pick the outcome with that number (while the outcomes have the focus) and
move to the comment; Tab and Shift+Tab move between the fields in the order typed;
Enter in the comment (or the call-back time) saves; Escape cancels and the
lock stays, and what was written comes back when the dialog opens again for
the same call (a Draft the work screen keeps). If the call is taken over or
released meanwhile, or its appointment was moved (CallEnded), the dialog says
so and keeps the comment: Enter then
saves it as a note on the row, Escape drops it. With other open rows on the
same phone (B6), Tab reaches the "same outcome for N other rows" box: Space
ticks it, Enter there saves. A failed save keeps the dialog open with
everything typed. While a save runs, Enter and Escape wait for it: it cannot
be called back halfway.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from storage.database import DatabaseGone, DatabaseUnreachable
from storage.errors import RingroundError
from storage.locks import Finished, LockLost
from storage.policy import Outcome, Policy
from storage.rows import RowKey
from tui.database_work import deliver, in_worker
from tui.formats import continuing, moment_text, parse_moment
from tui.i18n import N_, _, current_language
from tui.safe_text import safe_text
from tui.same_phone import checkbox_label
from tui.tick_box import TickBox


class CallEnded(RingroundError):
    """The save found the call over without saving it (the appointment was moved during
    it, storage.locks.Moved): as for a lost call, the sentence and what was typed stay."""


@dataclass(frozen=True)
class ResultChoice:
    outcome: str
    comment: str
    callback_at: int | None
    callback_anyone: bool
    family: bool = False  # the same outcome for the other rows of this phone (B6)


@dataclass(frozen=True)
class Draft:
    """What was written in a dialog closed with Escape, for the next f on the same call."""

    outcome: str | None
    comment: str
    callback: str  # the call-back time as typed


class FamilyBox(TickBox, inherit_bindings=False):
    """The same-phone checkbox: Space ticks it, Enter saves the dialog (not a toggle)."""

    BINDINGS = [Binding("space", "toggle_button", show=False)]


class ResultDialog(ModalScreen[Finished | None]):
    """See the module docstring for keys."""

    # No auto-focus (""): on_mount focuses the first field itself without scrolling to
    # it; Textual's auto-focus scrolls it to the middle, and on a short terminal the
    # dialog opened with whose it is (title, name) scrolled away.
    AUTO_FOCUS = ""

    BINDINGS = [
        Binding("escape", "cancel", N_("Cancel")),
        Binding("enter", "submit", show=False),  # on the same-phone box; fields submit alone
        # Digits pick outcomes anywhere but in the text fields (README, "Using it"). A
        # priority binding runs as the app reads the key, before it hands on the next:
        # keys typed right after the digit, often in the same SSH packet, then reach the
        # comment in the order typed (a widget's own handler would run later, while the
        # app had already sent those keys to the outcome list).
        *(Binding(str(n), f"choose({n - 1})", show=False, priority=True) for n in range(1, 10)),
        # Tab too: the call-back time typed right after it belongs to the next field, not
        # to the comment that had the focus when the key arrived.
        Binding("tab", "app.focus_next", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", show=False, priority=True),
    ]

    def __init__(
        self,
        client: str,
        policy: Policy,
        now: Callable[[], int],
        save: Callable[[ResultChoice, Callable[[str], None]], Finished],
        *,
        preselect: str | None = None,
        family: int = 0,
        row_key: RowKey | None = None,
        keep: Callable[[str], None] | None = None,
        draft: Draft | None = None,
        keep_draft: Callable[[Draft], None] | None = None,
    ) -> None:
        super().__init__()
        self.draft = draft  # written before Escape, on this same call
        self.keep_draft = keep_draft  # takes what is written when Escape closes the dialog
        self.row_key = row_key  # the row whose call this is
        self.keep = keep  # saves a comment as a note on the row (in a worker thread)
        self.lost = False  # the call was taken over or released: only a note can be saved
        self.family = family  # other open rows on the client's phone
        self.client = client
        self.policy = policy
        self.now = now
        self.save = save
        self.preselect = preselect
        self.outcome: Outcome | None = None
        self.saving = False  # a save is running in a worker

    def compose(self) -> ComposeResult:
        language = current_language()  # the policy has each outcome's label in both
        with Vertical(classes="dialog", id="result-dialog"):
            yield Static(
                Text(_("Result of the call — {client}").format(client=safe_text(self.client))),
                classes="dialog-title",
            )
            yield OptionList(
                *[
                    # A policy's label is not markup: "[x] Confirmed" shows as written.
                    Option(Text(f"{number} {safe_text(outcome.label(language))}"), id=outcome.code)
                    for number, outcome in enumerate(self.policy.outcomes, start=1)
                ],
                id="outcomes",
            )
            # No select-on-focus: coming back from the outcomes, the next key would
            # replace everything written so far.
            yield Input(placeholder=_("Comment (Enter saves)"), id="comment", select_on_focus=False)
            with Horizontal(id="callback-row"):
                # Short: the field is half the dialog wide (27 columns to write in).
                yield Input(
                    placeholder=_("When: 15:30 or 27.11 15:30"),
                    id="callback",
                    select_on_focus=False,
                )
                yield TickBox(_("Anyone may call"), id="anyone")
            if self.family:
                yield FamilyBox(checkbox_label(self.family), id="family")
            yield Static("", id="result-message")

    def on_mount(self) -> None:
        self.query_one("#callback-row").display = False
        options = self.query_one("#outcomes", OptionList)
        codes = [o.code for o in self.policy.outcomes]
        if self.preselect in codes:
            options.highlighted = codes.index(self.preselect)
        if self.draft is not None:
            self.query_one("#comment", Input).value = self.draft.comment
            self.query_one("#callback", Input).value = self.draft.callback
            if self.draft.outcome in codes:
                index = codes.index(self.draft.outcome)
                self.outcome = self.policy.outcomes[index]
                options.highlighted = index
                self.query_one("#callback-row").display = self.outcome.asks_callback
        # At once, before the first paint: a digit typed as soon as the dialog
        # shows must find the outcomes focused. Not scrolled to: on a short terminal
        # the dialog opens at its top, with whose call this is.
        self.set_focus(options, scroll_visible=False)

    def _choose(self, index: int) -> None:
        self.outcome = self.policy.outcomes[index]
        options = self.query_one("#outcomes", OptionList)
        options.highlighted = index
        self.query_one("#callback-row").display = self.outcome.asks_callback
        self.say("")
        # At once, not after a refresh (Widget.focus): the keys typed next belong to the
        # comment.
        self.set_focus(self.query_one("#comment", Input))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A digit picks an outcome only where the outcomes are: in a text field it is typed
        there, and on a tick box ("Anyone may call") it is most likely the call-back time
        typed one Tab too far, which must not turn the call into another outcome."""
        if action == "choose":
            index = parameters[0]
            in_policy = isinstance(index, int) and index < len(self.policy.outcomes)
            return in_policy and (self.focused is None or isinstance(self.focused, OptionList))
        return True

    def action_choose(self, index: int) -> None:
        self._choose(index)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option_index)

    def say(self, message: str) -> None:
        shown = self.query_one("#result-message", Static)
        shown.update(Text(safe_text(message, keep_newlines=True)))
        if message:  # on a short terminal it may be below the edge (tui/app.tcss, .dialog)
            self.call_after_refresh(shown.scroll_visible, animate=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def lock_lost(self, message: str) -> None:
        """The call is no longer this operator's: say so, keep what was typed."""
        self.lost = True
        self.saving = False
        if self.query_one("#comment", Input).value.strip() and self.keep is not None:
            self.say(
                message
                + " "
                + _("Your comment is kept: Enter saves it as a note on the row, Escape drops it.")
            )
        else:
            self.say(message + " " + _("Escape closes."))
        self.set_focus(self.query_one("#comment", Input))

    def action_submit(self) -> None:
        if self.saving:
            return  # a second Enter would only fail on the released lock
        if self.lost:
            comment = self.query_one("#comment", Input).value.strip()
            if not comment or self.keep is None:
                self.dismiss(None)
                return
            self.say(_("Saving…"))
            self.saving = True
            self._keep(comment)
            return
        if self.outcome is None:
            self.say(
                _("Pick an outcome first (1–{count}).").format(count=len(self.policy.outcomes))
            )
            self.query_one("#outcomes", OptionList).focus()
            return
        callback_at = None
        if self.outcome.asks_callback:
            typed = self.query_one("#callback", Input).value
            callback_at = parse_moment(typed, self.policy, self.now())
            if callback_at is None or callback_at <= self.now():
                self.say(_("Write the call-back time, e.g. 15:30 or 27.11 15:30."))
                self.query_one("#callback", Input).focus()
                return
        choice = ResultChoice(
            outcome=self.outcome.code,
            comment=self.query_one("#comment", Input).value,
            callback_at=callback_at,
            callback_anyone=self.query_one("#anyone", TickBox).value,
            family=bool(self.family) and self.query_one("#family", TickBox).value,
        )
        if callback_at is not None:
            self.say(
                _("Saving… call back {when}").format(
                    when=moment_text(callback_at, self.policy, self.now())
                )
            )
        else:
            self.say(_("Saving…"))
        self.saving = True
        self._save(choice)

    def _save(self, choice: ResultChoice) -> None:
        def failed(error: RingroundError) -> None:
            if isinstance(error, LockLost | CallEnded):
                self.lock_lost(str(error))
            else:
                self.not_saved(error)

        in_worker(
            self,
            lambda: self.save(choice, lambda message: deliver(self, self.say, message)),
            self.dismiss,
            failed,
            group="save",
        )

    def _keep(self, comment: str) -> None:
        keep = self.keep
        assert keep is not None
        in_worker(
            self, lambda: keep(comment), lambda _kept: self.kept(), self.not_saved, group="save"
        )

    def not_saved(self, error: RingroundError) -> None:
        if isinstance(error, DatabaseUnreachable):
            # Its sentence says what was saved: nothing, or (lost during the COMMIT) that
            # the server will tell; Enter then saves, or finds it saved already.
            self.save_failed(
                _("{reason} Your text is kept; Enter tries again.").format(reason=error)
            )
            return
        if isinstance(error, DatabaseGone):
            # The engine keeps to the file it opened: Enter saves only when that very
            # file is back at its path (a restored copy is another file), never before.
            message = _(
                "Not saved: {reason} Your text stays here; Enter saves it once that same "
                "file is back in its place."
            )
        else:
            message = _("Not saved: {reason} Your text is kept; Enter tries again.")
        self.save_failed(message.format(reason=continuing(str(error))))

    def kept(self) -> None:
        self.app.notify(_("Your comment was saved as a note on the row."), title=_("Note saved"))
        self.dismiss(None)

    def save_failed(self, message: str) -> None:
        self.saving = False
        self.say(message)

    def action_cancel(self) -> None:
        if self.saving:
            # Closing now would say "the lock stays" while the save may still succeed.
            self.say(_("Saving… please wait."))
            return
        comment = self.query_one("#comment", Input).value
        if self.keep_draft is not None and not self.lost and (self.outcome or comment):
            self.keep_draft(
                Draft(
                    self.outcome.code if self.outcome else None,
                    comment,
                    self.query_one("#callback", Input).value,
                )
            )
        self.dismiss(None)
