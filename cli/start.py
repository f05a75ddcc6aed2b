"""The app's start: ``ringround`` without a command, and ``demo`` once its clinic is written.

Kept apart from the commands (cli/commands.py), which cli/root.py loads only
when one of them is run or listed, so that the app's start does not pay for
them (docs/performance.md, "What loads before the first paint").
"""

from __future__ import annotations

import io
import os
import sys

from cli.options import Settings, use_database
from storage import admin_log
from storage.database import ReadOnlyDatabase
from storage.errors import BadInput
from storage.policy import Policy
from storage.roles import is_supervisor, login_name, operator_name
from tui.i18n import _


def has_terminal() -> bool:
    """Whether standard input and output are both a terminal, as the app needs."""
    try:
        return all(
            stream is not None and os.isatty(stream.fileno()) for stream in (sys.stdin, sys.stdout)
        )
    except (OSError, ValueError, io.UnsupportedOperation):  # closed or not a real file
        return False


def need_terminal() -> None:
    """Refuse to start the app without a terminal, before any session is written.

    ``ssh host command``, sftp and scp give the program pipes, not a terminal:
    an app started there would never see a key, never end, and count as a live
    session. Commands (check, export, import, ...) work without one.
    """
    if not has_terminal():
        admin_log.log_refused_login(login_name(), "no terminal (ssh without a tty, sftp, scp)")
        raise BadInput(
            _(
                "The app needs a terminal, and standard input or output is not one: "
                "log in with a terminal (ssh -t) or at the console; commands such as "
                "ringround check or ringround export work without one."
            )
        )


def run_app(db: str, policy: Policy, operator: str, notice: str = "") -> int:
    """Start the terminal app (imported only now: the other commands do not need Textual)."""
    from tui.start import start_app

    return start_app(db, policy, operator, is_supervisor(policy, operator), notice=notice)


def start(settings: Settings) -> int:
    """``ringround`` without a command: the app on the clinic's database."""
    policy = settings.policy()
    name = operator_name(policy, settings.operator)
    path = settings.db or policy.database_path
    try:
        with use_database(path):  # a clear message now rather than inside the app
            pass
    except ReadOnlyDatabase:  # not in the operators' group, or the disk is read-only
        admin_log.log_refused_login(name, "the database cannot be opened for writing", db=path)
        raise
    need_terminal()
    return run_app(path, policy, name)
