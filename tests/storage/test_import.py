"""CSV import: formats, matching, call results kept, problems with line and column, round trips.

The property tests feed arbitrary bytes and mutated valid files: every run
ends in a clean import or a BadFile naming lines, never in a partial import
(the whole database is compared) and never in another exception.
"""

from __future__ import annotations

import csv
import io
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage import export
from storage.clients import update_client
from storage.connection import Connection
from storage.database import open_database
from storage.demo import make_demo
from storage.engine import write
from storage.errors import NotAllowed
from storage.export import export_csv
from storage.imports import (
    KINDS,
    SHOWN_PROBLEMS,
    BadFile,
    ImportResult,
    describe_result,
    import_csv,
    parse_moment,
)
from storage.phones import phone_key, split_extension
from storage.policy import PhoneRules, Policy, PolicyError, default_policy, load_policy
from tests.database_contents import contents
from tests.stored_clinic import CLINIC_ZONE, NOW, StoredClinic, clinic_time

EXPORTED = {
    "clients": "clients",
    "appointments": "appointments",
    "tasks": "tasks",
    "call-list": "call-list",
}


def run_import(
    conn: Connection,
    policy: Policy,
    kind: str,
    text: str | bytes,
    *,
    list_name: str | None = None,
    dry_run: bool = False,
    create_only: bool = False,
    operator: str = "admin",
) -> ImportResult:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return import_csv(
        conn,
        policy,
        kind,
        data,
        source="test.csv",
        operator=operator,
        supervisor=True,
        now=NOW,
        list_name=list_name,
        dry_run=dry_run,
        create_only=create_only,
    )


def refused(
    conn: Connection, policy: Policy, kind: str, text: str | bytes, **options: object
) -> list[str]:
    """Import that must fail: the database stays the same; returns the problems as text."""
    before = contents(conn)
    with pytest.raises(BadFile) as caught:
        run_import(conn, policy, kind, text, **options)  # type: ignore[arg-type]
    assert contents(conn) == before
    assert not conn.in_transaction
    return [str(problem) for problem in caught.value.problems]


def exported(conn: Connection, policy: Policy, kind: str) -> str:
    out = io.StringIO()
    export_csv(conn, policy, kind, out, now=NOW)
    return out.getvalue()


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def clients_table(conn: Connection) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT id, external_id, name, birth_date, email, notes, do_not_call"
        " FROM clients ORDER BY id"
    ).fetchall()


def phones_of(conn: Connection, client_id: int) -> list[tuple[str, str]]:
    return conn.execute(
        "SELECT number, digits FROM phones WHERE client_id = ? ORDER BY position", (client_id,)
    ).fetchall()


# -- phone numbers ------------------------------------------------------------------------------

RUSSIA = PhoneRules("7", "8", 10, "810")


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("+7 (916) 123-45-67", "79161234567"),
        ("8 916 123-45-67", "79161234567"),
        ("916 123 45 67", "79161234567"),
        ("79161234567", "79161234567"),
        ("8 (495) 000-11-22", "74950001122"),
        ("+44 20 7946 0958", "442079460958"),
        ("0044 20 7946 0958", "442079460958"),
        ("101", "101"),  # an internal extension stays as it is
        ("  +7 916 123-45-67 (mother)", "79161234567"),
        ("no digits", ""),
        # Russia's international prefix 8 10: one number, one key.
        ("8 10 49 30 1234567", "49301234567"),
        ("810 49 30 1234567", "49301234567"),
        ("+49 30 1234567", "49301234567"),
        ("00 49 30 1234567", "49301234567"),
        ("8 10 1 212 555 0100", "12125550100"),
        # Extensions are not part of the number.
        ("+7 916 123 45 67 доб. 12", "79161234567"),
        ("8 (916) 123-45-67, доб 12", "79161234567"),
        ("8 916 123 45 67 доп. 3", "79161234567"),
        ("8 495 123 45 67 вн. 105", "74951234567"),
        ("+7 916 123 45 67 ext. 12", "79161234567"),
        ("+7 916 123 45 67 x12", "79161234567"),
        ("+7 916 123 45 67 #12", "79161234567"),
        ("+7 916 123 45 67 EXT 12", "79161234567"),
    ],
)
def test_phone_keys_in_russia(written: str, key: str) -> None:
    assert phone_key(written, RUSSIA) == key
    assert phone_key(key, RUSSIA) in (key, "")  # stable


@pytest.mark.parametrize(
    ("written", "number", "extension"),
    [
        ("+7 916 123 45 67 доб. 12", "+7 916 123 45 67", "12"),
        ("8 (495) 123-45-67, доб 345", "8 (495) 123-45-67", "345"),
        ("8 495 123 45 67 ДОП.3", "8 495 123 45 67", "3"),
        ("8 495 123 45 67 вн. 105", "8 495 123 45 67", "105"),
        ("+1 212 555 0100 ext. 12", "+1 212 555 0100", "12"),
        ("+1 212 555 0100x12", "+1 212 555 0100", "12"),
        ("+1 212 555 0100 #12", "+1 212 555 0100", "12"),
        ("+7 916 123 45 67", "+7 916 123 45 67", ""),
        ("+7 916 123 45 67 fax 12", "+7 916 123 45 67 fax 12", ""),  # not a marker of its own
        ("доб. 12", "доб. 12", ""),  # no number to be an extension of
    ],
)
def test_extensions_are_taken_apart(written: str, number: str, extension: str) -> None:
    assert split_extension(written) == (number, extension)


