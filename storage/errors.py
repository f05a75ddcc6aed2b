"""The one family of errors that are shown to clinic staff (STYLE item 11).

Every problem that a person has to be told about is a :class:`RingroundError`:
``str(error)`` is the one sentence shown (already translated), and
``exit_code`` is what a command exits with when the error ends it - 2 when
what was given is the problem (a bad policy, a damaged or foreign file, a bad
argument, a file that is not a ringround database), 1 otherwise. The command
line maps the family once (cli/errors.py); the app shows the sentence.

The subclasses live where the situation they name arises (StorageError in
storage/database.py, PolicyError in storage/policy.py, TelephonyError in
telephony/calls.py, ...). Anything else that escapes - a bare ValueError, a
KeyError - is a bug, and is reported as one. This module imports nothing of
the project, so every layer can use it without an import circle.
"""

from __future__ import annotations

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


class RingroundError(Exception):
    """A problem worded as one sentence for clinic staff; a command ends with ``exit_code``."""

    exit_code = EXIT_FAILURE


class BadInput(RingroundError):
    """What was given - an argument, a file, a name - is the problem; nothing was changed."""

    exit_code = EXIT_BAD_INPUT


class NotAllowed(RingroundError):
    """The operator may not do this (release another's live lock, manage lists, see reports)."""
