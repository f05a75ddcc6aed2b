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
    to ours (the language then follows LC_ALL / LC_MESSAGES / LANG).
    """
    _("Usage:"), _("Options"), _("Commands"), _("Show this message and exit.")
    _("Show the version and exit."), _("Error: {message}"), _("Missing command.")
    _("Missing argument"), _("Missing option"), _("Missing parameter"), _("Aborted!")
    _("No such option {name!r}."), _("No such command {name!r}."), _("default: {default}")
    _("Invalid value for {param_hint}: {message}"), _("Try '{command} {option}' for help.")
    _("{value} is not in the range {range}."), _("{value!r} is not a valid {number_type}.")
    _("Option {name!r} does not take a value.")
    ngettext("{value!r} is not {choice}.", "{value!r} is not one of {choices}.", 2)
    ngettext("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)", 2)
    ngettext("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})", 2)
    ngettext(
        "Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments.", 2
    )