def test_phone_keys_where_numbers_differ_in_length() -> None:
    germany = PhoneRules("49", "0", 0, "")
    assert phone_key("030 1234567", germany) == "49301234567"
    assert phone_key("0049 30 1234567", germany) == "49301234567"
    assert phone_key("+49 30 1234567", germany) == "49301234567"
    assert phone_key("1234567", germany) == "1234567"
    assert phone_key("0", germany) == "0"


def test_phone_rules_in_the_policy(tmp_path: Path) -> None:
    assert default_policy().phones == PhoneRules("7", "8", 10, "810")
    path = tmp_path / "p.toml"
    path.write_text(
        '[phones]\ncountry_code = "49"\ntrunk_prefix = "0"\nnational_length = 0\n'
        'international_prefix = ""\n',
        encoding="utf-8",
    )
    assert load_policy(path).phones == PhoneRules("49", "0", 0, "")
    for text, key in (
        ('country_code = "+7"', "phones.country_code"),
        ('trunk_prefix = "x"', "phones.trunk_prefix"),
        ("national_length = 40", "phones.national_length"),
        ('international_prefix = "+810"', "phones.international_prefix"),
        ('international_prefix = "8"', "phones.international_prefix"),
        ("country = 7", "phones.country"),
    ):
        path.write_text(f"[phones]\n{text}\n", encoding="utf-8")
        with pytest.raises(PolicyError, match=key.replace(".", r"\.")):
            load_policy(path)


def test_an_import_under_new_phone_rules_keys_stored_numbers_again(
    conn: Connection, policy: Policy
) -> None:
    """Numbers already stored are compared with the file's by keys of the same rules."""
    run_import(conn, policy, "clients", "external_id,name,phones\nA1,Anna,030 1234567\n")
    assert phones_of(conn, 1) == [("030 1234567", "70301234567")]  # ten digits: Russian
    germany = replace(policy, phones=PhoneRules("49", "0", 0, ""))
    run_import(conn, germany, "clients", "external_id,name,phones\nB1,Berta,+49 30 1234567\n")
    assert phones_of(conn, 1) == [("030 1234567", "49301234567")]
    assert phones_of(conn, 2) == [("+49 30 1234567", "49301234567")]


# -- clients ------------------------------------------------------------------------------------


def test_new_clients_with_phones_dates_and_flags(conn: Connection, policy: Policy) -> None:
    text = (
        "external_id,name,phones,do_not_call,birth_date,email,notes\n"
        'A1,Иванова Анна,"8 916 123-45-67; +7 495 000-11-22",0,29.02.1980,a@b.ru,"x, ""y"""\n'
        "A2,Smith John,9161234567,да,,,\n"
        "A3,Nobody,,,1990-01-31,,\n"
    )
    result = run_import(conn, policy, "clients", text)
    assert (result.added, result.updated, result.unchanged, result.rows) == (3, 0, 0, 3)
    assert clients_table(conn) == [
        (1, "A1", "Иванова Анна", "1980-02-29", "a@b.ru", 'x, "y"', 0),
        (2, "A2", "Smith John", None, "", "", 1),
        (3, "A3", "Nobody", "1990-01-31", "", "", 0),
    ]
    # Kept as written; compared by the digits in international form.
    assert phones_of(conn, 1) == [
        ("8 916 123-45-67", "79161234567"),
        ("+7 495 000-11-22", "74950001122"),
    ]
    assert phones_of(conn, 2) == [("9161234567", "79161234567")]
    assert phones_of(conn, 3) == []
    event = conn.execute("SELECT operator, event, detail FROM audit").fetchall()
    assert event == [
        (
            "admin",
            "import",
            '{"added": 3, "file": "test.csv", "kind": "clients",'
            ' "rows": 3, "unchanged": 0, "updated": 0}',
        )
    ]


def test_reimport_by_external_id_updates_instead_of_duplicating(
    conn: Connection, policy: Policy
) -> None:
    run_import(
        conn,
        policy,
        "clients",
        "external_id,name,phones\nA1,Anna,9160000111\nA2,Boris,9160000222\n",
    )
    result = run_import(
        conn,
        policy,
        "clients",
        "external_id,name,phones\nA1,Anna K,9160000111\n"
        "A2,Boris,9160000333;9160000444\nA3,Vera,9160000005\n",
    )
    assert (result.added, result.updated, result.unchanged) == (1, 2, 0)
    assert result.changed_fields == {"name": 1, "phones": 1}
    assert [row[1:3] for row in clients_table(conn)] == [
        ("A1", "Anna K"),
        ("A2", "Boris"),
        ("A3", "Vera"),
    ]
    assert [n for n, _ in phones_of(conn, 2)] == ["9160000333", "9160000444"]
    edits = conn.execute(
        "SELECT client_id, detail FROM audit WHERE event = 'card-edit' ORDER BY id"
    ).fetchall()
    assert edits == [
        (1, '{"field": "name", "new": "Anna K", "old": "Anna", "via": "import"}'),
        (
            2,
            '{"field": "phones", "new": ["9160000333", "9160000444"], "old": ["9160000222"],'
            ' "via": "import"}',
        ),
    ]


def test_update_by_id_and_columns_left_out_are_kept(clinic: StoredClinic, policy: Policy) -> None:
    first = clinic.add_client("Anna", ("+7 900 000-00-01",), email="a@x.ru", notes="keep")
    result = run_import(clinic.conn, policy, "clients", f"id,email\n{first},new@x.ru\n")
    assert (result.added, result.updated) == (0, 1)
    assert clients_table(clinic.conn) == [(first, None, "Anna", None, "new@x.ru", "keep", 0)]
    assert phones_of(clinic.conn, first)[0][0] == "+7 900 000-00-01"


