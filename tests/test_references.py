"""The repository explains itself: what comments and docs point to is in the repository.

A comment or docstring that names a page (``docs/design.md``, ``README.md``)
names one that exists; a behaviour code (``C12``, ``B6``) is defined in
docs/behaviour.md; nothing points to notes, a specification or issues kept
outside the repository. Links between the Markdown pages resolve too.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE_FOLDERS = ("storage", "tui", "cli", "telephony", "benchmarks", "tests")
PAGE = re.compile(r"(?<![\w/.-])((?:[\w-]+/)*[\w-]+\.md)\b")
CODE = re.compile(r"\b([CB][1-9]\d?)\b(?! control)")  # "C0/C1 controls" are Unicode's
LINK = re.compile(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)")
OUTSIDE = re.compile(r"\b(?:notes/[\w-]+\.md|SPEC\b|[Ii]ssue \d+)")  # not in the repository


def python_files() -> list[Path]:
    return sorted(
        path
        for folder in CODE_FOLDERS
        if (ROOT / folder).is_dir()
        for path in (ROOT / folder).rglob("*.py")
        if ".venv" not in path.parts
    )


def explanations(path: Path) -> Iterator[tuple[int, str]]:
    """The comments and docstrings of a Python file, with their line numbers."""
    source = path.read_text(encoding="utf-8")
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string
    for node in ast.walk(ast.parse(source)):
        # Docstrings of modules, classes, functions and attributes: strings standing alone.
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            yield node.lineno, node.value.value


def page_exists(name: str, near: Path) -> bool:
    return any((folder / name).is_file() for folder in (ROOT, ROOT / "docs", near.parent))


def defined_codes() -> set[str]:
    text = (ROOT / "docs" / "behaviour.md").read_text(encoding="utf-8")
    return set(re.findall(r"^- \*\*([CB]\d{1,2}) ", text, flags=re.MULTILINE))


def test_the_scan_finds_what_it_looks_for() -> None:
    found = {
        match
        for path in python_files()
        if path.name == "locks.py"
        for _line, text in explanations(path)
        for match in CODE.findall(text)
    }
    assert {"C5", "C9", "C10", "C11"} <= found
    assert PAGE.findall("see docs/deploy.md, README.md and notes/sqlite.md.") == [
        "docs/deploy.md",
        "README.md",
        "notes/sqlite.md",
    ]
    assert CODE.findall("C0 controls, C12 and B6") == ["C12", "B6"]
    assert {"C1", "C13", "B1", "B11"} <= defined_codes()


def test_every_page_named_in_code_exists() -> None:
    missing = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in python_files()
        for line, text in explanations(path)
        for name in PAGE.findall(text)
        if not page_exists(name, path)
    ]
    assert missing == []


def test_every_behaviour_code_in_code_is_defined() -> None:
    codes = defined_codes()
    undefined = [
        f"{path.relative_to(ROOT)}:{line}: {code}"
        for path in python_files()
        for line, text in explanations(path)
        for code in CODE.findall(text)
        if code not in codes
    ]
    assert undefined == []


def test_nothing_points_outside_the_repository() -> None:
    outside = [
        f"{path.relative_to(ROOT)}:{line}: {text.strip()[:80]}"
        for path in python_files()
        for line, text in explanations(path)
        if OUTSIDE.search(text)
    ]
    pages = [ROOT / "README.md", ROOT / "BENCHMARKS.md", *sorted((ROOT / "docs").glob("*.md"))]
    outside += [
        f"{page.relative_to(ROOT)}: {match}"
        for page in pages
        if page.is_file()
        for match in re.findall(r"notes/[\w-]+\.md", page.read_text(encoding="utf-8"))
    ]
    assert outside == []


def test_links_between_pages_resolve() -> None:
    pages = [ROOT / "README.md", ROOT / "BENCHMARKS.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = [
        f"{page.relative_to(ROOT)}: {target}"
        for page in pages
        if page.is_file()
        for target in LINK.findall(page.read_text(encoding="utf-8"))
        if not (page.parent / target).is_file()
    ]
    assert broken == []
