"""A pybabel extraction method for the command line (babel.cfg maps cli/ to it).

Besides the usual ``_()``/``ngettext()`` messages (Babel's own Python
extractor), it takes the texts Click shows in ``--help`` that are not written
as calls: command docstrings and ``help="..."`` and ``short_help="..."`` literals, cleaned as Click
shows them (``inspect.cleandoc``). ``cli.help.translate_help`` looks them up
under the same msgids.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any, cast

from babel.messages.extract import extract_python

# What an extraction method yields and pybabel's extract() unpacks:
# (lineno, funcname, message or messages, comments).
Extracted = tuple[int, str | None, str | tuple[str, ...], list[str]]


def _is_command(decorator: ast.expr) -> bool:
    """``@cli.command(...)``, ``@click.group(...)``, ``@lists.command("create")`` and the like."""
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(target, ast.Attribute) and target.attr in ("command", "group")


def help_texts(source: str) -> Iterator[tuple[int, str]]:
    """(line, text) of every command docstring and ``help=``/``short_help=`` literal."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and any(map(_is_command, node.decorator_list)):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                yield node.lineno, doc
        elif isinstance(node, ast.keyword) and node.arg in ("help", "short_help"):
            value = node.value
            if isinstance(value, ast.Constant) and isinstance(value.value, str) and value.value:
                yield value.lineno, inspect.cleandoc(value.value)


def extract_cli(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[Extracted]:
    """Babel extraction method: the usual messages plus the help texts."""
    data = fileobj.read()
    fileobj.seek(0)
    # Babel annotates extract_python as yielding (lineno, message, comments, context), but
    # it yields (lineno, funcname, message, comments) like every extraction method; and it
    # types options as a TypedDict private to babel.
    python_messages = extract_python(fileobj, keywords, comment_tags, options)  # type: ignore[arg-type]
    yield from cast(Iterator[Extracted], python_messages)
    for lineno, text in help_texts(data.decode(options.get("encoding", "utf-8"))):
        yield lineno, None, text, []
