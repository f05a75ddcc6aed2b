"""The environment of a ringround the tests start as a process of its own: nothing of this machine.

tests/conftest.py (``nothing_of_this_machine``) keeps the tests' own process
away from the machine's /etc/ringround/policy.toml by moving
storage.policy_files.SYSTEM_POLICY, which a separate process does not see: on
a server where ringround is deployed it would read the clinic's policy, or
fail to (a file of mode 640 for the operators' group: "cannot be read").

So a separate process is given the built-in defaults, as a file that sets
nothing (tests/built_in_policy.toml), by RINGROUND_POLICY: the documented
variable, which comes before /etc in the lookup (README, "The policy").
Nothing is added to ringround for the tests that an operator could misuse. A
test that gives ``--policy`` still has its own file (the option wins over the
variable). A test of the lookup itself, in a process of its own, sets the
variable empty (unset, for ringround) and needs a machine without a server's
policy (:func:`no_server_policy_here`); in the tests' own process, a test of
the built-in defaults takes tests/conftest.py's ``no_policy_anywhere``, and the
tests of the lookup order name their places (tests/storage/test_policy_files.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pytest

from storage import policy_files

# The built-in defaults as a file: one that sets nothing (the shipped policy.toml sets the
# language, which the defaults leave to LANG); in the repository, which every user who may
# run the tests' ringround may read (tests/unix_users.py, reachable).
DEFAULT_POLICY = Path(__file__).with_name("built_in_policy.toml")
# The machine's own, as ringround looks for it (read before conftest.py moves it).
SERVER_POLICY = policy_files.SYSTEM_POLICY


def command_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without RINGROUND_* of the shell, with the built-in
    defaults named by RINGROUND_POLICY, and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RINGROUND_")}
    env[policy_files.ENVIRONMENT_VARIABLE] = str(DEFAULT_POLICY)
    env.update(extra or {})
    return env


def no_server_policy_here() -> None:
    """Skip a test that needs ringround, run as a process, to find no policy at all."""
    if os.path.lexists(SERVER_POLICY):
        pytest.skip(f"this machine has {SERVER_POLICY}, which ringround would use")
