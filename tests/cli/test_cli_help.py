"""``ringround --help``: every command with its whole one-line summary, and shell completion.

Run as the installed command in a real process, in English and in Russian,
80 columns wide as on a thin terminal.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from cli.root import SHELL_COMPLETION
from cli.root import ringround as root_group
from tests.command_env import command_env
from tui.i18n import _, set_language

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def ringround(*args: str, language: str = "C.UTF-8", extra: dict[str, str] | None = None) -> str:
    env = {k: v for k, v in command_env().items() if k not in ("LC_ALL", "LC_MESSAGES", "LANGUAGE")}
    env.update(
        LANG=language, COLUMNS="80", PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", **(extra or {})
    )
    result = subprocess.run(
        [str(BIN / "ringround"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return result.stdout


def listed(help_text: str, heading: str) -> dict[str, str]:
    """The commands in the help's command section: name -> its summary (lines joined)."""
    section = help_text.split(f"\n{heading}\n", 1)[1].split("\n\n", 1)[0]
    found: dict[str, str] = {}
    name = ""
    for line in section.splitlines():
        match = re.match(r"^  (\S+)\s+(.*)$", line)
        if match:
            name = match.group(1)
            found[name] = match.group(2)
        else:
            found[name] += " " + line.strip()
    return found


def all_commands(group: click.Group, ctx: click.Context) -> list[click.Command]:
    commands = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        commands.append(command)
        if isinstance(command, click.Group):
            commands += all_commands(command, click.Context(command, parent=ctx))
    return commands


def test_every_command_has_a_one_line_summary_of_its_own() -> None:
    commands = all_commands(root_group, click.Context(root_group))
    assert len(commands) >= 12  # eight commands and the four changes of a call list
    # Click would otherwise cut the docstring's first sentence off with "...".
    without = [c.name for c in commands if not c.short_help]
    assert without == [], "commands that need a short_help"


@pytest.mark.parametrize(
    ("language", "heading"), [("C.UTF-8", "Commands:"), ("ru_RU.UTF-8", "Команды:")]
)
def test_help_lists_every_command_whole_in_the_language(language: str, heading: str) -> None:
    ru = language.startswith("ru")
    set_language("ru" if ru else "en")
    try:
        for path, group in (
            ((), root_group),
            (("lists",), root_group.get_command(click.Context(root_group), "lists")),
        ):
            assert isinstance(group, click.Group)
            shown = listed(ringround(*path, "--help", language=language), heading)
            ctx = click.Context(group)
            assert sorted(shown) == group.list_commands(ctx)
            for name, summary in shown.items():
                command = group.get_command(ctx, name)
                assert command is not None
                wanted = _(command.__dict__.get("_short_help_msgid") or command.short_help or "")
                assert summary == wanted, name
                assert not summary.endswith("...")
                if ru:
                    assert re.search("[а-я]", summary), f"{name}: {summary}"
    finally:
        set_language("en")


@pytest.mark.parametrize("given", ["environment", "option"])
def test_help_and_usage_errors_speak_the_policys_language(tmp_path: Path, given: str) -> None:
    """A clinic's policy with language = "ru" on a server whose locale is C: the help and
    Click's own words are Russian too, as every other line the command says."""
    policy = tmp_path / "policy.toml"
    policy.write_text('language = "ru"\n', encoding="utf-8")
    extra = {"RINGROUND_POLICY": str(policy)} if given == "environment" else {}
    args = [] if given == "environment" else ["--policy", str(policy)]
    text = ringround(*args, "--help", extra=extra)
    assert "Команды:" in text and "Общие списки массового обзвона" in text
    env = {k: v for k, v in command_env().items() if k not in ("LC_ALL", "LC_MESSAGES", "LANGUAGE")}
    done = subprocess.run(
        [str(BIN / "ringround"), *args, "bogus"],
        capture_output=True,
        text=True,
        env={**env, "LANG": "C.UTF-8", **extra},
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (
        2,
        "ringround: Нет команды «bogus» (см. «ringround --help»).\n",
    )


def test_every_db_option_names_the_environment_variable_it_reads() -> None:
    """RINGROUND_DB works before a command as after it: both --help texts say so."""
    for args in ([], ["export"]):
        text = " ".join(ringround(*args, "--help").split())
        assert "--db PATH The database file (default: $RINGROUND_DB, else the policy's" in text


def test_the_readme_table_has_every_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in root_group.list_commands(click.Context(root_group)):
        assert f"| `ringround {name}" in readme, name


@pytest.mark.parametrize("language", ["C.UTF-8", "ru_RU.UTF-8"])
def test_help_says_how_to_turn_on_shell_completion(language: str) -> None:
    text = ringround("--help", language=language)
    for line in SHELL_COMPLETION:
        assert f"\n  {line}\n" in text + "\n"  # whole, never wrapped, ready to copy
    words = ("bash", "zsh", "fish", "~/.bashrc", "~/.zshrc", "Tab")
    assert all(word in text for word in words)
    if language.startswith("ru"):
        assert "дополняет команды" in text


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_documented_completion_scripts_are_made(shell: str) -> None:
    script = ringround(extra={"_RINGROUND_COMPLETE": f"{shell}_source"})
    assert "_RINGROUND_COMPLETE" in script and "ringround" in script


def test_bash_completes_commands_and_kinds_with_the_documented_line() -> None:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")

    def complete(*words: str) -> list[str]:
        program = (
            f"{SHELL_COMPLETION[0]}\n"
            f"COMP_WORDS=({' '.join(words)}); COMP_CWORD={len(words) - 1}\n"
            "_ringround_completion ringround\n"
            'printf "%s\\n" "${COMPREPLY[@]}"\n'
        )
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        result = subprocess.run(
            [bash, "--norc", "-c", program],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    assert complete("ringround", "ex") == ["export"]
    assert "call-list" in complete("ringround", "import", "'c'")
    assert "--dry-run" in complete("ringround", "import", "--")
