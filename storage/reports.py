"""Reports (B9): calls per operator or per list over a period, as typed rows and CSV.

A call is one recorded attempt; it belongs to the period when it *started*
in ``[since, until)``. For each group (an operator, or a work list):

- ``calls``: attempts;
- one count per outcome code (the policy's outcomes in their order, then any
  other code found in the attempts, e.g. from an older policy);
- ``successful``: attempts whose outcome closes the row and completes it
  (policy ``closes`` and ``completes``: e.g. confirmed, client cancels);
- ``success_rate`` = successful / calls;
- ``active_hours``: the clock hours (clinic time) in which someone made a call
  of the group, counted per operator: an operator calling at 09:10, 09:50 and
  11:05 was active 2 hours, two operators calling in the same hour count 2;
- ``calls_per_hour`` = calls / active_hours: the pace while calling, which
  breaks, meetings and idle hours do not dilute;
- ``first_call`` / ``last_call``: start of the first and the last call;
- ``calls_by_day``: calls on each day of the period (for a chart).

Groups by list: ``confirmation`` (appointment confirmation), ``call-list``
(one per call list, by name) and ``task`` (one per task kind).

Reports need the supervisor role (B7): :func:`build_report` raises
:class:`storage.errors.NotAllowed` otherwise.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from storage.cells import Writer, write_csv
from storage.connection import Connection
from storage.errors import NotAllowed
from storage.i18n import _
from storage.policy import Policy
from storage.rows import APPOINTMENT, ITEM, TASK

BY = ("operator", "list")
CONFIRMATION = "confirmation"
CALL_LIST = "call-list"
TASK_KIND = "task"
_LIST_KINDS = {APPOINTMENT: CONFIRMATION, ITEM: CALL_LIST, TASK: TASK_KIND}


@dataclass(frozen=True)
class ReportRow:
    """One group of a report: an operator (list_kind None) or a work list."""

    name: str  # operator; call list name or task kind; "" for confirmation
    list_kind: str | None  # None, or "confirmation", "call-list", "task"
    calls: int
    outcomes: Mapping[str, int]  # every code of the report, zeros included
    successful: int
    active_hours: int
    first_call: int
    last_call: int
    calls_by_day: tuple[int, ...]

    @property
    def success_rate(self) -> float:
        return self.successful / self.calls if self.calls else 0.0

    @property
    def calls_per_hour(self) -> float:
        return self.calls / self.active_hours if self.active_hours else 0.0


@dataclass(frozen=True)
class Report:
    by: str  # "operator" or "list"
    since: int
    until: int
    outcome_codes: tuple[str, ...]
    days: tuple[date, ...]  # the days of calls_by_day
    rows: tuple[ReportRow, ...]
    total: ReportRow | None = field(default=None)  # every call of the period; None if none


@dataclass
class _Group:
    calls: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    successful: int = 0
    hours: set[tuple[str, int]] = field(default_factory=set)  # (operator, hour start)
    first: int | None = None
    last: int = 0
    by_day: Counter[date] = field(default_factory=Counter)

    def add(
        self, operator: str, started: int, moment: datetime, outcome: str, success: bool
    ) -> None:
        self.calls += 1
        self.outcomes[outcome] += 1
        self.successful += success
        self.hours.add((operator, started - moment.minute * 60 - moment.second))
        self.first = started if self.first is None else min(self.first, started)
        self.last = max(self.last, started)
        self.by_day[moment.date()] += 1

    def row(
        self, name: str, list_kind: str | None, codes: tuple[str, ...], days: tuple[date, ...]
    ) -> ReportRow:
        return ReportRow(
            name=name,
            list_kind=list_kind,
            calls=self.calls,
            outcomes={code: self.outcomes[code] for code in codes},
            successful=self.successful,
            active_hours=len(self.hours),
            first_call=self.first or 0,
            last_call=self.last,
            calls_by_day=tuple(self.by_day[day] for day in days),
        )


def _days(policy: Policy, since: int, until: int) -> tuple[date, ...]:
    first = datetime.fromtimestamp(since, policy.timezone).date()
    last = datetime.fromtimestamp(max(since, until - 1), policy.timezone).date()
    return tuple(first + timedelta(days=n) for n in range((last - first).days + 1))


def build_report(
    conn: Connection,
    policy: Policy,
    *,
    since: int,
    until: int,
    by: str,
    supervisor: bool,
) -> Report:
    """The report of calls started in ``[since, until)``, grouped ``by`` operator or list."""
    if not supervisor:
        raise NotAllowed(_("Only a supervisor may see reports."))
    if by not in BY:
        raise ValueError(f"a report is by {' or '.join(BY)}, not {by!r}")
    if until <= since:
        raise ValueError("the report's period ends before it begins")
    successful = {o.code for o in policy.outcomes if o.closes and o.completes}
    groups: dict[tuple[str | None, str], _Group] = defaultdict(_Group)
    total = _Group()
    seen_codes: set[str] = set()
    zone = policy.timezone
    rows = conn.execute(
        "SELECT a.operator, a.kind, a.started_at, a.outcome,"
        " CASE a.kind WHEN 'item' THEN cl.name WHEN 'task' THEN t.kind END"
        " FROM attempts a"
        " LEFT JOIN call_list_items i ON a.kind = 'item' AND i.id = a.source_id"
        " LEFT JOIN call_lists cl ON cl.id = i.list_id"
        " LEFT JOIN tasks t ON a.kind = 'task' AND t.id = a.source_id"
        " WHERE a.started_at >= ? AND a.started_at < ?",
        (since, until),
    )
    for operator, kind, started, outcome, list_name in rows:
        moment = datetime.fromtimestamp(started, zone)
        success = outcome in successful
        seen_codes.add(outcome)
        key: tuple[str | None, str] = (
            (None, operator) if by == "operator" else (_LIST_KINDS.get(kind, kind), list_name or "")
        )
        groups[key].add(operator, started, moment, outcome, success)
        total.add(operator, started, moment, outcome, success)
    codes = tuple(o.code for o in policy.outcomes) + tuple(
        sorted(seen_codes - {o.code for o in policy.outcomes})
    )
    days = _days(policy, since, until)
    return Report(
        by=by,
        since=since,
        until=until,
        outcome_codes=codes,
        days=days,
        rows=tuple(
            groups[key].row(key[1], key[0], codes, days)
            for key in sorted(groups, key=lambda k: _order(policy, k))
        ),
        total=total.row("", None, codes, days) if total.calls else None,
    )


def _order(policy: Policy, key: tuple[str | None, str]) -> tuple[int, int, str]:
    list_kind, name = key
    if list_kind is None:
        return (0, 0, name.casefold())
    if list_kind == CONFIRMATION:
        return (1, 0, name)
    if list_kind == CALL_LIST:
        return (2, 0, name.casefold())
    kinds = policy.callable_task_kinds
    return (3, kinds.index(name) if name in kinds else len(kinds), name)


FIXED_COLUMNS = (
    "calls",
    "successful",
    "success_rate",
    "active_hours",
    "calls_per_hour",
    "first_call",
    "last_call",
)


GROUP_COLUMNS = ("operator", "list_kind", "list")
"""The columns naming what a report's row counts: by operator the first, by list the others."""


