"""What a spreadsheet program typically does to a file on its way to an import, recognised.

An import refuses these (naming the line and column), so
that damaged data never reaches the operators:

- Cyrillic read with the wrong code page and saved again: UTF-8 taken for
  Windows-1252 or Latin-1 gives ``Ð¡Ð¸Ð´Ð¾Ñ€Ð¾Ð²`` for ``Сидоров``; Windows-1251
  taken for Windows-1252 gives ``Ñèäîðîâ``. The first is recognised exactly
  (the text, turned back into bytes, is UTF-8 holding Cyrillic); the second by
  a word of three or more letters all from the accented Latin block
  (U+00C0-U+00FF), which names in Western languages do not have, that reads as
  Cyrillic in Windows-1251.
- Phone numbers shown in scientific notation (``7,9161E+10``): the digits
  after the fourth or so are gone; so are an external id's (``1,23457E+19``,
  or ``1.234567890123457e+19`` from a workbook's number cell).
- An external id that lost its leading zeros (``123`` for ``000123``): the
  spreadsheet took the id for a number.
- The same person twice: a new client with the name (ignoring case and
  spaces) and a phone number (compared by digits) of a client already there,
  or of another new row; ``import --dry-run`` lists them (storage/imports/clients.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from storage.connection import Connection
from storage.i18n import _
from storage.shown import in_quotes

_CHUNK = 500  # values per "IN (...)" query
_SCIENTIFIC = re.compile(r"\s*[0-9]+(?:[.,][0-9]+)?\s*[eE]\s*[+-]?[0-9]+\s*")
# An id may be a code with an E in it (``3E12``); one with the exponent's sign is a number.
_SCIENTIFIC_ID = re.compile(r"[0-9]+(?:[.,][0-9]+)?[eE][+-][0-9]+")
_ACCENTED_WORD = re.compile(r"[\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff]{3,}")
_LETTERS = re.compile(r"[^\W\d_]+")


def _cyrillic(text: str) -> bool:
    return any("\u0400" <= ch <= "\u04ff" for ch in text)


def _as_single_bytes(text: str) -> bytes | None:
    """The bytes that, read as Windows-1252 (else Latin-1), gave ``text``; None if none."""
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1252")
        except UnicodeEncodeError:
            if ord(ch) > 0xFF:
                return None
            out.append(ord(ch))  # Latin-1: the C1 controls Windows-1252 leaves undefined
    return bytes(out)


def garbled_cyrillic(text: str) -> str | None:
    """The Cyrillic that ``text`` was before a wrong code page garbled it, or None."""
    if text.isascii() or _cyrillic(text):
        return None
    raw = _as_single_bytes(text)
    if raw is None:
        return None
    try:
        fixed = raw.decode("utf-8")
    except UnicodeDecodeError:
        fixed = None
    if fixed is not None and _cyrillic(fixed):
        return fixed
    if _ACCENTED_WORD.search(text):
        try:
            fixed = raw.decode("cp1251")
        except UnicodeDecodeError:
            return None
        words = _LETTERS.findall(fixed)
        if words and all(_cyrillic(word) or word.isascii() for word in words):
            return fixed
    return None


def garbled_problem(text: str) -> str | None:
    """Why ``text`` looks garbled by a wrong code page, as a problem of a cell; or None."""
    fixed = garbled_cyrillic(text)
    if fixed is None:
        return None
    return _(
        "'{text}' looks like Cyrillic read with the wrong code page (it was probably "
        "'{fixed}'); save the file as \"CSV UTF-8\" or as an Excel workbook (.xlsx) from "
        "the original"
    ).format(text=in_quotes(_shortened(text)), fixed=in_quotes(_shortened(fixed)))


def _shortened(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def scientific_problem(number: str) -> str | None:
    """Why a phone number written like ``7,9161E+10`` cannot be imported, or None."""
    if _SCIENTIFIC.fullmatch(number) is None:
        return None
    return _(
        "'{number}' is a number in scientific notation, so the spreadsheet has lost its "
        "last digits; format the phone column as text and take the numbers from the "
        "original again"
    ).format(number=in_quotes(number))


def scientific_id_problem(key: str) -> str | None:
    """Why an external id written like ``1,23457E+19`` cannot be imported, or None."""
    if _SCIENTIFIC_ID.fullmatch(key) is None:
        return None
    return _(
        "'{key}' is a number in scientific notation, so the spreadsheet has lost its last "
        "digits; format the id column as text and take the ids from the original again"
    ).format(key=in_quotes(key))


class LostZeros:
    """Finds the external id a number-looking one was before a spreadsheet dropped its zeros."""

    def __init__(self, external_ids: Iterable[str]) -> None:
        self._by_value: dict[str, str] = {}
        for ext in external_ids:
            if ext.isascii() and ext.isdigit() and ext.startswith("0"):
                self._by_value.setdefault(ext.lstrip("0"), ext)

    def problem(self, ext: str) -> str | None:
        """Why ``ext`` (known to match no external id) is most likely a damaged one, or None."""
        if not (ext.isascii() and ext.isdigit()):
            return None
        meant = self._by_value.get(ext.lstrip("0"))
        if meant is None or meant == ext:
            return None
        return _(
            "'{ext}' is no external id here, but '{meant}' is: the spreadsheet took the id "
            "for a number and dropped its leading zeros; format the column as text (or "
            "export as .xlsx) and take the ids from the original again"
        ).format(ext=in_quotes(ext), meant=in_quotes(meant))


def person_key(name: str) -> str:
    """A name as compared to find the same person twice: case and spacing ignored."""
    return " ".join(name.split()).casefold()


@dataclass(frozen=True)
class LikelyDuplicate:
    """A new client (the file's ``line``) with the name and a phone of someone else."""

    line: int
    name: str
    client_id: int | None  # a client already in the database, or
    earlier_line: int | None  # an earlier new client of the same file

    def __str__(self) -> str:
        if self.client_id is not None:
            return _(
                "line {line}: '{name}' has the name and a phone number of client {client}"
            ).format(line=self.line, name=in_quotes(self.name), client=self.client_id)
        return _(
            "line {line}: '{name}' has the name and a phone number of line {earlier} of the file"
        ).format(line=self.line, name=in_quotes(self.name), earlier=self.earlier_line)


def likely_duplicates(
    conn: Connection, new: Sequence[tuple[int, str, Sequence[str]]]
) -> list[LikelyDuplicate]:
    """New clients, as (line, name, phone keys), who look like someone already known."""
    keys = sorted({key for _, _, phone_keys in new for key in phone_keys})
    known: dict[str, list[tuple[int, str]]] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        for digits, client_id, name in conn.execute(
            "SELECT p.digits, c.id, c.name FROM phones p JOIN clients c ON c.id = p.client_id"
            f" WHERE p.digits IN ({marks}) ORDER BY c.id",
            chunk,
        ):
            known.setdefault(digits, []).append((client_id, name))
    found: list[LikelyDuplicate] = []
    in_file: dict[tuple[str, str], int] = {}
    for line, name, phone_keys in new:
        person = person_key(name)
        match: LikelyDuplicate | None = None
        for key in phone_keys:
            client = next(
                (id_ for id_, other in known.get(key, ()) if person_key(other) == person), None
            )
            earlier = in_file.get((person, key))
            if client is not None or earlier is not None:
                match = LikelyDuplicate(line, name, client, None if client is not None else earlier)
                break
        for key in phone_keys:
            in_file.setdefault((person, key), line)
        if match is not None:
            found.append(match)
    return found
