"""Who is working: the operator's name and whether they are a supervisor (B7).

The operator is the OS login of the process's user id (from the password
database, not from $USER or $LOGNAME, which anyone can set). ``--operator``
is honoured only where the policy allows it.

Roles follow the effective operator name: a plain entry in the policy's
``supervisors`` matches that name, an ``@group`` entry matches when the OS
user running the program is in that Unix group. Roles steer what the app
offers; they are not a security boundary, since every operator can write
the database file anyway.
"""

from __future__ import annotations

import getpass
import grp
import os
import pwd

from storage.admin_log import log_refused_login
from storage.errors import BadInput
from storage.i18n import _
from storage.names import control_character, is_utf8, not_utf8
from storage.policy import Policy


class OperatorNotAllowed(BadInput):
    """``--operator`` was given but the policy does not allow it (a bad argument)."""


def login_name() -> str:
    """The OS login name of the user running the program."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # a user id without a passwd entry (some containers)
        try:
            return getpass.getuser()
        except OSError:
            return str(os.getuid())


def operator_name(policy: Policy, requested: str | None) -> str:
    """The operator to work as: the login name, or ``requested`` where the policy allows it.

    A name holding a control character (storage.names) is refused: it would be
    shown on every colleague's screen and in the audit.
    """
    login = login_name()
    if requested is None:
        character = control_character(login)
        if character is not None:
            log_refused_login(login, "control character in the login name")
            raise OperatorNotAllowed(
                _(
                    "Your login name holds a control character ({character}), which ringround "
                    "does not take as an operator name; ask the server's administrator for a "
                    "plain login name."
                ).format(character=character)
            )
        return login
    name = requested.strip()
    if not name:
        log_refused_login(login, "empty --operator")
        raise OperatorNotAllowed(_("The operator name given with --operator is empty."))
    if not is_utf8(name):
        log_refused_login(login, "--operator not UTF-8")
        raise OperatorNotAllowed(not_utf8("--operator"))
    character = control_character(name)
    if character is not None:
        log_refused_login(login, "control character in --operator", requested=name)
        raise OperatorNotAllowed(
            _(
                "The operator name given with --operator holds a control character "
                "({character}); give a name of letters, digits, spaces and punctuation."
            ).format(character=character)
        )
    if name != login and not policy.allow_operator_override:
        log_refused_login(login, "--operator not allowed by the policy", requested=name)
        raise OperatorNotAllowed(
            _(
                "The policy ({policy}) does not allow --operator; leave it out to work as "
                "your login name, {login}, or set [security] allow_operator_override = true."
            ).format(policy=policy.shown_source, login=login)
        )
    return name


def user_groups() -> set[str]:
    """Names of the Unix groups the running process belongs to."""
    ids = {os.getgid(), os.getegid(), *os.getgroups()}
    names = set()
    for gid in ids:
        try:
            names.add(grp.getgrgid(gid).gr_name)
        except KeyError:
            continue
    return names


def is_supervisor(policy: Policy, operator: str, groups: set[str] | None = None) -> bool:
    """Whether ``operator`` has the supervisor role.

    ``groups`` are the OS user's group names (default: those of this process).
    """
    group_entries = {entry[1:] for entry in policy.supervisors if entry.startswith("@")}
    if operator in {entry for entry in policy.supervisors if not entry.startswith("@")}:
        return True
    if not group_entries:
        return False
    if groups is None:
        groups = user_groups()
    return not group_entries.isdisjoint(groups)