def test_a_file_from_another_database_is_refused(conn: Connection, policy: Policy) -> None:
    run_import(conn, policy, "clients", "external_id,name\nA1,Anna\nA2,Boris\n")
    assert refused(conn, policy, "clients", "id,external_id,name\n1,X9,Vera\n2,A1,Boris\n") == [
        "line 2, column external_id: client 1 has the external id 'A1', not 'X9' (to change "
        "it, import it empty first)",
        "line 3, column external_id: 'A1' is already the external id of client 1",
    ]
    run_import(conn, policy, "clients", "id,external_id\n1,\n")
    assert run_import(conn, policy, "clients", "id,external_id\n1,X9\n").updated == 1


def test_an_import_never_clears_do_not_call(clinic: StoredClinic, policy: Policy) -> None:
    client = clinic.add_client("Anna", do_not_call=True)
    result = run_import(clinic.conn, policy, "clients", f"id,name,do_not_call\n{client},Anna,0\n")
    assert (result.updated, result.unchanged, result.kept) == (0, 1, 1)
    assert clinic.scalar("SELECT do_not_call FROM clients") == 1
    assert "kept a call result" in describe_result(result)


def test_client_problems_name_line_and_column(clinic: StoredClinic, policy: Policy) -> None:
    existing = clinic.add_client("Anna")
    with write(clinic.conn):
        clinic.conn.execute("UPDATE clients SET external_id = 'TAKEN' WHERE id = ?", (existing,))
    problems = refused(
        clinic.conn,
        policy,
        "clients",
        (
            "id;external_id;name;phones;do_not_call;birth_date\n"
            ";N1;Boris;abc;0;\n"  # 2: phone without digits
            ";N2;Vera;;maybe;31.02.1990\n"  # 3: flag and date
            "999;;Galina;;;\n"  # 4: no such id
            f"{existing};TAKEN;Anna;;;\n"  # 5: fine
            ";TAKEN;Dmitry;;;\n"  # 6: external id repeated
            ";;;;;\n"  # an empty line is skipped
            ";N7;;;;\n"  # 8: empty name
            "x;N8;Egor;;;\n"  # 9: bad id
            ";N9;Fedor;1;0\n"  # 10: too few fields
            f"{existing};;Anna again;;;\n"  # 11: the same client as line 5
        ),
    )
    assert problems == [
        "line 2, column phones: 'abc' has no digits",
        "line 3, column birth_date: '31.02.1990' is not a date such as 1980-02-29 or 29.02.1980",
        "line 3, column do_not_call: 'maybe' is not yes or no (1 or 0)",
        "line 4, column id: there is no client 999 in this database (leave id empty to add one)",
        "line 6, column external_id: 'TAKEN' is on line 5 already",
        "line 8, column name: is empty",
        "line 9, column id: 'x' is not an id (a whole number from 1)",
        "line 10: has 5 fields but the header has 6",
        "line 11, column id: the same client as line 5",
    ]


def test_a_year_out_of_range_is_named_as_such(clinic: StoredClinic, policy: Policy) -> None:
    """9999-12-31 (a "never" some programs write) is a date; saying it is not one sends the
    admin looking for a wrong format instead of the year."""
    anna = clinic.add_client("Anna")
    assert refused(
        clinic.conn,
        policy,
        "appointments",
        f"client_id,starts_at\n{anna},9999-12-31 10:00\n{anna},31.12.1899 10:00\n",
    ) == [
        "line 2, column starts_at: '9999-12-31 10:00' is outside the years 1900 to 2199",
        "line 3, column starts_at: '31.12.1899 10:00' is outside the years 1900 to 2199",
    ]
    assert refused(clinic.conn, policy, "clients", "name,birth_date\nVera,0202-05-01\n") == [
        "line 2, column birth_date: '0202-05-01' is outside the years 1900 to 2199",
    ]


def test_a_record_of_one_field_is_counted_in_the_singular(conn: Connection, policy: Policy) -> None:
    assert refused(conn, policy, "clients", "name,phones\nAnna\n") == [
        "line 2: has 1 field but the header has 2"
    ]


def test_header_problems(conn: Connection, policy: Policy) -> None:
    assert refused(conn, policy, "clients", "name,phone,Name\nAnna,1,2\n") == [
        "line 1, column Name: this column appears twice (as 'name')",
        "line 1, column phone: unknown column for clients (known: birth_date, do_not_call, "
        "email, external_id, id, name, notes, phones)",
    ]
    assert refused(conn, policy, "clients", "email,notes\nx,y\n") == [
        "line 1: the file needs a name column (or id or external_id to update clients)"
    ]
    assert refused(conn, policy, "clients", "") == [
        "line 1: the file is empty; it needs a header row naming the columns"
    ]
    assert refused(conn, policy, "clients", "name,,phones\n") == [
        "line 1, column #2: this column has no name"
    ]
    assert refused(conn, policy, "appointments", "doctor\nx\n") == [
        "line 1: the file needs a client_id or client_external_id column",
        "line 1: the file needs a starts_at column (or id or external_id to update appointments)",
    ]


