"""What is wrong with a file, as the admin reads it: each problem with its line and column.

A file with any problem changes nothing; :class:`BadFile` carries every problem
found, sorted by line, for the command line to list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from storage.errors import BadInput
from storage.i18n import _, ngettext

SHOWN_PROBLEMS = 20
PROGRESS_EVERY = 5000  # rows between two progress reports

Progress = Callable[[str, int, int], None]
"""Called with (phase, done, total) while a long import runs; phases: reading, checking,
writing."""


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the file: where (line of the file, column) and why."""

    line: int  # 0: the file as a whole (e.g. the --name given)
    column: str
    reason: str

    def __str__(self) -> str:
        if not self.line:
            return self.reason
        if self.column:
            return _("line {line}, column {column}: {reason}").format(
                line=self.line, column=self.column, reason=self.reason
            )
        return _("line {line}: {reason}").format(line=self.line, reason=self.reason)


class BadFile(BadInput):
    """The file cannot be imported; nothing was changed. Holds every problem found."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = sorted(problems)
        count = len(self.problems)
        super().__init__(
            ngettext(
                "{source}: {count} problem; nothing was imported",
                "{source}: {count} problems; nothing was imported",
                count,
            ).format(source=source, count=count)
        )

    def details(self, limit: int = SHOWN_PROBLEMS) -> list[str]:
        """The first ``limit`` problems as sentences, then "and N more"."""
        lines = [_sentence(_shown(problem)) for problem in self.problems[:limit]]
        if len(self.problems) > limit:
            lines.append(_("and {count} more.").format(count=len(self.problems) - limit))
        return lines


def _shown(problem: Problem) -> str:
    """A problem as a line of its own: one about the whole file starts as a sentence does."""
    text = str(problem)
    return text if problem.line else text[:1].upper() + text[1:]


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."
