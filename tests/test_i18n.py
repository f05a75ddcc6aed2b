"""Russian and English (B10): complete catalogs, plural forms, dates, the language rule.

The catalog test extracts the messages afresh with Babel (babel.cfg, the
same keywords as README "Translations"), so a message added anywhere without
a Russian translation fails here, as does a translation that lost or renamed
a ``{placeholder}``.
"""

from __future__ import annotations

import ast
import dataclasses
import gettext
import io
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from textual.widgets import OptionList
from textual.widgets._footer import FooterKey

from cli.main import main
from storage.database import NotADatabase, open_database
from storage.i18n import decimal_number, whole_number
from storage.locks import Refusal
from storage.policy import PolicyError, default_policy, load_policy
from tests.clinic_fixtures import (
    DESK_NOW,
    MOSCOW,
    DeskClinic,
    at,
    open_list,
    running,
    wait_until,
)
from tui.app import RingroundApp
from tui.formats import (
    age_text,
    full_time,
    moment_text,
    refusal_text,
    weekday_text,
)
from tui.i18n import (
    LOCALE_DIR,
    _,
    choose_language,
    current_language,
    language_from_environment,
    ngettext,
    set_language,
)
from tui.picker import ListPicker
from tui.result_dialog import ResultDialog
from tui.work_screen import WorkScreen

ROOT = Path(__file__).resolve().parent.parent
PO = LOCALE_DIR / "ru" / "LC_MESSAGES" / "ringround.po"
MO = PO.with_suffix(".mo")
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


@pytest.fixture(autouse=True)
def english_afterwards() -> Iterator[None]:
    yield
    set_language("en")


def fresh_template(folder: Path) -> Catalog:
    """Every message in the source today, extracted as README "Translations" says."""
    pot = folder / "ringround.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "-q",
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "--no-default-keywords",
            "-k",
            "_",
            "-k",
            "ngettext:1,2",
            "-k",
            "N_",
            "-o",
            str(pot),
            str(ROOT),
        ],
        check=True,
    )
    with open(pot, "rb") as handle:
        return read_po(handle)


def russian() -> Catalog:
    with open(PO, "rb") as handle:
        return read_po(handle, locale="ru")


def test_every_message_in_the_source_has_a_russian_translation(tmp_path: Path) -> None:
    template = fresh_template(tmp_path)
    assert len(template) > 300  # the extraction really ran over tui/, storage/, telephony/
    ru = russian()
    untranslated, broken = [], []
    for message in template:
        if not message.id:
            continue
        found = ru.get(message.id)
        if found is None or found.fuzzy:
            untranslated.append(message.id)
            continue
        ids = (message.id,) if isinstance(message.id, str) else tuple(message.id)
        strings = (found.string,) if isinstance(found.string, str) else tuple(found.string or ())
        if not all(s.strip() for s in strings) or (len(ids) == 2 and len(strings) != 3):
            untranslated.append(message.id)
            continue
        wanted = Counter(p for i in ids for p in PLACEHOLDER.findall(i))
        for string in strings:
            used = Counter(PLACEHOLDER.findall(string))
            # A message (not a plural) uses each placeholder as often as the English: more is
            # a sentence pasted in twice, as happened once ('…администратору.Файл базы…').
            if not used.keys() <= wanted.keys() or (len(ids) == 1 and used != wanted):
                broken.append((message.id, string))
    assert untranslated == [], f"{len(untranslated)} messages have no Russian translation"
    assert broken == [], "translations whose {placeholders} differ from the English"


def test_the_help_texts_of_the_command_line_are_in_the_catalog(tmp_path: Path) -> None:
    ids = {m.id for m in fresh_template(tmp_path)}
    assert (
        "Shared mass-calling lists for clinic phone operators.\n\nWithout a command, "
        "starts the app on the clinic's database." in ids
    )
    assert "How many clients the demo clinic has." in ids
    assert "Check the file and say what would change, changing nothing." in ids  # cli/data.py
    assert "Usage:" in ids and "Show this message and exit." in ids  # Click's own words


def test_the_catalog_compiles_and_the_shipped_mo_matches_the_po() -> None:
    ru = russian()
    assert ru.plural_forms.startswith("nplurals=3;")
    assert list(ru.check()) == []  # Babel's checkers: placeholders, plural counts
    compiled = io.BytesIO()
    write_mo(compiled, ru)
    assert compiled.getvalue()
    with open(MO, "rb") as handle:
        shipped = read_mo(handle)

    def table(catalog: Catalog) -> dict[object, object]:
        return {
            m.id if isinstance(m.id, str) else tuple(m.id): m.string
            if isinstance(m.string, str)
            else tuple(m.string or ())
            for m in catalog
            if m.id
        }

    assert table(shipped) == table(ru), (
        "tui/locale/ru/LC_MESSAGES/ringround.mo is out of date: run pybabel compile"
    )
    translation = gettext.GNUTranslations(io.BytesIO(compiled.getvalue()))
    assert translation.gettext("Refresh") == "Обновить"


