"""A progress bar on standard error for long commands (import, copy), only on a terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any


class ProgressBar:
    """A rich progress bar with one line per phase, shown once work has taken over a moment.

    Called as ``bar(phase, done, total)``; ``labels`` gives each phase's line
    as Rich markup (data quoted in it escaped and made safe by the caller).
    """

    DELAY = 0.7  # seconds

    def __init__(self, labels: Mapping[str, str]) -> None:
        self.labels = labels
        self.started = time.monotonic()
        self.bar: Any = None
        self.tasks: dict[str, Any] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self.bar is None:
            if time.monotonic() - self.started < self.DELAY:
                return
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.bar.start()
        if phase not in self.tasks:
            self.tasks[phase] = self.bar.add_task(self.labels.get(phase, phase), total=total)
        self.bar.update(self.tasks[phase], completed=done, total=total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@contextmanager
def progress_bar(labels: Mapping[str, str]) -> Iterator[ProgressBar | None]:
    """A progress callback when standard error is a terminal, else None."""
    if not sys.stderr.isatty():
        yield None
        return
    bar = ProgressBar(labels)
    try:
        yield bar
    finally:
        bar.close()
