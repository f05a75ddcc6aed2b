"""The report screen (B9): calls per operator or per work list over a period.

Opened with p on the list picker, by supervisors only (storage.reports
refuses anyone else). A table shows for each operator (or work list) the
calls, the successful ones, the success rate, calls per active hour and a bar
of the calls; under it, the outcomes of the chosen line, and for a period of
several days a small chart of all calls by day. The numbers are
storage.reports' (see there for what counts as a success and an active hour).

Keys: t today, w the last 7 days, m the last 30 days; o per operator,
l per work list; Up/Down choose the line whose outcomes show; r refreshes;
Escape goes back to the list picker.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Static

from storage.connection import Connection
from storage.i18n import decimal_number, whole_number
from storage.policy import Policy
from storage.reports import CALL_LIST, CONFIRMATION, Report, ReportRow, build_report
from tui.client_pane import outcome_label
from tui.database_line import DatabaseLine
from tui.desk import AtTheDesk
from tui.footer import Footer
from tui.formats import day_text, fit, local, task_kind_text
from tui.i18n import N_, _
from tui.messages import DataChanged, FollowsEveryCommit
from tui.safe_text import safe_text
from tui.steady import SteadyText

PERIODS = (1, 7, 30)  # days, ending today
EIGHTHS = " ▏▎▍▌▋▊▉█"  # a horizontal bar, in eighths of a cell
HEIGHTS = " ▁▂▃▄▅▆▇█"  # a vertical bar, in eighths of a line


def period(policy: Policy, now: int, days: int) -> tuple[int, int]:
    """[since, until) of the last ``days`` days, today included, in the clinic's time zone."""
    today = local(now, policy).date()

    def start(day: date) -> int:
        return int(datetime(day.year, day.month, day.day, tzinfo=policy.timezone).timestamp())

    return start(today - timedelta(days=days - 1)), start(today + timedelta(days=1))


def period_title(days: int, first: date, last: date) -> str:
    if days == 1:
        return _("today, {day}").format(day=day_text(last))
    return _("last {count} days, {first} – {last}").format(
        count=days, first=day_text(first), last=day_text(last)
    )


def group_name(row: ReportRow) -> str:
    """The line's name: an operator, or a work list as the list picker names it."""
    if row.list_kind is None:
        return safe_text(row.name)
    if row.list_kind == CONFIRMATION:
        return _("Appointment confirmation")
    if row.list_kind == CALL_LIST:
        return safe_text(row.name)
    return _("Tasks: {kind}").format(kind=task_kind_text(row.name))