def test_the_compiled_catalog_is_not_ignored_by_git() -> None:
    """The .mo ships in the wheel (hatchling takes tui/'s files), so it must be committed."""
    result = subprocess.run(["git", "check-ignore", "-q", str(MO)], cwd=ROOT, check=False)
    assert result.returncode == 1


def test_russian_plural_forms() -> None:
    set_language("ru")

    def to_call(count: int) -> str:
        return ngettext("{count} to call now", "{count} to call now", count).format(count=count)

    assert [to_call(n) for n in (1, 2, 5, 11, 21, 22, 25, 111, 0)] == [
        "1 звонок сейчас",
        "2 звонка сейчас",
        "5 звонков сейчас",
        "11 звонков сейчас",
        "21 звонок сейчас",
        "22 звонка сейчас",
        "25 звонков сейчас",
        "111 звонков сейчас",
        "0 звонков сейчас",
    ]
    assert [age_text(n) for n in (41, 42, 45)] == ["41 год", "42 года", "45 лет"]
    rows = [ngettext("{count} row", "{count} rows", n).format(count=n) for n in (1, 3, 7)]
    assert rows == ["1 строка", "3 строки", "7 строк"]
    set_language("en")
    assert [to_call(n) for n in (1, 2)] == ["1 to call now", "2 to call now"]
    rows = [ngettext("{count} row", "{count} rows", n).format(count=n) for n in (1, 3)]
    assert rows == ["1 row", "3 rows"]


def test_dates_times_and_numbers_follow_the_language() -> None:
    policy = default_policy()  # Europe/Moscow
    tomorrow, today = at(27, 10, 30), at(26, 15, 5)
    next_year = int(datetime(2027, 1, 5, 9, 0, tzinfo=MOSCOW).timestamp())
    set_language("ru")
    assert moment_text(tomorrow, policy, DESK_NOW) == "27 ноября, 10:30"
    assert moment_text(today, policy, DESK_NOW) == "15:05"
    assert moment_text(next_year, policy, DESK_NOW) == "5 января 2027\u00a0г., 09:00"
    assert full_time(tomorrow, policy) == "27.11.2026, 10:30"
    assert weekday_text(datetime(2026, 11, 27)) == "пт, 27 нояб."
    assert whole_number(12345) == "12\u00a0345"
    assert decimal_number(68104.46) == "68\u00a0104,5"  # «свободно 68 104,5 МБ», «0,2 с»
    set_language("en")
    assert moment_text(tomorrow, policy, DESK_NOW) == "27 Nov, 10:30"
    assert moment_text(next_year, policy, DESK_NOW) == "5 January 2027, 09:00"
    assert full_time(tomorrow, policy) == "27/11/2026, 10:30"
    assert weekday_text(datetime(2026, 11, 27)) == "Fri 27 Nov"
    assert whole_number(12345) == "12,345"
    assert decimal_number(68104.46) == "68,104.5"


def test_a_decimal_half_rounds_up_as_on_paper() -> None:
    """3 calls in 20 hours is 0.15 calls an hour, shown as 0.2 (as a calculator and school
    round it), whatever the nearest binary fraction of 0.15 (a little below it) or the
    "round half to even" rule would make of it; the report and the command line agree."""
    set_language("en")
    shown = {value: decimal_number(value) for value in (3 / 20, 0.25, 1.05, 2.25, 0.05, 0.04)}
    assert shown == {0.15: "0.2", 0.25: "0.3", 1.05: "1.1", 2.25: "2.3", 0.05: "0.1", 0.04: "0.0"}
    assert decimal_number(1234.55) == "1,234.6"
    assert decimal_number(0.5, places=0) == "1"
    set_language("ru")
    try:
        assert decimal_number(1234.55) == "1\u00a0234,6"
    finally:
        set_language("en")


def test_a_call_back_refusal_reads_well_for_today_and_another_day() -> None:
    """«Перезвонить в 27 ноября, 10:30» is not Russian: a date takes no «в»."""
    policy = default_policy()
    set_language("ru")
    later, today = (
        Refusal("call-back", until=at(27, 10, 30)),
        Refusal("call-back", until=at(26, 15)),
    )
    assert refusal_text(later, policy, DESK_NOW) == "Перезвон назначен на 27 ноября, 10:30."
    assert refusal_text(today, policy, DESK_NOW) == "Перезвон назначен на 15:00."
    set_language("en")
    assert refusal_text(later, policy, DESK_NOW) == "Call back at 27 Nov, 10:30."


