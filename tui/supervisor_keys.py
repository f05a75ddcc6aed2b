"""The list picker's supervisor keys (B7): v the supervisor screen, p reports.

Shown in the footer to supervisors only. An operator pressing either key is
told that it is for supervisors; the storage functions behind both screens
check the role again (storage.supervision, storage.reports).
"""

from __future__ import annotations

from textual.binding import Binding

from tui.desk import AtTheDesk
from tui.dialogs import NoticeDialog
from tui.i18n import N_, _
from tui.safe_text import safe_text

SUPERVISOR_BINDINGS = [
    Binding("v", "supervisor_screen", N_("Supervisor")),
    Binding("p", "report_screen", N_("Reports")),
    # For operators the two above are hidden and disabled (check_action); this answers instead.
    Binding("v,p", "supervisors_only", show=False),
]


class SupervisorKeys(AtTheDesk):
    """Mixed into ListPicker: the keys above and what they open."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        supervisor = self.desk.supervisor
        if action in ("supervisor_screen", "report_screen"):
            return supervisor
        if action == "supervisors_only":
            return not supervisor
        return True

    def action_supervisor_screen(self) -> None:
        from tui.supervisor_screen import SupervisorScreen

        self.app.push_screen(SupervisorScreen())

    def action_report_screen(self) -> None:
        from tui.report_screen import ReportScreen

        self.app.push_screen(ReportScreen())

    def action_supervisors_only(self) -> None:
        self.app.push_screen(
            NoticeDialog(
                _(
                    "The supervisor screen and the reports are for supervisors only; "
                    "{operator} is not one in the policy."
                ).format(operator=safe_text(self.desk.operator)),
                title=_("Supervisors only"),
            )
        )
