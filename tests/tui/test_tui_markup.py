"""Text that is not markup is shown as written: policy keys such as ``[telephony]`` in
notices, square brackets in a policy's outcome labels (B1), in English and Russian.
"""

from __future__ import annotations

import dataclasses

from textual.widget import Widget
from textual.widgets import OptionList
from textual.widgets._toast import Toast

from tests.clinic_fixtures import DeskClinic, open_list, running, wait_until
from tui.dialogs import NoticeDialog
from tui.i18n import _
from tui.result_dialog import ResultDialog


def drawn(widget: Widget) -> str:
    """The characters a widget puts on the screen, lines joined."""
    return "\n".join(strip.text for strip in widget.render_lines(widget.region.reset_offset))


async def test_policy_keys_in_notices_are_shown(desk: DeskClinic, language: str) -> None:
    # The phone exchange's advice names a policy section; it reaches the operator as a
    # short notice (from a screen) and as a dialog.
    advice = _("check that it is running and the policy's [telephony] host and port")
    assert "[telephony]" in advice
    app = desk.app("alice")
    try:
        # Notices (toasts) are drawn only when asked for in a test.
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            screen = await open_list(pilot)
            screen.notify(advice, title=_("Phone exchange"))
            toast = await wait_until(
                pilot, lambda: next(iter(app.screen.query(Toast)), None), "the notice"
            )
            await wait_until(
                pilot,
                lambda: "[telephony]" in " ".join(drawn(toast).split()),
                "the key in the notice",
            )
            app.push_screen(NoticeDialog(advice, title=_("Phone exchange")))
            dialog = await wait_until(
                pilot, lambda: isinstance(app.screen, NoticeDialog) and app.screen, "the dialog"
            )
            assert isinstance(dialog, NoticeDialog)
            message = dialog.query_one("#notice-message")
            await wait_until(
                pilot,
                lambda: "[telephony]" in " ".join(drawn(message).split()),
                "the key in the dialog",
            )
    finally:
        app.close_database()


async def test_brackets_in_outcome_labels_are_shown(desk: DeskClinic, language: str) -> None:
    first = desk.policy.outcomes[0]
    label = dataclasses.replace(first, label_en="[b]Confirmed[/b]", label_ru="[b]Да[/b]")
    desk.policy = dataclasses.replace(desk.policy, outcomes=(label, *desk.policy.outcomes[1:]))
    app = desk.app("alice")
    async with running(app) as pilot:
        await open_list(pilot)
        await pilot.press("c")
        await wait_until(pilot, lambda: desk.locks(), "the call")
        await pilot.press("f")
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, ResultDialog) and app.screen, "the result dialog"
        )
        assert isinstance(dialog, ResultDialog)
        options = dialog.query_one("#outcomes", OptionList)
        expected = "1 [b]Confirmed[/b]" if language == "en" else "1 [b]Да[/b]"
        await wait_until(pilot, lambda: expected in drawn(options), "the label as written")