def test_times_are_shown_in_the_clinic_time_zone(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('timezone = "Asia/Vladivostok"\n', encoding="utf-8")
    far_east = load_policy(path)
    set_language("ru")
    # 10:30 in Moscow on 27 November is 17:30 in Vladivostok.
    assert moment_text(at(27, 10, 30), far_east, DESK_NOW) == "27 ноября, 17:30"


def test_language_from_the_policy_file_else_the_environment_else_english(tmp_path: Path) -> None:
    built_in = default_policy()  # language = "en", but not given by a file
    assert choose_language(built_in, {"LANG": "ru_RU.UTF-8"}) == "ru"
    assert choose_language(built_in, {"LANG": "en_GB.UTF-8"}) == "en"
    assert choose_language(built_in, {}) == "en"
    assert choose_language(built_in, {"LANG": "C.UTF-8"}) == "en"
    assert choose_language(None, {"LANG": "ru_RU.UTF-8", "LC_MESSAGES": "en_US.UTF-8"}) == "en"
    assert choose_language(None, {"LANG": "en_US.UTF-8", "LC_ALL": "ru_RU.UTF-8"}) == "ru"
    assert language_from_environment({"LC_MESSAGES": "ru_UA.UTF-8"}) == "ru"
    path = tmp_path / "policy.toml"
    path.write_text('language = "en"\n', encoding="utf-8")
    assert choose_language(load_policy(path), {"LANG": "ru_RU.UTF-8"}) == "en"
    path.write_text('language = "ru"\n', encoding="utf-8")
    assert choose_language(load_policy(path), {"LANG": "C"}) == "ru"
    set_language("ru")
    assert current_language() == "ru" and _("Refresh") == "Обновить"
    set_language("xx")  # not a language of ringround: English
    assert current_language() == "en" and _("Refresh") == "Refresh"


def test_storage_and_policy_messages_are_translated(tmp_path: Path) -> None:
    set_language("ru")
    with pytest.raises(NotADatabase, match=r"Базы .* нет"):
        open_database(tmp_path / "missing.db")
    path = tmp_path / "policy.toml"
    path.write_text('[locks]\nstale_after = "soon"\n', encoding="utf-8")
    with pytest.raises(PolicyError, match=r"locks\.stale_after — ожидается положительная"):
        load_policy(path)


def test_command_line_speaks_the_environments_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("LC_ALL", "LC_MESSAGES", "LANGUAGE", "RINGROUND_DB", "RINGROUND_POLICY"):
        monkeypatch.delenv(name, raising=False)
    missing = str(tmp_path / "missing.db")
    monkeypatch.setenv("LANG", "ru_RU.UTF-8")
    assert main(["locks", "--db", missing]) == 2
    assert "Базы" in capsys.readouterr().err
    assert main(["--help"]) == 0
    help_text = capsys.readouterr().out
    assert "Использование:" in help_text and "Общие списки массового обзвона" in help_text
    # A policy file that sets the language wins over LANG.
    english = tmp_path / "en.toml"
    english.write_text('language = "en"\n', encoding="utf-8")
    assert main(["locks", "--db", missing, "--policy", str(english)]) == 2
    assert "There is no database" in capsys.readouterr().err
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert main(["--help"]) == 0
    assert "Usage:" in capsys.readouterr().out  # the English help is back


def footer_labels(app: RingroundApp) -> list[str]:
    return [key.description for key in app.screen.query(FooterKey)]


async def test_key_labels_follow_the_language_chosen_after_import(desk: DeskClinic) -> None:
    """BINDINGS were made at import in English; the footer shows them in Russian."""
    set_language("ru")
    app = desk.app("alice")
    async with running(app) as pilot:
        assert footer_labels(app) == ["Обновить", "Выход"]
        await open_list(pilot)
        labels = footer_labels(app)
        assert labels[:3] == ["Звонок", "Завершить", "Прервать"] and "Назад" in labels
        await pilot.press("c")
        await wait_until(pilot, lambda: desk.locks())
        await pilot.press("f")
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, ResultDialog) and app.screen
        )
        options = dialog.query_one("#outcomes", OptionList)
        outcomes = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert outcomes[0] == "1 Подтверждено" and outcomes[4] == "5 Перезвонить позже"
    set_language("en")
    app = desk.app("alice")
    async with running(app) as pilot:
        assert footer_labels(app) == ["Refresh", "Quit"]