def test_encodings_separators_and_line_ends(conn: Connection, policy: Policy) -> None:
    text = (
        'Name ; External ID ; Phones\r\nАнна;A1;"89160000001;89160000002"\r\n'
        "Борис;A2;89160000003\r\n"
    )
    result = run_import(conn, policy, "clients", b"\xef\xbb\xbf" + text.encode())
    assert result.added == 2
    assert [n for n, _ in phones_of(conn, 1)] == ["89160000001", "89160000002"]
    tabbed = run_import(conn, policy, "clients", "external_id\tname\nA1\tАнна К\n")
    assert tabbed.changed_fields == {"name": 1}
    cp1251 = "external_id,name\nA3,Вера\n".encode("cp1251")
    assert refused(conn, policy, "clients", cp1251) == [
        "line 2: the file is not UTF-8 text (byte 0xc2); save it from the spreadsheet as "
        '"CSV UTF-8", as "Unicode Text" or as an Excel workbook (.xlsx)'
    ]
    # Excel's "Unicode Text" (the way out of Excel 2010, which has no "CSV UTF-8"): UTF-16
    # with a byte-order mark, separated by tabs.
    unicode_text = "external_id\tname\r\nA4\tГалина\r\n".encode("utf-16")
    assert run_import(conn, policy, "clients", unicode_text).added == 1
    big_endian = "\ufeffexternal_id,name\nA5,Дина\n".encode("utf-16-be")
    assert run_import(conn, policy, "clients", big_endian).added == 1
    assert refused(conn, policy, "clients", 'name\n"Анна\n')[0].startswith("line 2: a field")
    assert refused(conn, policy, "clients", "na\x00me\nA\n") == [
        "line 1: the file holds a NUL character; it is not a CSV text file"
    ]  # a NUL in a field is data (tests/cli/test_xlsx.py: the CSV round trip of one)


def test_yes_and_no_as_a_russian_spreadsheet_writes_them(conn: Connection, policy: Policy) -> None:
    """Excel and Calc in Russian save a yes/no cell in a CSV file as ИСТИНА or ЛОЖЬ."""
    text = "name;do_not_call\r\nАнна;ИСТИНА\r\nБорис;ЛОЖЬ\r\nВера;Истина\r\nГлеб;TRUE\r\n"
    assert run_import(conn, policy, "clients", b"\xef\xbb\xbf" + text.encode()).added == 4
    flags = conn.execute("SELECT name, do_not_call FROM clients ORDER BY id").fetchall()
    assert flags == [("Анна", 1), ("Борис", 0), ("Вера", 1), ("Глеб", 1)]


def test_broken_quotes_are_explained(conn: Connection, policy: Policy) -> None:
    """The csv module's English ("unexpected end of data", "',' expected after '"'") said
    nothing a clinic admin could act on, in any language."""
    assert refused(conn, policy, "clients", 'name,notes\nАнна,"сказал\nБорис,x\n') == [
        'line 2: a field that opens with a quote (") is never closed, so the file ends inside '
        "it; the rest of the file was not read"
    ]
    assert refused(conn, policy, "clients", 'name;notes\nАнна;"он сказал "да" вчера"\n') == [
        'line 2: a quote (") inside a field in quotes must be written twice (""), and a '
        "closing quote must end the field; the rest of the file was not read"
    ]


def test_a_header_of_one_column_takes_the_separator_of_the_rows(
    conn: Connection, policy: Policy
) -> None:
    """A header naming one column has no separator to tell: a row "Анна;89161230002" of a
    Russian spreadsheet was taken as one name, with the phone in it."""
    assert refused(conn, policy, "clients", "name\r\nАнна;89161230002\r\n") == [
        "line 2: has 2 fields but the header has 1"
    ]
    assert run_import(conn, policy, "clients", "name\nАнна\nБорис\n").added == 2


def test_problem_lines_count_quoted_line_breaks(conn: Connection, policy: Policy) -> None:
    text = 'name,notes,birth_date\nAnna,"one\ntwo\nthree",\nBoris,,never\n'
    assert refused(conn, policy, "clients", text) == [
        "line 5, column birth_date: 'never' is not a date such as 1980-02-29 or 29.02.1980"
    ]


def test_at_most_twenty_problems_are_shown(conn: Connection, policy: Policy) -> None:
    text = "name,birth_date\n" + "".join(f"C{n},bad\n" for n in range(25))
    with pytest.raises(BadFile) as caught:
        run_import(conn, policy, "clients", text)
    details = caught.value.details()
    assert len(details) == SHOWN_PROBLEMS + 1
    assert details[0].startswith("line 2, column birth_date:")
    assert details[-1] == "and 5 more."
    assert str(caught.value) == "test.csv: 25 problems; nothing was imported"


def test_dry_run_changes_nothing(clinic: StoredClinic, policy: Policy) -> None:
    clinic.add_client("Anna")
    before = contents(clinic.conn)
    result = run_import(clinic.conn, policy, "clients", "id,name\n1,Anna K\n,Boris\n", dry_run=True)
    assert (result.added, result.updated, result.dry_run) == (1, 1, True)
    assert contents(clinic.conn) == before
    assert describe_result(result).startswith(
        "Dry run of test.csv (2 rows): would add 1, update 1 (name 1)"
    )


# -- times --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "2025-03-13T10:30:00+03:00",
        "2025-03-13 10:30",
        "2025-03-13T10:30",
        "13.03.2025 10:30",
        "13.03.2025 10:30:00",
        "2025-03-13T07:30:00Z",
        "2025-03-13T09:30:00+02:00",
        " 2025-03-13 10:30:00.9 ",
    ],
)
def test_times_are_clinic_local_unless_they_say(written: str) -> None:
    assert parse_moment(written, CLINIC_ZONE, date_alone=False) == clinic_time(2025, 3, 13, 10, 30)


@pytest.mark.parametrize(
    "written",
    ["2025-03-13", "13.03.2025", "10:30", "tomorrow", "32.01.2025 10:00", "1800-01-01 10:00", ""],
)
def test_times_that_are_refused(written: str) -> None:
    with pytest.raises(ValueError):
        parse_moment(written, CLINIC_ZONE, date_alone=False)


