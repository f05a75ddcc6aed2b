"""Click's help and messages in the clinic's language (msgids taken by cli/i18n_extract.py)."""

from __future__ import annotations

import inspect

import click

from tui.i18n import _, ngettext


def translate_help(command: click.Command) -> None:
    """Show the help of ``command`` and its subcommands in the current language.

    The help texts (docstrings, ``help=``) are written in English and are the
    msgids (cli/i18n_extract.py puts them in the catalog); the English stays
    kept on each object, so another language later starts from it again.
    """
    items: list[click.Command | click.Parameter] = [command, *command.params]
    for item in items:
        for attribute in ("help", "short_help"):
            original = item.__dict__.setdefault(
                f"_{attribute}_msgid", getattr(item, attribute, None)
            )
            if original:
                setattr(item, attribute, _(inspect.cleandoc(original)))
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            translate_help(sub)


def _click_messages() -> None:
    """Never called: Click's own messages, listed for pybabel so that our catalog has them.

    Click translates its words with gettext's global domain, which cli/main.py sets
    to ours (the language then follows LC_ALL / LC_MESSAGES / LANG). Those that
    quote what they are about are worded by cli/errors.py and cli/options.py instead.
    """
    _("Usage:"), _("Options"), _("Commands"), _("Show this message and exit.")
    _("Show the version and exit."), _("Error: {message}"), _("Missing command.")
    _("Aborted!"), _("default: {default}"), _("Try '{command} {option}' for help.")
    _("{value} is not in the range {range}.")
    ngettext("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})", 2)
