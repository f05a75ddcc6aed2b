"""The error mapping: every way a command can end, as one sentence on standard error.

A RingroundError (storage/errors.py) says its own sentence and gives its exit
code; SQLite's and the system's errors come from the environment and are
worded here; anything else is a bug (:func:`bug`).
"""

from __future__ import annotations

import errno
import io
import os
import sqlite3
import sys

import click

from cli.output import say
from storage import admin_log
from storage.database import bad_path, describe
from storage.errors import EXIT_FAILURE, RingroundError
from storage.roles import login_name
from tui.i18n import _

EXIT_INTERRUPTED = 130


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else text + "."


def usage_sentence(error: click.UsageError, root: click.Group, args: list[str]) -> str:
    """Click's usage error as one sentence, pointing at the help of the command it is about.

    An option given without its value ("export calls --since") comes without Click's
    context, so the command is found from the words given (``args``), under ``root``.
    """
    command = error.ctx.command_path if error.ctx is not None else _command_path(root, args)
    message = " ".join(error.format_message().split()).rstrip(".")
    return _("{message} (see '{command} --help').").format(message=message, command=command)


def _command_path(root: click.Group, args: list[str]) -> str:
    """ "ringround lists create" for args naming that command (and anything after it)."""
    command: click.Command = root
    path = [root.name or "ringround"]
    for arg in args:
        if not isinstance(command, click.Group) or arg not in command.commands:
            continue
        command = command.commands[arg]
        path.append(arg)
    return " ".join(path)


def quiet_stdout() -> None:
    """After a broken pipe: send what is left to /dev/null so Python's exit stays silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


def fail(message: str, code: int) -> int:
    say(f"ringround: {_sentence(message)}", err=True)
    return code


def family_member(error: Exception) -> RingroundError | None:
    """The error as staff are told about it; None for a bug.

    Besides the family itself (storage/errors.py), SQLite's and the system's
    errors reach here from the environment (a full disk, a file that vanished,
    a database another program damaged), not from a mistake in ringround.
    """
    if isinstance(error, RingroundError):
        return error
    if isinstance(error, sqlite3.Error):
        return describe(error, _("(the one in use)"))
    if isinstance(error, OSError):
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            return RingroundError(
                _(
                    "A disk ringround writes to is full, so not everything was written; free "
                    "some space on it and try again."
                )
            )
        named = bad_path(error, str(error.filename)) if error.filename else None
        if named is not None:
            return named
        reason = error.strerror or str(error)
        if error.filename:
            return RingroundError(
                _("ringround could not use {filename}: {reason}").format(
                    filename=error.filename, reason=reason
                )
            )
        return RingroundError(
            _("ringround stopped because of a system error: {reason}").format(reason=reason)
        )
    return None


def bug(error: Exception) -> int:
    """Anything else is a mistake in ringround: its traceback goes to the administrator's log."""
    admin_log.log_crash(error, operator=login_name(), session=None)
    if os.environ.get("RINGROUND_DEBUG"):
        raise error
    return fail(
        _(
            "ringround stopped because of a bug ({kind}: {error}); the details went to "
            "the administrator's log, and RINGROUND_DEBUG=1 shows them here."
        ).format(kind=type(error).__name__, error=error),
        EXIT_FAILURE,
    )
