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
from storage.shown import in_quotes
from tui.i18n import _, ngettext

EXIT_INTERRUPTED = 130


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else text + "."


def usage_sentence(error: click.UsageError, root: click.Group, args: list[str]) -> str:
    """Click's usage error as one sentence, pointing at the help of the command it is about.

    An option given without its value ("export calls --since") comes without Click's
    context, so the command is found from the words given (``args``), under ``root``.
    """
    if error.ctx is not None:
        command, path = error.ctx.command, error.ctx.command_path
    else:
        command, path = _named_command(root, args)
    message = " ".join(click_message(error, command).split()).rstrip(".")
    return _("{message} (see '{command} --help').").format(message=message, command=path)


def click_message(error: click.UsageError, command: click.Command) -> str:
    """Click's usage error, the names and values in it quoted by the sentence.

    Click words these itself, quoting with ``repr`` ('bogus' in a Russian sentence too,
    which quotes «bogus»); its exceptions carry what they are about, so they are said
    here as every other message is: the quotes in the catalog, the value through
    :func:`in_quotes`. The values Click's types refuse are worded by our own types
    (cli/options.py); the rest of Click's errors quote nothing.
    """
    if isinstance(error, click.NoSuchCommand):
        text = _("No such command '{name}'.").format(name=in_quotes(error.command_name))
        return _with_guesses(text, error.possibilities)
    if isinstance(error, click.NoSuchOption):
        text = _("No such option '{name}'.").format(name=in_quotes(error.option_name))
        return _with_guesses(text, error.possibilities)
    if isinstance(error, click.BadOptionUsage):
        return _option_usage(error.option_name, command)
    if isinstance(error, click.MissingParameter) and error.param is not None:
        return _missing(error.param, error.ctx)
    if isinstance(error, click.BadParameter) and error.param is not None:
        return _("Invalid value for '{name}': {message}").format(
            name=_parameter_name(error.param, error.ctx), message=error.message
        )
    return error.format_message()


def _with_guesses(text: str, guesses: list[str] | None) -> str:
    """``text`` and the command's own names close to what was typed, if any."""
    if not guesses:
        return text
    if len(guesses) == 1:
        return text + " " + _("Did you mean '{name}'?").format(name=guesses[0])
    return (
        text + " " + _("(Did you mean one of: {names}?)").format(names=", ".join(sorted(guesses)))
    )


def _option_usage(name: str, command: click.Command) -> str:
    """An option given a value it does not take ("--fresh=1"), or without the one it needs."""
    option = next((p for p in command.params if name in (*p.opts, *p.secondary_opts)), None)
    if isinstance(option, click.Option) and (option.is_flag or option.count):
        return _("Option '{name}' does not take a value.").format(name=name)
    count = 1 if option is None else option.nargs
    return ngettext(
        "Option '{name}' requires an argument.",
        "Option '{name}' requires {count} arguments.",
        count,
    ).format(name=name, count=count)


def _missing(parameter: click.Parameter, ctx: click.Context | None) -> str:
    """A parameter left out that the command needs, with the choices it takes, if any."""
    name = _parameter_name(parameter, ctx)
    if isinstance(parameter, click.Argument):
        text = _("Missing argument '{name}'.").format(name=name)
    else:
        text = _("Missing option '{name}'.").format(name=name)
    choices = parameter.type.get_missing_message(param=parameter, ctx=ctx)
    return f"{text} {choices}" if choices else text


def _parameter_name(parameter: click.Parameter, ctx: click.Context | None) -> str:
    """How the help names a parameter: an option by its names, an argument by its metavar."""
    if isinstance(parameter, click.Argument) and ctx is not None:
        return parameter.make_metavar(ctx)
    return " / ".join(parameter.opts) or parameter.human_readable_name


def _named_command(root: click.Group, args: list[str]) -> tuple[click.Command, str]:
    """The command args name (and anything after it), with its path, "ringround lists create"."""
    command: click.Command = root
    path = [root.name or "ringround"]
    for arg in args:
        if not isinstance(command, click.Group) or arg not in command.commands:
            continue
        command = command.commands[arg]
        path.append(arg)
    return command, " ".join(path)


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
