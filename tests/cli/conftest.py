"""Fixtures of the command-line tests: policies in which the tester is, or is not, a supervisor."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.roles import login_name
from tests.command_line import supervisors_policy


@pytest.fixture
def boss(tmp_path: Path) -> Path:
    """A policy in which the user running the tests is a supervisor."""
    return supervisors_policy(tmp_path, [login_name()], "boss.toml")


@pytest.fixture
def operator(tmp_path: Path) -> Path:
    """A policy in which the user running the tests is not a supervisor."""
    return supervisors_policy(tmp_path, ["head-nurse", "@no-such-group-here"], "operator.toml")
