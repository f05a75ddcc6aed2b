"""The root group: ``ringround`` alone starts the app (cli/start.py); its subcommands.

Every subcommand is imported on first use (_LazyGroup): when it runs, or when
``ringround --help`` lists it. So the app's start (and its start-up time,
BENCHMARKS.md) pays for none of them, nor for Click's parsing of their options.
"""

from __future__ import annotations

import gc
import importlib
from typing import Any

import click

from cli.help import translate_help
from cli.options import DB_HELP, POLICY_HELP, Settings, operator_option
from cli.start import start
from tui.i18n import _

# Click's shell completion, switched on by this environment variable (click.shell_completion).
SHELL_COMPLETION = (
    'eval "$(_RINGROUND_COMPLETE=bash_source ringround)"',
    'eval "$(_RINGROUND_COMPLETE=zsh_source ringround)"',
    "_RINGROUND_COMPLETE=fish_source ringround > ~/.config/fish/completions/ringround.fish",
)


class _LazyGroup(click.Group):
    """A group that imports some commands on first use (Click's "lazily loading subcommands").

    ``lazy_subcommands`` maps a command's name to ``"module:attribute"``; the
    module is imported when the command is run or ``--help`` lists it.
    """

    def __init__(
        self, *args: Any, lazy_subcommands: dict[str, str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = dict(lazy_subcommands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_subcommands})

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """How to turn on Tab completion, with the lines to copy kept whole (not wrapped)."""
        formatter.write_paragraph()
        formatter.write_text(
            _(
                "Tab completes commands, options and kinds once the shell is told how: in bash "
                "add the first line below to ~/.bashrc, in zsh the second to ~/.zshrc; in fish "
                "run the third once. Each command's own --help says more."
            )
        )
        formatter.write_paragraph()
        for line in SHELL_COMPLETION:
            formatter.write(f"{'':>{formatter.current_indent + 2}}{line}\n")

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_subcommands and cmd_name not in self.commands:
            module, attribute = self.lazy_subcommands[cmd_name].split(":")
            command = getattr(importlib.import_module(module), attribute)
            assert isinstance(command, click.Command), self.lazy_subcommands[cmd_name]
            translate_help(command)  # main() translated only the commands loaded before it
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=_LazyGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    lazy_subcommands={
        "backup": "cli.commands:backup",
        "check": "cli.commands:check",
        "copy": "cli.copying:copy",
        "demo": "cli.commands:demo",
        "export": "cli.data:export",
        "import": "cli.data:import_command",
        "lists": "cli.data:lists",
        "locks": "cli.commands:locks",
        "policy": "cli.commands:policy_command",
        "report": "cli.data:report",
    },
)
@click.option(
    "--db",
    envvar="RINGROUND_DB",
    metavar="PATH",
    help=DB_HELP,
)
@click.option("--policy", "policy_path", metavar="PATH", help=POLICY_HELP)
@operator_option
@click.version_option(package_name="ringround", message="%(prog)s %(version)s")
@click.pass_context
def ringround(
    ctx: click.Context, db: str | None, policy_path: str | None, operator: str | None
) -> int:
    """Shared mass-calling lists for clinic phone operators.

    Without a command, starts the app on the clinic's database.
    """
    settings = Settings(db, policy_path, operator)
    ctx.obj = settings
    if ctx.invoked_subcommand is not None:
        # The collector, paused while the program loaded (cli/launch.py), runs again; the
        # app's waits for its first paint.
        gc.enable()
        return 0
    return start(settings)
