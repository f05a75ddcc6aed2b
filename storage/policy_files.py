"""Which policy file applies: ``--policy``, ``RINGROUND_POLICY``, the server's, the user's.

The order (README, "The policy"): the file given with ``--policy``;
else the file named by the environment variable ``RINGROUND_POLICY``; else
``/etc/ringround/policy.toml`` if it exists; else ``ringround/policy.toml`` in
the user's configuration folder (``$XDG_CONFIG_HOME``, by default
``~/.config``) if it exists; else the built-in defaults, which equal the
documented ``policy.toml`` shipped inside the package (:func:`default_text`).

A file that exists is used even when it cannot be read (the policy loader then
says why): falling through to a later place would silently change the clinic's
rules, such as who is a supervisor.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from storage.i18n import _
from storage.policy import Policy, load_policy

SYSTEM_POLICY = Path("/etc/ringround/policy.toml")
ENVIRONMENT_VARIABLE = "RINGROUND_POLICY"

GIVEN = "given"
ENVIRONMENT = "environment"
SYSTEM = "system"
USER = "user"
DEFAULTS = "defaults"


@dataclass(frozen=True)
class PolicyChoice:
    """The policy file that applies, and how it was found."""

    path: Path | None  # None: the built-in defaults
    found_by: str  # GIVEN, ENVIRONMENT, SYSTEM, USER or DEFAULTS
    looked_in: tuple[Path, ...]  # the standard places tried (for the defaults' message)

    def load(self) -> Policy:
        return load_policy(self.path)

    def verdict(self) -> str:
        """The sentence ``check`` shows once the policy has loaded: which file, how found."""
        if self.path is None:
            places = ", ".join(str(path) for path in self.looked_in)
            return _(
                "No policy file was given, and there is none in {places}; the built-in "
                "defaults apply ('ringround policy --default' prints them)."
            ).format(places=places)
        how = {
            GIVEN: _("given with --policy"),
            ENVIRONMENT: _("named by {variable}").format(variable=ENVIRONMENT_VARIABLE),
            SYSTEM: _("the server's policy"),
            USER: _("your own policy, in your configuration folder"),
        }[self.found_by]
        return _("The policy {path} ({how}) is valid.").format(path=self.path, how=how)


def user_policy(environ: Mapping[str, str]) -> Path | None:
    """``ringround/policy.toml`` in the user's configuration folder (XDG base directories)."""
    config = environ.get("XDG_CONFIG_HOME", "")
    if config and os.path.isabs(config):
        return Path(config) / "ringround" / "policy.toml"
    home = environ.get("HOME", "")
    if not home:
        try:
            home = str(Path.home())
        except (RuntimeError, KeyError):  # no HOME and no entry in the password database
            return None
    return Path(home) / ".config" / "ringround" / "policy.toml"


def find_policy(given: str | None, environ: Mapping[str, str]) -> PolicyChoice:
    """The policy that applies, following the order in this module's docstring."""
    places = (SYSTEM_POLICY, *filter(None, [user_policy(environ)]))
    if given:
        return PolicyChoice(Path(given), GIVEN, places)
    named = environ.get(ENVIRONMENT_VARIABLE, "")
    if named:
        return PolicyChoice(Path(named), ENVIRONMENT, places)
    for place, found_by in zip(places, (SYSTEM, USER), strict=False):
        if os.path.lexists(place):
            return PolicyChoice(place, found_by, places)
    return PolicyChoice(None, DEFAULTS, places)


def default_text() -> str:
    """The documented default ``policy.toml``, shipped inside the package."""
    from importlib import resources  # only for this command: not loaded at every start

    return resources.files("storage").joinpath("policy.toml").read_text(encoding="utf-8")
