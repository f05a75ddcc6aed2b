"""The code stays typed, linted, formatted and layered: mypy strict, ruff check and ruff
format, no textual below tui/ or in cli/, no import circles."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_is_clean() -> None:
    result = run(sys.executable, "-m", "ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_leaves_the_code_as_it_is() -> None:
    """One formatter for the whole repository: ruff format (line length 100, pyproject.toml)."""
    result = run(sys.executable, "-m", "ruff", "format", "--check", ".")
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

    The app is imported by tui/start.py when it starts (cli/start.py), so that
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


# -- no import circles -------------------------------------------------------------------

PACKAGES = ("cli", "storage", "telephony", "tui")  # the layers


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of our packages it imports: every import statement, also
    those inside functions and under ``if TYPE_CHECKING`` (a type-only circle is a
    circle of the design all the same)."""
    files = {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the package, up level - 1
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                # "from pkg import module" names a module; "from module import name" does not
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base
                    for alias in node.names
                ]
            else:
                continue
            for target in targets:
                while target and target not in files:  # a name inside a module: the module
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        for target in sorted(graph[name]):
            if target not in index:
                visit(target)
                low[name] = min(low[name], low[target])
            elif target in stack:
                low[name] = min(low[name], index[target])
        if low[name] == index[name]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == name:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return found


def test_the_circle_finder_finds_a_circle() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_the_layers() -> None:
    graph = import_graph()
    assert "tui.desk" in graph["tui.work_screen"]
    assert "storage.database" in graph["tui.database_work"]
    assert "tui.app" not in graph["tui.work_screen"]  # screens see the app through the desk


def test_no_import_circles() -> None:
    """Screens depend on the desk (tui/desk.py), never on the app that builds them."""
    assert circles(import_graph()) == []