def test_a_clinic_time_the_clocks_skip_or_repeat_is_refused(
    conn: Connection, policy: Policy
) -> None:
    """In a clinic whose clocks change (Berlin: forward on 29 March 2026, back on 25
    October), a time written without its offset may not exist or may come twice: taking
    one silently would move the appointment by an hour."""
    berlin = replace(policy, timezone=ZoneInfo("Europe/Berlin"))
    run_import(conn, berlin, "clients", "name\nAnna\n")
    problems = refused(
        conn,
        berlin,
        "appointments",
        "client_id,starts_at\n"
        "1,2026-03-29 02:30\n"
        "1,25.10.2026 02:30\n"
        "1,2026-10-25T02:30:00+01:00\n"  # the offset says which: fine
        "1,2026-10-25 03:30\n",  # once only: fine
    )
    assert problems == [
        "line 2, column starts_at: '2026-03-29 02:30' is not on the clinic's clock: the "
        "clocks go forward over it that night",
        "line 3, column starts_at: '25.10.2026 02:30' comes twice on the clinic's clock, as "
        "the clocks go back that night; write which one: 2026-10-25T02:30:00+02:00 or "
        "2026-10-25T02:30:00+01:00",
    ]


def test_a_date_alone_starts_its_day_even_where_midnight_is_skipped(
    conn: Connection, policy: Policy
) -> None:
    """Chile puts its clocks forward at midnight (6 September 2026 begins at 01:00): a due
    date is that day's first moment, not a refused time."""
    santiago = replace(policy, timezone=ZoneInfo("America/Santiago"))
    run_import(conn, santiago, "clients", "name\nAnna\n")
    run_import(conn, santiago, "tasks", "client_id,kind,due_at\n1,recall,06.09.2026\n")
    [(due,)] = conn.execute("SELECT due_at FROM tasks").fetchall()
    assert datetime.fromtimestamp(due, santiago.timezone).isoformat() == "2026-09-06T01:00:00-03:00"


def test_a_date_alone_is_midnight_where_allowed() -> None:
    assert parse_moment("13.03.2025", CLINIC_ZONE, date_alone=True) == clinic_time(2025, 3, 13)


# -- appointments and tasks -----------------------------------------------------------------------


def test_appointments_by_client_external_id(clinic: StoredClinic, policy: Policy) -> None:
    run_import(clinic.conn, policy, "clients", "external_id,name\nP1,Anna\nP2,Boris\n")
    text = (
        "external_id,client_external_id,starts_at,doctor,service,status\n"
        "V1,P1,13.03.2025 10:30,Dr. Who,Check-up,\n"
        "V2,P2,2025-03-13T12:00:00+03:00,Dr. Who,X-ray,confirmed\n"
    )
    assert run_import(clinic.conn, policy, "appointments", text).added == 2
    assert clinic.conn.execute(
        "SELECT external_id, client_id, starts_at, status FROM appointments ORDER BY id"
    ).fetchall() == [
        ("V1", 1, clinic_time(2025, 3, 13, 10, 30), "unconfirmed"),
        ("V2", 2, clinic_time(2025, 3, 13, 12), "confirmed"),
    ]
    again = run_import(clinic.conn, policy, "appointments", text)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)


def test_appointment_problems(clinic: StoredClinic, policy: Policy) -> None:
    anna = clinic.add_client("Anna")
    problems = refused(
        clinic.conn,
        policy,
        "appointments",
        (
            "client_id,client_external_id,starts_at,status\n"
            f"{anna},,2025-03-13 10:00,maybe\n"
            "77,,2025-03-13 10:00,\n"
            ",NOPE,2025-03-13 10:00,\n"
            f"{anna},,2025-03-13,\n"
            ",,2025-03-13 10:00,\n"
        ),
    )
    assert problems == [
        "line 2, column status: 'maybe' is not a status of the policy (unconfirmed, "
        "left message, confirmed, cancelled)",
        "line 3, column client_id: there is no client 77",
        "line 4, column client_external_id: no client has the external id 'NOPE'",
        "line 5, column starts_at: '2025-03-13' is not a time such as 2026-11-27 10:30 or "
        "27.11.2026 10:30",
        "line 6, column client_id: a new appointment needs client_id or client_external_id",
    ]


def test_reimport_never_reopens_a_confirmed_appointment_at_the_same_time(
    clinic: StoredClinic, policy: Policy
) -> None:
    anna = clinic.add_client("Anna")
    start = clinic_time(2025, 3, 13, 10)
    confirmed = clinic.add_appointment(anna, start, status="confirmed")
    open_one = clinic.add_appointment(anna, start + 3600, status="left message")
    moved = clinic.add_appointment(anna, start + 7200, status="cancelled")
    text = (
        f"id,client_id,starts_at,status\n{confirmed},{anna},13.03.2025 10:00,unconfirmed\n"
        f"{open_one},{anna},13.03.2025 11:00,unconfirmed\n"
        f"{moved},{anna},14.03.2025 12:00,unconfirmed\n"
    )
    result = run_import(clinic.conn, policy, "appointments", text)
    assert (result.updated, result.unchanged, result.kept) == (2, 1, 1)
    assert clinic.conn.execute("SELECT status FROM appointments ORDER BY id").fetchall() == [
        ("confirmed",),
        ("unconfirmed",),
        ("unconfirmed",),
    ]
    cancelled = run_import(
        clinic.conn, policy, "appointments", f"id,status\n{confirmed},cancelled\n"
    )
    assert cancelled.changed_fields == {"status": 1}


