"""Textual's Linux driver, whose reading of the terminal fails as the app's bugs do.

Textual reads the terminal on a thread of its own. When that thread stops on
an error (a key sequence its parser cannot take, such as a kitty keyboard
code past any character, sent by a misbehaving terminal), Textual prints the
traceback on the terminal and the app exits with 0, past the app's handling
of a bug: the operator saw source code, the administrator's log nothing. Here
the error is raised again in the app, whose handling of an unexpected error
logs it and tells the operator one sentence (tui/app.py).
"""

from __future__ import annotations

from textual.drivers.linux_driver import LinuxDriver


def raise_again(error: Exception) -> None:
    """Run by the app: the input thread's error, raised where the app handles bugs."""
    raise error


class TerminalDriver(LinuxDriver):
    """:class:`LinuxDriver`, its input thread's errors handed to the app."""

    def _run_input_thread(self) -> None:
        try:
            self.run_input_thread()
        except Exception as error:
            self._app.call_later(raise_again, error)
