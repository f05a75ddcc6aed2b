"""A headless Textual driver that keeps what the app writes, as a real terminal would get it.

Set ``app.driver_class = TerminalCapture`` and ``app.written = []`` before
``app.run_test(headless=False)``: every string the app writes to its terminal
is appended to ``app.written``.
"""

from __future__ import annotations

from textual.drivers.headless_driver import HeadlessDriver


class TerminalCapture(HeadlessDriver):
    """A headless driver that keeps what the app writes, as a real terminal would get it."""

    @property
    def is_headless(self) -> bool:
        return False  # so that the app renders and writes its updates

    def write(self, data: str) -> None:
        self._app.written.append(data)  # type: ignore[attr-defined]

    def flush(self) -> None:
        pass