def test_tasks_and_done_tasks_stay_done(clinic: StoredClinic, policy: Policy) -> None:
    anna = clinic.add_client("Anna")
    text = (
        "external_id,client_id,kind,title,due_at,done_at\n"
        f"T1,{anna},recall,Six months,13.03.2025,\n"
        f"T2,{anna},reminder,,2025-03-14 09:00,2025-03-12 11:00\n"
    )
    assert run_import(clinic.conn, policy, "tasks", text).added == 2
    assert clinic.conn.execute(
        "SELECT kind, title, due_at, done_at FROM tasks ORDER BY id"
    ).fetchall() == [
        ("recall", "Six months", clinic_time(2025, 3, 13), None),
        ("reminder", "", clinic_time(2025, 3, 14, 9), clinic_time(2025, 3, 12, 11)),
    ]
    with write(clinic.conn):
        clinic.conn.execute("UPDATE tasks SET done_at = ? WHERE external_id = 'T1'", (NOW,))
    again = run_import(clinic.conn, policy, "tasks", text)
    assert (again.updated, again.unchanged, again.kept) == (0, 2, 1)
    assert clinic.scalar("SELECT done_at FROM tasks WHERE external_id = 'T1'") == NOW
    assert refused(clinic.conn, policy, "tasks", f"client_id,kind,due_at\n{anna}, ,today\n") == [
        "line 2, column due_at: 'today' is not a time such as 2026-11-27 or 27.11.2026, with "
        "or without a time",
        "line 2, column kind: is empty",
    ]


# -- call lists ---------------------------------------------------------------------------------


def test_call_list_from_a_clients_export(clinic: StoredClinic, policy: Policy) -> None:
    for name in ("Anna", "Boris", "Vera"):
        clinic.add_client(name)
    clients_csv = exported(clinic.conn, policy, "clients")
    result = run_import(clinic.conn, policy, "call-list", clients_csv, list_name=" Recall ")
    assert (result.added, result.lists_created) == (3, ("Recall",))
    assert clinic.conn.execute(
        "SELECT name, created_by, created_at FROM call_lists"
    ).fetchall() == [("Recall", "admin", NOW)]
    assert clinic.scalar("SELECT count(*) FROM call_list_items WHERE processed_at IS NULL") == 3
    events = [row[0] for row in clinic.conn.execute("SELECT event FROM audit ORDER BY id")]
    assert events == ["list-create", "import"]
    # Again: nothing new; create_only refuses an existing list.
    assert (
        run_import(clinic.conn, policy, "call-list", clients_csv, list_name="Recall").unchanged == 3
    )
    assert refused(
        clinic.conn, policy, "call-list", clients_csv, list_name="Recall", create_only=True
    ) == [
        "a call list named 'Recall' already exists (import into it with 'ringround import "
        "call-list --name')"
    ]
    assert refused(
        clinic.conn, policy, "call-list", "client_id\n", list_name="Empty", create_only=True
    ) == ["the file names no clients; a new call list needs at least one"]


def test_call_list_items_notes_and_processed_items(clinic: StoredClinic, policy: Policy) -> None:
    anna, boris = clinic.add_client("Anna"), clinic.add_client("Boris")
    _, (item, _) = clinic.add_call_list("Flu", [anna, boris])
    with write(clinic.conn):
        clinic.conn.execute("UPDATE call_list_items SET processed_at = ? WHERE id = ?", (NOW, item))
    text = f"list,client_id,note,processed_at\nFlu,{anna},,\nFlu,{boris},Asked in March,\n"
    result = run_import(clinic.conn, policy, "call-list", text)
    assert (result.updated, result.unchanged, result.kept) == (1, 1, 1)
    assert clinic.conn.execute(
        "SELECT client_id, note, processed_at FROM call_list_items ORDER BY id"
    ).fetchall() == [(anna, "", NOW), (boris, "Asked in March", None)]
    assert refused(
        clinic.conn, policy, "call-list", f"list,client_id\nFlu,{anna}\nFlu,{anna}\n,{boris}\n"
    ) == [
        f"line 3, column client_id: client {anna} is on line 2 already",
        "line 4, column list: is empty",
    ]
    assert refused(clinic.conn, policy, "call-list", "note\nx\n") == [
        "line 1: the file needs a client_id or client_external_id column (id and external_id "
        "are taken as the client's)",
        "line 1: the file needs a list column, or the list's name given with --name",
    ]


def test_a_closed_list_takes_no_new_items(clinic: StoredClinic, policy: Policy) -> None:
    anna, boris = clinic.add_client("Anna"), clinic.add_client("Boris")
    clinic.add_call_list("Flu", [anna])
    with write(clinic.conn):
        clinic.conn.execute("UPDATE call_lists SET closed_at = ?", (NOW,))
    assert (
        run_import(
            clinic.conn, policy, "call-list", f"client_id\n{anna}\n", list_name="Flu"
        ).unchanged
        == 1
    )
    assert refused(
        clinic.conn, policy, "call-list", f"client_id\n{anna}\n{boris}\n", list_name="Flu"
    ) == ["line 3: the call list 'Flu' is closed; reopen it first ('ringround lists reopen')"]


def test_only_a_supervisor_builds_call_lists(clinic: StoredClinic, policy: Policy) -> None:
    anna = clinic.add_client("Anna")
    before = contents(clinic.conn)
    with pytest.raises(NotAllowed):
        import_csv(
            clinic.conn,
            policy,
            "call-list",
            f"client_id\n{anna}\n".encode(),
            source="x.csv",
            operator="olga",
            supervisor=False,
            now=NOW,
            list_name="Flu",
        )
    assert contents(clinic.conn) == before
    # Clients, appointments and tasks are not supervisor work.
    result = import_csv(
        clinic.conn,
        policy,
        "clients",
        b"name\nBoris\n",
        source="x.csv",
        operator="olga",
        supervisor=False,
        now=NOW,
    )
    assert result.added == 1