@pytest.mark.parametrize("width", [60, 80])
async def test_the_footer_fits_in_russian_with_telephony_on(desk: DeskClinic, width: int) -> None:
    """At 60 columns the keys still ran off the edge once the least needed were left out:
    the last ones go too then (Escape; h lists it), rather than "h Клавиши" being cut."""
    set_language("ru")
    policy = dataclasses.replace(
        desk.policy, telephony=dataclasses.replace(desk.policy.telephony, enabled=True)
    )
    app = RingroundApp(desk.path, policy, desk.session("alice"), clock=lambda: DESK_NOW)
    try:  # not running(): the PBX line keeps its worker busy (there is no PBX here)
        async with app.run_test(size=(width, 24)) as pilot:
            await wait_until(
                pilot, lambda: isinstance(app.screen, ListPicker) and app.screen.summaries
            )
            await pilot.press("enter")
            await wait_until(
                pilot,
                lambda: isinstance(app.screen, WorkScreen) and app.screen.activation is not None,
            )

            def laid_out() -> list[FooterKey]:
                keys = list(app.screen.query(FooterKey))
                return keys if keys and all(key.region.width for key in keys) else []

            keys = await wait_until(pilot, laid_out, "the footer's keys in place")
            # Read while the app runs: once it has ended every region is empty.
            rights = [key.region.right for key in keys]
            shown = [key.description for key in keys]
    finally:
        app.close_database()
    assert keys and all(right <= width for right in rights), list(zip(shown, rights, strict=True))
    for label in ("Звонок", "Набор", "Режим", "Завершить", "Прервать", "Клавиши"):
        assert label in shown
    assert width == 60 or "Назад" in shown
    assert all(shown), shown  # never a bare key


def test_key_labels_are_marked_for_the_footer_to_translate() -> None:
    """Binding descriptions are N_ msgids (tui.footer translates them); no textual Footer."""
    wrong = []
    for path in sorted((ROOT / "tui").glob("*.py")):
        if path.name == "footer.py":
            continue  # the one place built on textual's Footer
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module == "textual.widgets"
                and any(alias.name == "Footer" for alias in node.names)
            ):
                wrong.append(f"{path.name}: imports textual's Footer; use tui.footer.Footer")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "Binding"
            ):
                described = [
                    *node.args[2:3],
                    *(k.value for k in node.keywords if k.arg == "description"),
                ]
                for arg in described:
                    if isinstance(arg, ast.Call) and getattr(arg.func, "id", "") == "_":
                        wrong.append(f"{path.name}:{node.lineno}: Binding(..., _(...)); use N_")
    assert wrong == []


@pytest.mark.parametrize("language", ["en", "ru"])
def test_whole_numbers_group_digits_as_babel_does(language: str) -> None:
    """whole_number() skips Babel's locale data for whole numbers; it must say what Babel says."""
    from babel.numbers import format_decimal

    from tui.i18n import babel_locale

    set_language(language)
    try:
        for value in (0, 7, 999, 1000, 12345, 100000, 1234567, -4321):
            expected = format_decimal(value, locale=babel_locale()).replace("\u202f", "\u00a0")
            assert whole_number(value) == expected
    finally:
        set_language("en")


def test_russian_quotes_a_placeholder_or_a_command_with_guillemets() -> None:
    """Russian text quotes with «…»: "(см. 'ringround --help')" read as a foreign sentence,
    whether what it quotes is a placeholder or a command to type."""
    ascii_quoted = [
        string
        for message in russian()
        if message.id
        for string in (
            (message.string,) if isinstance(message.string, str) else message.string or ()
        )
        # Between the 1st and 2nd ASCII quote, the 3rd and 4th, …: the quoted parts.
        if any(
            PLACEHOLDER.search(part) or part.startswith("ringround ")
            for part in string.split("'")[1::2]
        )
    ]
    assert ascii_quoted == []


def test_a_value_is_quoted_by_the_sentence_not_by_repr(tmp_path: Path) -> None:
    """``{name!r}`` put Python's quotes into every language ('Грипп' in a Russian sentence,
    which quotes «Грипп»), out of the translator's hands. The quotes are the sentence's,
    and the value between them goes through storage.shown.in_quotes, which escapes what
    repr did. Click's own messages too: those that quote are worded by cli/errors.py."""
    with_repr = [
        message.id
        for message in fresh_template(tmp_path)
        if message.id and "!r}" in str(message.id)
    ]
    assert with_repr == []
