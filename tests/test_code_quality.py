"""The code stays typed, linted and layered: mypy strict, ruff, no textual below tui/ or in cli/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_is_clean() -> None:
    result = run(sys.executable, "-m", "ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_storage_and_telephony_never_import_textual() -> None:
    code = (
        "import sys, pkgutil, importlib\n"
        "import storage, telephony\n"
        "for package in (storage, telephony):\n"
        "    for module in pkgutil.iter_modules(package.__path__):\n"
        "        importlib.import_module(f'{package.__name__}.{module.name}')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'tui', 'cli'))\n"
        "print(','.join(bad))\n"
    )
    result = run(sys.executable, "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"imported below tui/: {result.stdout}"


def test_the_command_line_loads_textual_only_to_start_the_app() -> None:
    """cli/ uses tui's text helpers (language, safe text, formats), never the app or Textual.

    The app is imported by tui/start.py when it starts (cli/commands.py), so that
    the other commands, and the terminal settings made before Textual loads,
    do not pay for it.
    """
    code = (
        "import sys, pkgutil, importlib\n"
        "import cli\n"
        "for module in pkgutil.iter_modules(cli.__path__):\n"
        "    if module.name != '__main__':\n"
        "        importlib.import_module(f'cli.{module.name}')\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'tui'))))\n"
    )
    result = run(sys.executable, "-c", code)
    assert result.returncode == 0, result.stderr
    loaded = set(result.stdout.strip().split(","))
    assert loaded == {"tui", "tui.formats", "tui.i18n", "tui.safe_text"}, loaded