def report_columns(report: Report) -> tuple[str, ...]:
    """The CSV header: the group, calls, one column per outcome code, then the rest.

    An outcome code that is also the name of a fixed column gets ``outcome_``
    before it.
    """
    group = GROUP_COLUMNS[:1] if report.by == "operator" else GROUP_COLUMNS[1:]
    taken = {*group, *FIXED_COLUMNS}
    outcomes = tuple(f"outcome_{code}" if code in taken else code for code in report.outcome_codes)
    return (*group, "calls", *outcomes, *FIXED_COLUMNS[1:])


def write_report_csv(report: Report, policy: Policy, out: Writer, *, bom: bool = False) -> int:
    """Write the report as CSV (the export format, storage/cells.py); returns data rows."""
    zone = policy.timezone
    rows = []
    for row in report.rows:
        group = [row.name] if report.by == "operator" else [row.list_kind or "", row.name]
        rows.append(
            [
                *group,
                str(row.calls),
                *(str(row.outcomes[c]) for c in report.outcome_codes),
                str(row.successful),
                f"{row.success_rate:.3f}",
                str(row.active_hours),
                f"{row.calls_per_hour:.2f}",
                datetime.fromtimestamp(row.first_call, zone).isoformat(),
                datetime.fromtimestamp(row.last_call, zone).isoformat(),
            ]
        )
    # The group's names stay texts (a list "01.12" is no date); the counts are numbers.
    write_csv(out, report_columns(report), rows, bom=bom, texts=GROUP_COLUMNS)
    return len(report.rows)
