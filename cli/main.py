"""The entry point of the ``ringround`` command (pyproject: [project.scripts])."""

from __future__ import annotations

import gettext
import os
import sys

import click

from cli.errors import (
    EXIT_INTERRUPTED,
    bug,
    fail,
    family_member,
    quiet_stdout,
    usage_sentence,
)
from cli.help import translate_help
from cli.root import ringround
from storage.errors import EXIT_BAD_INPUT, EXIT_FAILURE, RingroundError
from storage.policy_files import find_policy
from tui.i18n import DOMAIN, LOCALE_DIR, _, choose_language, set_language


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (never raises, never a traceback)."""
    args = sys.argv[1:] if argv is None else argv
    language = _language(args)
    set_language(language)
    gettext.bindtextdomain(DOMAIN, LOCALE_DIR)  # Click's own words (cli/help.py)
    gettext.textdomain(DOMAIN)
    # Click asks gettext, which reads LANGUAGE first: the chosen language for its words too.
    before = os.environ.get("LANGUAGE")
    os.environ["LANGUAGE"] = language
    try:
        return _run(args)
    finally:
        if before is None:
            del os.environ["LANGUAGE"]
        else:
            os.environ["LANGUAGE"] = before


def _language(args: list[str]) -> str:
    """The policy's language when its file sets one, else the environment's.

    Read before Click parses anything, so that the help and Click's own words
    (usage errors) speak it too; a policy that cannot be read leaves the
    environment's language, and the command then says what is wrong with it.
    """
    given = None
    for index, arg in enumerate(args):
        if arg == "--policy" and index + 1 < len(args):
            given = args[index + 1]
        elif arg.startswith("--policy="):
            given = arg.partition("=")[2]
    try:
        policy = find_policy(given or None, os.environ).load()
    except RingroundError:
        return choose_language(None)
    return choose_language(policy)


def _run(args: list[str]) -> int:
    translate_help(ringround)
    if sys.stdout is None:  # started with standard output closed (">&-"): Python has none
        return fail(
            _(
                "Standard output is closed, so there is nowhere to write what this command "
                "says; run it with its output going to a terminal, a file or a pipe."
            ),
            EXIT_FAILURE,
        )
    try:
        result = ringround.main(args=args, prog_name="ringround", standalone_mode=False)
    except click.UsageError as error:
        return fail(usage_sentence(error, ringround, args), EXIT_BAD_INPUT)
    except click.ClickException as error:
        return fail(error.format_message(), error.exit_code)
    except (click.Abort, KeyboardInterrupt):  # click.Abort: click's form of Ctrl-C
        return fail(_("Interrupted."), EXIT_INTERRUPTED)
    except BrokenPipeError:  # the reader of the output went away: stop quietly
        quiet_stdout()
        return EXIT_FAILURE
    except Exception as error:
        known = family_member(error)
        if known is None:
            return bug(error)
        return fail(str(known), known.exit_code)
    return int(result or 0)
