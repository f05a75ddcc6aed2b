"""Running ringround's commands in the test's own process, and looking at what they left.

``call`` runs ``ringround ARGS...`` through cli.main.main (as the console
command does) and returns (exit code, standard output, standard error); no
command may ever show a traceback. What a command left in a database is read
with tests/database_contents.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main


def call(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def supervisors_policy(tmp_path: Path, supervisors: list[str], name: str = "policy.toml") -> Path:
    """A policy file naming ``supervisors`` (logins, or @groups)."""
    path = tmp_path / name
    path.write_text(f"[security]\nsupervisors = {json.dumps(supervisors)}\n", encoding="utf-8")
    return path