# -- round trips --------------------------------------------------------------------------------


@pytest.fixture
def demo(conn: Connection) -> Connection:
    """A demo clinic with a do-not-call client, done tasks, processed items, attempts."""
    make_demo(conn, default_policy(), clients=60, now=NOW)
    return conn


def spreadsheet_style(text: str) -> bytes:
    """The same table as Excel's "CSV UTF-8" in a Russian locale writes it."""
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(csv.reader(io.StringIO(text)))
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


@pytest.mark.parametrize("kind", KINDS)
def test_export_then_import_changes_nothing(demo: Connection, policy: Policy, kind: str) -> None:
    text = exported(demo, policy, EXPORTED[kind])
    assert len(rows_of(text)) > 5
    before = contents(demo)
    for data in (text.encode(), spreadsheet_style(text)):
        result = run_import(demo, policy, kind, data)
        assert (result.added, result.updated, result.rows) == (0, 0, len(rows_of(text)))
        assert not result.changed
        assert contents(demo) == before


def test_the_demo_has_what_the_round_trips_need(demo: Connection) -> None:
    for sql in (
        "SELECT count(*) FROM clients WHERE do_not_call = 1",
        "SELECT count(*) FROM tasks WHERE done_at IS NOT NULL",
        "SELECT count(*) FROM call_list_items WHERE processed_at IS NOT NULL",
        "SELECT count(*) FROM appointments WHERE status = 'confirmed'",
        "SELECT count(*) FROM phones WHERE number LIKE '8 %'",
    ):
        assert demo.execute(sql).fetchone()[0] > 0, sql


def test_an_export_restores_what_changed_since(demo: Connection, policy: Policy) -> None:
    text = exported(demo, policy, "clients")
    before = clients_table(demo)
    session_less = demo.execute(
        "SELECT id FROM clients WHERE do_not_call = 0 ORDER BY id LIMIT 1"
    ).fetchone()[0]
    from storage.sessions import start_session

    session = start_session(demo, "olga", NOW)
    update_client(demo, policy, session, session_less, {"notes": "changed", "email": "x@y"}, NOW)
    result = run_import(demo, policy, "clients", text)
    assert (result.updated, result.changed_fields) == (1, {"email": 1, "notes": 1})
    assert clients_table(demo) == before


