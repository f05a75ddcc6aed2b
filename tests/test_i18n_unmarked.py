"""Every sentence the program can show people is marked for translation.

tests/test_i18n.py checks that every *marked* message has a Russian
translation; this test finds the ones nobody marked. It reads the source of
cli/, tui/, storage/ and telephony/ and looks at every text written in the code
(a string, the literal parts of an f-string, the text before ``.format``)
that is given to a call — ``notify``, ``Static``, ``click.echo``, an
exception raised, anything — or set as a widget's title, tooltip or
placeholder, and has words in it. Such a text must be inside
``_()``, ``N_()`` or ``ngettext()``, or be in the Russian catalogue already
(the command line's ``--help`` texts, which cli/i18n_extract.py extracts).

What is not for people is told apart by where it goes (SQL, log lines, Rich
styles, widget ids and CSS classes) or listed below with the reason.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from babel.messages.pofile import read_po

from tui.i18n import LOCALE_DIR

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("cli", "tui", "storage", "telephony")
MARKERS = frozenset({"_", "N_", "ngettext"})
# Two words in a row ("Saving failed", "did not"; not an id such as "card-phones"), or a
# sentence of one word ("Interrupted.").
WORDS = re.compile(r"[A-Za-z]{2,}[,;:]? [A-Za-z']{2,}|^[A-Z][a-z]+[.!?]$")

# Calls whose text is for the machine or the programmer, never shown to operators.
NOT_FOR_PEOPLE_CALLS = frozenset(
    {
        "execute",
        "executemany",
        "executescript",
        "execute_soon",
        "preparable",
        "SourceSql",  # SQL
        "debug",
        "info",
        "warning",
        "error",
        "exception",  # log lines (self.log, logging)
        "log_refused_login",  # the administrator's log, in English (storage/admin_log.py)
        "startswith",
        "endswith",
        "split",
        "replace",  # comparing what the PBX said
        "compile",  # a pattern reading what a library said (tomllib's errors)
    }
)
# Keyword arguments that name things rather than say them.
NOT_FOR_PEOPLE_KEYWORDS = frozenset(
    {"id", "classes", "name", "group", "style", "metavar", "application_name"}
)
# Attributes of widgets and screens that Textual shows.
SHOWN_ATTRIBUTES = frozenset(
    {"title", "sub_title", "border_title", "border_subtitle", "tooltip", "placeholder"}
)
STYLE_WORDS = frozenset(
    {"bold", "italic", "underline", "reverse", "dim", "strike", "blink", "not", "on", "wide"}
)
# Exceptions that only a bug can raise: their text is for the programmer.
PROGRAMMING_ERRORS = frozenset(
    {"AssertionError", "RuntimeError", "NotImplementedError", "TypeError"}
)
# ValueErrors below storage/ whose callers check the same thing first with a translated
# sentence of their own, so their text reaches no operator: (file, start of the text).
CHECKED_BY_THE_CALLER = {
    # The client card edits only the fields in EDITABLE.
    ("storage/clients.py", "these client fields cannot be edited"),
    # `ringround demo --clients` is a click.IntRange from the same minimum.
    ("storage/demo.py", "a demo clinic needs at least"),
    # `ringround export` takes KIND from a click.Choice and refuses filters first.
    ("storage/export.py", "cannot export"),
    ("storage/export.py", " cannot be filtered by"),
    # The report screen and `ringround report` pass a grouping from BY and check the period.
    ("storage/reports.py", "a report is by"),
    ("storage/reports.py", "the report's period ends before it begins"),
}


@dataclass(frozen=True)
class Literal:
    file: str
    line: int
    call: str
    text: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.call}({self.text!r})"


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return "?"


def _text(node: ast.expr) -> str | None:
    """The words written in the code for ``node``: a string, an f-string, "...".format()."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(str(v.value) for v in node.values if isinstance(v, ast.Constant))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
    ):
        return _text(node.func.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return f"{_text(node.left) or ''} {_text(node.right) or ''}"
    return None


def _marked(tree: ast.AST) -> set[int]:
    """Every node inside a call of _(), N_() or ngettext()."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _name(node.func) in MARKERS:
            inside.update(id(sub) for sub in ast.walk(node))
    return inside


def _raised(tree: ast.AST) -> dict[int, str]:
    """The calls that make a raised exception: id of the call -> the exception's name."""
    return {
        id(node.exc): _name(node.exc.func)
        for node in ast.walk(tree)
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
    }


def unmarked(source: str, file: str) -> Iterator[Literal]:
    """The texts with words in ``source`` given to a call without being marked."""
    tree = ast.parse(source)
    marked, raised = _marked(tree), _raised(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Attribute) and t.attr in SHOWN_ATTRIBUTES for t in node.targets
        ):
            text = _text(node.value)
            if text is not None and id(node.value) not in marked and WORDS.search(text):
                yield Literal(file, node.lineno, "=", text)
        if not isinstance(node, ast.Call) or id(node) in marked:
            continue
        call = _name(node.func)
        if call in NOT_FOR_PEOPLE_CALLS or raised.get(id(node)) in PROGRAMMING_ERRORS:
            continue
        given = [
            *node.args,
            *(k.value for k in node.keywords if k.arg not in NOT_FOR_PEOPLE_KEYWORDS),
        ]
        for argument in given:
            text = _text(argument)
            if text is None or id(argument) in marked or not WORDS.search(text):
                continue
            if set(text.split()) <= STYLE_WORDS or text.lstrip().startswith("SELECT "):
                continue
            yield Literal(file, argument.lineno, call, text)


def test_the_scan_finds_unmarked_messages_and_passes_marked_ones() -> None:
    source = """
def show(app, error):
    app.notify("The list was saved.")
    app.notify(_("The list was saved."))
    raise TelephonyError(f"The exchange {name} did not reply.")
    raise TelephonyError(_("The exchange {name} did not reply.").format(name=name))
    click.echo("Nothing to do.".format())
    fail("Interrupted.", 130)
    Static("", id="card-message", classes="dialog wide")
    conn.execute("SELECT id FROM clients WHERE name = ?", (name,))
    text.append(name, "bold underline")
    raise AssertionError("cannot happen here")
    self.sub_title = "Call lists"
    self.title = _("Call lists")
"""
    found = sorted((f.line, f.call, f.text) for f in unmarked(source, "example.py"))
    assert found == [
        (3, "notify", "The list was saved."),
        (5, "TelephonyError", "The exchange  did not reply."),
        (7, "echo", "Nothing to do."),
        (8, "fail", "Interrupted."),
        (13, "=", "Call lists"),
    ]


def test_every_message_shown_to_people_is_marked_for_translation() -> None:
    with open(LOCALE_DIR / "ru" / "LC_MESSAGES" / "ringround.po", "rb") as handle:
        catalogue = {m.id for m in read_po(handle, locale="ru") if m.string}
    files = sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))
    assert len(files) > 40
    found = []
    for path in files:
        file = path.relative_to(ROOT).as_posix()
        for literal in unmarked(path.read_text(encoding="utf-8"), file):
            if inspect.cleandoc(literal.text) in catalogue:  # a --help text, extracted
                continue
            if any(
                file == f and literal.text.startswith(start) for f, start in CHECKED_BY_THE_CALLER
            ):
                continue
            found.append(str(literal))
    assert found == [], "texts shown to people but not marked for translation:\n" + "\n".join(found)