def hbar(value: int, maximum: int, width: int) -> str:
    """A bar of ``width`` cells for the largest value, in eighths of a cell."""
    if maximum <= 0 or value <= 0:
        return ""
    eighths = max(round(value / maximum * width * 8), 1)
    return "█" * (eighths // 8) + (EIGHTHS[eighths % 8] if eighths % 8 else "")


def percent(rate: float) -> str:
    return _("{value}%").format(value=whole_number(round(rate * 100)))


def outcome_parts(row: ReportRow, policy: Policy) -> list[str]:
    """The outcomes of a line that occurred, most frequent first, each with its count."""
    counts = sorted(((n, code) for code, n in row.outcomes.items() if n), key=lambda pair: -pair[0])
    if not counts:
        return [_("no calls")]
    return [f"{outcome_label(policy, code)} {whole_number(n)}" for n, code in counts]


SEPARATOR = " · "


def outcome_lines(name: str, parts: Sequence[str], width: int, height: int) -> Text:
    """ "name: part · part · …" in lines of ``width`` cells, broken only between outcomes:
    a label wrapped at its own space ("Перезвонить" / "позже 1") read as two outcomes.
    A part wider than a line, or the last line when more would follow, ends in "…"."""
    lines = [f"{name}: {parts[0]}"] if parts else [f"{name}:"]
    for part in parts[1:]:
        if cell_len(lines[-1] + SEPARATOR + part) <= width:
            lines[-1] += SEPARATOR + part
        else:
            lines.append(part)
    if len(lines) > height:
        lines = lines[:height]
        lines[-1] = fit(lines[-1] + SEPARATOR + "…", width)
    text = Text("\n".join(fit(line, width) for line in lines))
    text.stylize("bold", 0, len(name) + 2)  # "name: ", not the outcomes
    return text


class OutcomeLines(Static):
    """The outcomes of the chosen line, laid out again when its width changes."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.outcomes: tuple[str, tuple[str, ...]] | None = None  # the name and its parts

    def show(self, name: str, parts: Sequence[str]) -> None:
        self.outcomes = (name, tuple(parts))
        self.lay_out()

    def clear(self) -> None:
        self.outcomes = None
        self.update("")

    def lay_out(self) -> None:
        if self.outcomes is None:
            return
        # Before its first layout the panel spans the screen, less its padding.
        width = self.content_region.width or self.app.size.width - 2
        height = self.styles.height.cells if self.styles.height else None
        self.update(outcome_lines(*self.outcomes, width, height or 2))

    def on_resize(self) -> None:
        self.lay_out()


class DayChart(Widget):
    """Calls by day as vertical bars from zero, with the day of the month under them.

    Give it a height in CSS: the bars take all lines but the last (the days).
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.values: tuple[int, ...] = ()
        self.days: tuple[date, ...] = ()

    def show(self, values: Sequence[int], days: Sequence[date]) -> None:
        if (tuple(values), tuple(days)) == (self.values, self.days):
            return
        self.values, self.days = tuple(values), tuple(days)
        self.refresh()

    def render(self) -> Text:
        width, height = self.content_size.width, self.content_size.height
        count = len(self.values)
        if not count or width <= 0 or height < 2:
            return Text()
        bar = max(1, min(6, width // count - 1))
        maximum = max(self.values) or 1
        # The counts above the bars where they fit; the bars start from zero.
        numbers = bar >= len(whole_number(maximum)) and height >= 3
        rows = height - 1 - numbers
        lines = []
        if numbers:
            lines.append(
                " ".join(
                    whole_number(value).center(bar) if value else " " * bar for value in self.values
                ).rstrip()
            )
        for line in reversed(range(rows)):
            cells = []
            for value in self.values:
                level = round(value / maximum * rows * 8) - line * 8
                cells.append(HEIGHTS[min(max(level, 0), 8)] * bar)
            lines.append(" ".join(cells).rstrip())
        # The day of the month under its bar; with narrow bars, under every few.
        step = -(-3 // (bar + 1))
        labels = [" "] * ((bar + 1) * count + 2)
        for index, day in enumerate(self.days[::step]):
            column = index * step * (bar + 1)
            labels[column : column + 2] = list(str(day.day).ljust(2))
        lines.append("".join(labels).rstrip())
        return Text("\n".join(lines))


class ReportScreen(FollowsEveryCommit, AtTheDesk, Screen[None]):
    """See the module docstring for keys."""

    BINDINGS = [
        Binding("t", "period(1)", N_("Today")),
        Binding("w", "period(7)", N_("7 days")),
        Binding("m", "period(30)", N_("30 days")),
        Binding("o", "group('operator')", N_("Operators")),
        Binding("l", "group('list')", N_("Lists")),
        Binding("r", "refresh_report", N_("Refresh")),
        Binding("escape", "back", N_("Back")),
    ]

    def __init__(self, *, days: int = 1, by: str = "operator") -> None:
        super().__init__()
        self.days = days
        self.by = by
        self.report: Report | None = None
        self.shown_columns: tuple[str, int] | None = None  # (by, terminal width)
        self.bar_width = 20  # the bar column's cells, set with the columns

    def compose(self) -> ComposeResult:
        yield SteadyText(id="report-title")
        yield DatabaseLine()
        yield DataTable(id="report", cursor_type="row")
        yield OutcomeLines(id="report-outcomes")
        yield SteadyText(id="report-chart-title")
        yield DayChart(id="report-chart")
        yield SteadyText(id="report-status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#report", DataTable).focus()
        self.show_title()
        self.load()

    # --- keys -----------------------------------------------------------------------

    def action_period(self, days: int) -> None:
        if days in PERIODS and days != self.days:
            self.days = days
            self.show_title()
            self.load()

    def action_group(self, by: str) -> None:
        if by != self.by:
            self.by = by
            self.show_title()
            self.load()

    @on(DataChanged)
    def action_refresh_report(self) -> None:
        self.load()

    def action_back(self) -> None:
        self.app.pop_screen()

    # --- reading --------------------------------------------------------------------

    def load(self) -> None:
        desk = self.desk
        days, by = self.days, self.by
        since, until = period(desk.policy, desk.now(), days)

        def job(conn: Connection) -> Report:
            return build_report(
                conn,
                desk.policy,
                since=since,
                until=until,
                by=by,
                supervisor=desk.session.supervisor,
            )

        # A ValueError from build_report is a bug (the keys offer only valid periods and
        # groupings): it goes to the crash handler, not to the status line.
        self.on_database(
            job,
            lambda report: self.show(report, days),
            lambda error: self.say(str(error)),
            group="report",
        )

    def say(self, message: str) -> None:
        self.query_one("#report-status", SteadyText).show(Text(message, style="bold"))

    def show_title(self) -> None:
        desk = self.desk
        since, until = period(desk.policy, desk.now(), self.days)
        first = local(since, desk.policy).date()
        last = local(until - 1, desk.policy).date()
        by = _("per operator") if self.by == "operator" else _("per work list")
        self.query_one("#report-title", SteadyText).show(
            " · ".join([_("Reports"), by, period_title(self.days, first, last)])
        )

    def show(self, report: Report, days: int) -> None:
        if days != self.days or report.by != self.by:
            return  # the supervisor switched meanwhile; the newer report is on its way
        if report == self.report:
            return  # nothing to repaint
        self.report = report
        table = self.query_one("#report", DataTable)
        width = self.app.size.width
        name_width = 16 if report.by == "operator" else 24
        if self.shown_columns != (report.by, width):
            self.shown_columns = (report.by, width)
            table.clear(columns=True)
            table.add_column(
                _("Operator") if report.by == "operator" else _("Work list"),
                width=name_width,
                key="name",
            )
            table.add_column(_("Calls"), width=6, key="calls")  # «Звонки»
            table.add_column(_("Success"), width=7, key="successful")
            table.add_column(_("Rate"), width=5, key="rate")
            table.add_column(_("Per hour"), width=8, key="per-hour")
            # What is left of the terminal's width (cell padding and scroll bar counted).
            self.bar_width = min(max(width - name_width - 26 - 2 * 6 - 3, 6), 40)
            table.add_column(_("Calls"), width=self.bar_width, key="bar")
        row = table.cursor_row
        table.clear()
        biggest = max((r.calls for r in report.rows), default=0)
        for line in report.rows:
            table.add_row(*self.cells(line, fit(group_name(line), name_width), biggest))
        if report.total is not None:
            table.add_row(*self.cells(report.total, _("All"), 0, bold=True))
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))
        self.show_outcomes()
        chart_title = self.query_one("#report-chart-title", SteadyText)
        chart = self.query_one("#report-chart", DayChart)
        several = len(report.days) > 1
        chart_title.display = chart.display = several
        if several:
            total = report.total.calls if report.total is not None else 0
            chart_title.show(_("Calls by day: {count} in all").format(count=whole_number(total)))
            by_day = (
                report.total.calls_by_day if report.total is not None else ((0,) * len(report.days))
            )
            chart.show(by_day, report.days)
        self.say("" if report.rows else _("No calls in this period."))

    def cells(
        self, row: ReportRow, name: str, biggest: int, *, bold: bool = False
    ) -> tuple[Text, ...]:
        style = "bold" if bold else ""
        values = (
            name,
            whole_number(row.calls),
            whole_number(row.successful),
            percent(row.success_rate),
            decimal_number(row.calls_per_hour) if row.active_hours else "",
            hbar(row.calls, biggest, self.bar_width),
        )
        return tuple(
            Text(value, style=style, justify="right" if 0 < index < 5 else "left")
            for index, value in enumerate(values)
        )

    @on(DataTable.RowHighlighted, "#report")
    def show_outcomes(self) -> None:
        report = self.report
        panel = self.query_one("#report-outcomes", OutcomeLines)
        if report is None or not report.rows:
            panel.clear()
            return
        lines = [*report.rows, *([report.total] if report.total is not None else [])]
        index = min(self.query_one("#report", DataTable).cursor_row, len(lines) - 1)
        line = lines[index]
        name = group_name(line) if index < len(report.rows) else _("All")
        panel.show(name, outcome_parts(line, self.desk.policy))