def test_call_list_export_reads_in_batches(
    demo: Connection, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = exported(demo, policy, "call-list")
    monkeypatch.setattr(export, "BATCH", 3)
    assert exported(demo, policy, "call-list") == whole


# -- properties: any bytes end cleanly ----------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    """A small clinic and, for each kind, a valid file for it (its export plus new rows)."""
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "base.db"
    conn = open_database(path, create=True)
    policy = default_policy()
    make_demo(conn, policy, clients=12, now=NOW)
    files = {kind: exported(conn, policy, EXPORTED[kind]) for kind in KINDS}
    files["clients"] += (
        ',Новый Клиент,"8 916 000-00-01;+7 495 100-00-00",1,NEWC,01.02.1990,,"a;b"\n'
    )
    files["appointments"] += ",1,,13.03.2025 10:30,Dr,Check,,NEWAPP\n"
    files["tasks"] += ",2,,recall,Title,2025-03-13,,NEWTASK\n"
    files["call-list"] += "Fresh list,3,,,note,,,\n"
    conn.close()
    return path, {kind: text.encode("utf-8") for kind, text in files.items()}


INTERESTING = [
    b",",
    b";",
    b'"',
    b"\n",
    b"\r\n",
    b"\r",
    b"\x00",
    b"\xff",
    b"\xef\xbb\xbf",
    b" ",
    b"1",
    b"0",
    b"-",
    b":",
    b".",
    b"+",
    b"a",
    "Я".encode(),
    b"\t",
    b"9" * 25,
    b"2025-02-30",
    b"31.12.1899",
    b"id",
    b"external_id",
]

mutation = st.tuples(
    st.sampled_from(["insert", "delete", "replace", "duplicate-line", "drop-line", "cut"]),
    st.integers(min_value=0, max_value=10**9),
    st.sampled_from(INTERESTING),
)


def mutate(data: bytes, mutations: list[tuple[str, int, bytes]]) -> bytes:
    for operation, where, piece in mutations:
        if not data:
            data = piece
            continue
        at = where % len(data)
        if operation == "insert":
            data = data[:at] + piece + data[at:]
        elif operation == "delete":
            data = data[:at] + data[at + 1 + where % 7 :]
        elif operation == "replace":
            data = data[:at] + piece + data[at + len(piece) :]
        elif operation == "cut":
            data = data[:at]
        else:
            lines = data.split(b"\n")
            index = where % len(lines)
            if operation == "duplicate-line":
                lines.insert(index, lines[index])
            elif len(lines) > 1:
                del lines[index]
            data = b"\n".join(lines)
    return data


class Fuzz:
    """Imports bytes into a fresh copy of the base clinic and checks how it ended."""

    def __init__(self, base: Path, folder: Path) -> None:
        self.base = base
        self.folder = folder
        self.policy = default_policy()
        self.runs = 0

    def check(self, kind: str, data: bytes) -> None:
        self.runs += 1
        path = self.folder / f"run{self.runs}.db"
        shutil.copyfile(self.base, path)
        conn = open_database(path)
        try:
            before = contents(conn)
            counts = {
                t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("clients", "appointments", "tasks", "call_list_items")
            }
            try:
                result = import_csv(
                    conn,
                    self.policy,
                    kind,
                    data,
                    source="fuzz.csv",
                    operator="admin",
                    supervisor=True,
                    now=NOW,
                    list_name="Fuzz" if kind == "call-list" and self.runs % 2 else None,
                )
            except BadFile as bad:
                assert bad.problems
                assert all(p.line >= 1 for p in bad.problems), bad.problems
                assert contents(conn) == before  # nothing at all changed
                return
            finally:
                assert not conn.in_transaction
            # A clean import accounts for every row, all of it written.
            assert result.added + result.updated + result.unchanged == result.rows
            table = {
                "clients": "clients",
                "appointments": "appointments",
                "tasks": "tasks",
                "call-list": "call_list_items",
            }[kind]
            assert (
                conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                == counts[table] + result.added
            )
            if not result.changed:
                assert contents(conn) == before
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        finally:
            conn.close()
            path.unlink()


@pytest.fixture(scope="module")
def fuzz(
    fuzz_base: tuple[Path, dict[str, bytes]], tmp_path_factory: pytest.TempPathFactory
) -> Fuzz:
    return Fuzz(fuzz_base[0], tmp_path_factory.mktemp("runs"))


FAST = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FAST
@given(kind=st.sampled_from(KINDS), data=st.binary(max_size=400))
def test_arbitrary_bytes(fuzz: Fuzz, kind: str, data: bytes) -> None:
    fuzz.check(kind, data)


@FAST
@given(kind=st.sampled_from(KINDS), mutations=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_valid_files(
    fuzz: Fuzz,
    fuzz_base: tuple[Path, dict[str, bytes]],
    kind: str,
    mutations: list[tuple[str, int, bytes]],
) -> None:
    fuzz.check(kind, mutate(fuzz_base[1][kind], mutations))


@FAST
@given(
    kind=st.sampled_from(KINDS),
    cells=st.lists(
        st.lists(
            st.lists(
                st.sampled_from(
                    [
                        *'0123456789 .:-+;,"\nTZaбAP',
                        "2025-03-13",
                        "13.03.2025 10:00",
                        "C0",
                        "Fuzz",
                        "confirmed",
                        "recall",
                    ]
                ),
                max_size=6,
            ).map("".join),
            min_size=1,
            max_size=9,
        ),
        max_size=6,
    ),
)
def test_valid_headers_with_arbitrary_cells(
    fuzz: Fuzz, fuzz_base: tuple[Path, dict[str, bytes]], kind: str, cells: list[list[str]]
) -> None:
    header = next(csv.reader(io.StringIO(fuzz_base[1][kind].decode())))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in cells:
        writer.writerow((row * len(header))[: len(header)])
    fuzz.check(kind, out.getvalue().encode())


def test_the_valid_fuzz_files_import_cleanly(
    fuzz_base: tuple[Path, dict[str, bytes]], tmp_path: Path, policy: Policy
) -> None:
    for kind in KINDS:
        shutil.copyfile(fuzz_base[0], tmp_path / f"{kind}.db")
        conn = open_database(tmp_path / f"{kind}.db")
        try:
            result = import_csv(
                conn,
                policy,
                kind,
                fuzz_base[1][kind],
                source="x.csv",
                operator="admin",
                supervisor=True,
                now=NOW,
                list_name=None,
            )
            assert result.added == 1 and result.unchanged == result.rows - 1
        finally:
            conn.close()


# -- size ---------------------------------------------------------------------------------------


def test_100000_clients(tmp_path: Path, policy: Policy) -> None:
    """Works on 100,000 clients (how long it takes is for the benchmarks)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["external_id", "name", "phones", "birth_date", "email", "notes"])
    for n in range(100_000):
        writer.writerow(
            [
                f"C{n:06d}",
                f"Иванова Анна {n}",
                f"8 916 {n % 1000:03d}-{n % 97:02d}-67;+7 495 000-{n % 100:02d}-22",
                "1980-02-29",
                f"c{n}@example.ru",
                "call after 6, not before",
            ]
        )
    data = out.getvalue().encode()
    conn = open_database(tmp_path / "big.db", create=True)
    phases: set[str] = set()
    try:
        result = import_csv(
            conn,
            policy,
            "clients",
            data,
            source="big.csv",
            operator="admin",
            supervisor=True,
            now=NOW,
            progress=lambda phase, done, total: phases.add(phase),
        )
        assert result.added == 100_000
        assert phases == {"reading", "checking", "writing"}
        assert conn.execute("SELECT count(*) FROM phones").fetchone()[0] == 200_000
        assert conn.execute(
            "SELECT digits FROM phones WHERE client_id = 1 ORDER BY position"
        ).fetchall() == [("79160000067",), ("74950000022",)]
    finally:
        conn.close()


# keep the zone helpers honest: an offset in the file wins over the clinic's zone
def test_an_offset_in_the_file_wins(conn: Connection, policy: Policy) -> None:
    run_import(conn, policy, "clients", "external_id,name\nP,Anna\n")
    utc = datetime(2025, 3, 13, 7, 30, tzinfo=UTC)
    run_import(
        conn,
        policy,
        "appointments",
        f"client_external_id,starts_at\nP,{utc.isoformat()}\n"
        f"P,{(utc + timedelta(hours=1)).replace(tzinfo=None).isoformat()}\n",
    )
    assert [row[0] for row in conn.execute("SELECT starts_at FROM appointments ORDER BY id")] == [
        clinic_time(2025, 3, 13, 10, 30),
        clinic_time(2025, 3, 13, 8, 30),
    ]
