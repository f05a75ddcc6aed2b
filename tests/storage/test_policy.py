"""policy.toml: the shipped file equals the built-in defaults; every mistake is named."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tomllib
from datetime import datetime, time
from pathlib import Path
from typing import Any

import pytest

from storage.policy import _OUTCOME_FIELDS as _OUTCOME_KEYS
from storage.policy import DEFAULTS, PolicyError, default_policy, load_policy, parse_duration
from tests.command_env import command_env

SHIPPED = Path(__file__).resolve().parents[2] / "policy.toml"


def write_policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "clinic-policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def refused(tmp_path: Path, text: str, *keys: str) -> str:
    """Load a policy that must fail; the message names the file and every key given."""
    path = write_policy(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert str(path) in message
    for key in keys:
        assert key in message
    return message


def test_shipped_policy_file_equals_the_built_in_defaults() -> None:
    with open(SHIPPED, "rb") as handle:
        assert tomllib.load(handle) == DEFAULTS


def test_loading_the_shipped_file_gives_the_default_policy() -> None:
    loaded = load_policy(SHIPPED)
    assert loaded.source == str(SHIPPED)
    # The shipped file sets the language; the built-in defaults leave it to LANG.
    assert loaded.language_given and not default_policy().language_given
    assert dataclasses.replace(loaded, source="x", language_given=False) == dataclasses.replace(
        default_policy(), source="x"
    )
    assert load_policy(None) == default_policy()


def test_the_language_counts_as_given_only_when_the_file_sets_it(tmp_path: Path) -> None:
    unset = load_policy(write_policy(tmp_path, "[calls]\nmax_attempts = 3\n"))
    assert unset.language == "en" and not unset.language_given
    given = load_policy(write_policy(tmp_path, 'language = "ru"\n'))
    assert given.language == "ru" and given.language_given


def test_default_policy_values() -> None:
    policy = default_policy()
    assert policy.stale_after == 15 * 60
    assert policy.alive_for == 60
    assert policy.heartbeat_every == 20
    assert policy.min_gap == 30 * 60
    assert policy.max_attempts == 5
    assert policy.hours.start == time(9) and policy.hours.end == time(20)
    assert [o.code for o in policy.outcomes] == [
        "confirmed",
        "no-answer",
        "busy",
        "left-message",
        "call-back",
        "cancels",
        "wrong-number",
        "do-not-call",
    ]
    confirmed = policy.outcome("confirmed")
    assert confirmed.closes and confirmed.completes and not confirmed.failed
    assert policy.outcome("no-answer").retry_after == 3600
    assert policy.outcome("no-answer").failed
    assert policy.outcome("cancels").appointment_status == "cancelled"
    assert policy.outcome("wrong-number").closes and not policy.outcome("wrong-number").completes
    assert policy.outcome("do-not-call").do_not_call
    assert policy.outcome("call-back").asks_callback and not policy.outcome("call-back").failed
    with pytest.raises(KeyError):
        policy.outcome("nonsense")


def test_a_partial_policy_is_merged_over_the_defaults(tmp_path: Path) -> None:
    path = write_policy(tmp_path, '[locks]\nstale_after = "5m"\n[calls]\nmax_attempts = 3\n')
    policy = load_policy(path)
    assert policy.stale_after == 300
    assert policy.max_attempts == 3
    assert policy.min_gap == default_policy().min_gap  # untouched keys keep their defaults
    assert policy.outcomes == default_policy().outcomes


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("2h", 7200), ("1d", 86400), (" 5m ", 300)]
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


def test_misspelt_key_is_named(tmp_path: Path) -> None:
    message = refused(tmp_path, '[locks]\nstale_afer = "15m"\n', "locks.stale_afer")
    assert "stale_after" in message  # the known keys are listed


def test_misspelt_top_level_key_is_named(tmp_path: Path) -> None:
    refused(tmp_path, 'langauge = "ru"\n', "langauge")


def test_misspelt_window_key_is_named(tmp_path: Path) -> None:
    refused(
        tmp_path,
        "[confirmation]\nwindow = { from_day = 1, to_days = 1 }\n",
        "confirmation.window.from_day",
    )


@pytest.mark.parametrize("value", ['"15 minutes"', '"0m"', "15", '"15"', '"-5m"', '"1w"', '""'])
def test_bad_duration_is_refused(tmp_path: Path, value: str) -> None:
    message = refused(tmp_path, f"[locks]\nstale_after = {value}\n", "locks.stale_after")
    assert "duration" in message


def test_bad_duration_in_an_outcome_is_refused(tmp_path: Path) -> None:
    refused(
        tmp_path,
        '[[outcomes]]\ncode = "done"\nlabel = { en = "Done", ru = "Готово" }\n'
        'closes = true\nretry_after = "soon"\n',
        "outcomes[1].retry_after",
    )


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[calls]\nmax_attempts = "5"\n', "calls.max_attempts"),
        ("[calls]\nmax_attempts = 0\n", "calls.max_attempts"),
        ("[calls]\nmax_attempts = true\n", "calls.max_attempts"),
        ('[telephony]\nenabled = "yes"\n', "telephony.enabled"),
        ("[telephony]\nport = 70000\n", "telephony.port"),
        ("locks = 5\n", "locks"),
        ('[security]\nsupervisors = "root"\n', "security.supervisors"),
        ('language = "de"\n', "language"),
        ('timezone = "Mars/Olympus"\n', "timezone"),
        ("[tasks]\ncallable = [1, 2]\n", "tasks.callable"),
        (
            "[confirmation]\nwindow = { from_days = 2, to_days = 1 }\n",
            "confirmation.window.to_days",
        ),
        ('[confirmation]\nconfirmed_status = "maybe"\n', "confirmation.confirmed_status"),
        ('[confirmation]\nopen_statuses = ["pending"]\n', "confirmation.open_statuses"),
    ],
)
def test_wrong_type_or_value_is_refused(tmp_path: Path, text: str, key: str) -> None:
    refused(tmp_path, text, key)


def test_unknown_outcome_field_is_refused(tmp_path: Path) -> None:
    refused(
        tmp_path,
        '[[outcomes]]\ncode = "done"\nlabel = { en = "Done", ru = "Готово" }\n'
        'closes = true\ncolour = "green"\n',
        "outcomes[1].colour",
    )


def test_outcome_label_needs_both_languages(tmp_path: Path) -> None:
    refused(
        tmp_path,
        '[[outcomes]]\ncode = "done"\nlabel = { en = "Done" }\ncloses = true\n',
        "outcomes[1].label.ru",
    )


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            '[[outcomes]]\ncode = "done"\ncloses = true\n',
            "outcomes[1].label is missing; it should be a table.",
        ),
        (
            "[calls]\nmax_attempts = true\n",
            "calls.max_attempts should be a whole number from 1 to 100, not true.",
        ),
        (
            "[outcomes]\ncode = 'x'\n",
            "outcomes should be a non-empty list of [[outcomes]] tables, not { code = 'x' }.",
        ),
        (
            '[sessions]\nalive_for = "1m"\nheartbeat_every = "45s"\n',
            "sessions.alive_for "
            "should be at least twice sessions.heartbeat_every (45s), so that one late heartbeat "
            "does not make a working session count as gone, not '1m'.",
        ),
    ],
)
def test_a_value_is_quoted_as_toml_writes_it_and_a_missing_one_said_missing(
    tmp_path: Path, text: str, said: str
) -> None:
    """Python's None, True and {'code': 'x'} mean nothing to the admin who wrote the file."""
    assert refused(tmp_path, text) == f"{tmp_path / 'clinic-policy.toml'}: {said}"


@pytest.mark.parametrize(
    "hours",
    [
        "9-20",
        "09:00 - 20:00",
        "09:00-25:00",
        "24:00-24:00",
        "09:60-20:00",
        "09:00-24:30",
        "",
        "nine to eight",
    ],
)
def test_malformed_hours_are_refused(tmp_path: Path, hours: str) -> None:
    refused(tmp_path, f'[calls]\nhours = "{hours}"\n', "calls.hours")


@pytest.mark.parametrize("hours", ["20:00-09:00", "10:00-10:00"])
def test_hours_ending_before_they_start_are_refused(tmp_path: Path, hours: str) -> None:
    message = refused(tmp_path, f'[calls]\nhours = "{hours}"\n', "calls.hours")
    assert "end after they start" in message


def test_hours_may_end_at_midnight(tmp_path: Path) -> None:
    policy = load_policy(write_policy(tmp_path, '[calls]\nhours = "08:30-24:00"\n'))
    assert policy.hours.start == time(8, 30)
    assert policy.hours.end is None
    assert str(policy.hours) == "08:30-24:00"


def test_outcomes_list_replaces_the_defaults_whole(tmp_path: Path) -> None:
    policy = load_policy(
        write_policy(
            tmp_path,
            """
[[outcomes]]
code = "reached"
label = { en = "Reached", ru = "Дозвонились" }
closes = true

[[outcomes]]
code = "silence"
label = { en = "Silence", ru = "Тишина" }
retry_after = "10m"
""",
        )
    )
    assert [o.code for o in policy.outcomes] == ["reached", "silence"]
    reached, silence = policy.outcomes
    # Defaults of the fields: completes follows closes, failed = neither closes nor asks.
    assert reached.completes and not reached.failed
    assert silence.failed and not silence.closes and silence.retry_after == 600
    assert reached.label("ru") == "Дозвонились" and reached.label("en") == "Reached"


def test_outcomes_need_one_that_closes_and_completes(tmp_path: Path) -> None:
    refused(
        tmp_path, '[[outcomes]]\ncode = "silence"\nlabel = { en = "S", ru = "Т" }\n', "outcomes"
    )


def test_outcome_codes_must_differ(tmp_path: Path) -> None:
    one = '[[outcomes]]\ncode = "ok"\nlabel = { en = "OK", ru = "Да" }\ncloses = true\n'
    refused(tmp_path, one + one, "outcomes", "different codes")


def test_extensions_table_replaces_the_default_one(tmp_path: Path) -> None:
    policy = load_policy(write_policy(tmp_path, '[telephony.extensions]\nbob = "PJSIP/202"\n'))
    assert dict(policy.telephony.extensions) == {"bob": "PJSIP/202"}
    assert policy.telephony.host == "127.0.0.1"  # the rest of [telephony] is merged


def test_invalid_toml_is_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, "[locks\nstale_after = 15m\n")
    assert "TOML" in message


def test_a_policy_file_larger_than_a_policy_can_be_is_refused(tmp_path: Path) -> None:
    """A policy is a few kilobytes: a file of megabytes is the wrong file, refused by its
    size before it is read whole (--policy /dev/zero would never end)."""
    path = tmp_path / "clinic-policy.toml"
    path.write_text("# a comment line of a valid TOML file\n" * 40_000, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(caught.value) == (
        f"{path}: this is not a policy file, it is larger than 1 MB (a policy is a few kilobytes)."
    )


def test_a_policy_that_never_ends_is_refused() -> None:
    with pytest.raises(PolicyError, match="larger than 1 MB") as caught:
        load_policy("/dev/zero")
    assert str(caught.value).startswith("/dev/zero: ")


def test_a_file_saved_by_windows_notepad_is_read(tmp_path: Path) -> None:
    """UTF-8 with a byte-order mark and CRLF line ends (Notepad's "UTF-8 with BOM"): still
    UTF-8 text, not "not valid TOML (Invalid statement (at line 1, column 1))"."""
    path = tmp_path / "policy.toml"
    path.write_bytes('\ufefflanguage = "ru"\r\n[calls]\r\nmax_attempts = 3\r\n'.encode())
    policy = load_policy(path)
    assert (policy.language, policy.max_attempts) == ("ru", 3)


@pytest.mark.parametrize("path", ["clinic.db", "data/clinic.db", "~/clinic.db"])
@pytest.mark.parametrize(
    ("table", "key"),
    [("database", "path"), ("telephony", "secret_file"), ("log", "file")],
)
def test_a_file_in_the_policy_must_be_a_full_path(
    tmp_path: Path, path: str, table: str, key: str
) -> None:
    """Each operator starts ringround in a folder of their own: a relative path would name
    another file for each (a missing database, or a new one made by an import run there)."""
    message = refused(tmp_path, f'[{table}]\n{key} = "{path}"\n', f"{table}.{key}")
    assert "should be a full path, such as " in message


@pytest.mark.parametrize(
    "path", ["/srv/clinic.db", "postgresql://ringround@db1/clinic", "postgres://db1/clinic"]
)
def test_a_database_path_may_be_a_file_or_a_server(tmp_path: Path, path: str) -> None:
    assert load_policy(write_policy(tmp_path, f'[database]\npath = "{path}"\n')).database_path == (
        path
    )


@pytest.mark.parametrize(
    "address",
    [
        "postgresql://ringround:secret@db1/clinic",
        "postgres://ringround@db1/clinic?password=secret",
        "postgresql://ringround:secret@[::1/clinic",  # a host part that cannot be read
    ],
)
def test_a_password_in_the_database_address_is_refused_unshown(
    tmp_path: Path, address: str
) -> None:
    """Everybody may read the policy: the refusal names the file and the key, as every
    policy error does, and never repeats the password."""
    message = refused(tmp_path, f'[database]\npath = "{address}"\n', "database.path")
    assert message.endswith(
        "database.path holds a password, which does not belong in the policy, where "
        "others can read it; put it in ~/.pgpass, PGPASSWORD or a service file."
    )
    assert "secret" not in message


def test_missing_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(PolicyError, match="does not exist") as caught:
        load_policy(path)
    assert str(path) in str(caught.value)


def test_appointment_status_must_be_a_confirmation_status(tmp_path: Path) -> None:
    message = refused(
        tmp_path,
        '[[outcomes]]\ncode = "ok"\nlabel = { en = "OK", ru = "Да" }\n'
        'closes = true\nappointment_status = "maybe"\n',
        "outcomes[1].appointment_status",
    )
    assert "statuses" in message


def test_appointment_status_may_be_a_status_the_policy_adds(tmp_path: Path) -> None:
    policy = load_policy(
        write_policy(
            tmp_path,
            """
[confirmation]
statuses = ["unconfirmed", "confirmed", "cancelled", "moved"]
open_statuses = ["unconfirmed"]

[[outcomes]]
code = "ok"
label = { en = "OK", ru = "Да" }
closes = true

[[outcomes]]
code = "moved"
label = { en = "Moved", ru = "Перенесено" }
closes = true
appointment_status = "moved"
""",
        )
    )
    assert policy.outcome("moved").appointment_status == "moved"


def test_calling_hours_contain(tmp_path: Path) -> None:
    zone = default_policy().timezone
    hours = default_policy().hours
    assert hours.contains(datetime(2025, 3, 12, 9, 0, tzinfo=zone))
    assert hours.contains(datetime(2025, 3, 12, 19, 59, tzinfo=zone))
    assert not hours.contains(datetime(2025, 3, 12, 20, 0, tzinfo=zone))
    assert not hours.contains(datetime(2025, 3, 12, 8, 59, tzinfo=zone))
    late = load_policy(write_policy(tmp_path, '[calls]\nhours = "18:00-24:00"\n')).hours
    assert late.contains(datetime(2025, 3, 12, 23, 59, 59, tzinfo=zone))
    assert not late.contains(datetime(2025, 3, 12, 0, 0, tzinfo=zone))


# --- bounds and relations (a policy that passes check also runs) --------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[calls]\nmax_attempts = 99999999999999999999\n", "calls.max_attempts"),
        ("[calls]\nmax_attempts = 101\n", "calls.max_attempts"),
        ('[locks]\nstale_after = "99999999999999999999d"\n', "locks.stale_after"),
        ('[locks]\nstale_after = "2d"\n', "locks.stale_after"),
        ('[locks]\nstale_after = "30s"\n', "locks.stale_after"),  # "over 0 min" otherwise
        (
            "[confirmation]\nwindow = { from_days = 1, to_days = 5000000 }\n",
            "confirmation.window.to_days",
        ),
        (
            "[confirmation]\nwindow = { from_days = 400, to_days = 400 }\n",
            "confirmation.window.from_days",
        ),
        ('[sessions]\nheartbeat_every = "11m"\nalive_for = "1h"\n', "sessions.heartbeat_every"),
        ('[sessions]\nalive_for = "2h"\n', "sessions.alive_for"),
        ('[calls]\nmin_gap = "31d"\n', "calls.min_gap"),
        ('[calls]\npersonal_callback_grace = "99999999h"\n', "calls.personal_callback_grace"),
        ('[telephony]\nring_timeout = "11m"\n', "telephony.ring_timeout"),
        ("[telephony]\nport = 0\n", "telephony.port"),
        ("[phones]\nnational_length = 16\n", "phones.national_length"),
    ],
)
def test_values_out_of_bounds_are_refused(tmp_path: Path, text: str, key: str) -> None:
    message = refused(tmp_path, text, key)
    assert " from " in message  # the bounds are named


def test_an_outcome_retry_after_out_of_bounds_is_refused(tmp_path: Path) -> None:
    message = refused(
        tmp_path,
        '[[outcomes]]\ncode = "done"\nlabel = { en = "Done", ru = "Готово"'
        ' }\ncloses = true\nretry_after = "9999d"\n',
        "outcomes[1].retry_after",
    )
    assert "from 1s to 30d" in message


@pytest.mark.parametrize(
    ("text", "key", "other"),
    [
        (
            '[sessions]\nheartbeat_every = "60s"\nalive_for = "60s"\n',
            "sessions.alive_for",
            "sessions.heartbeat_every",
        ),
        (
            '[sessions]\nheartbeat_every = "90s"\nalive_for = "60s"\n',
            "sessions.alive_for",
            "sessions.heartbeat_every",
        ),
        (
            '[sessions]\nheartbeat_every = "31s"\nalive_for = "60s"\n',
            "sessions.alive_for",
            "sessions.heartbeat_every",
        ),
        (
            '[locks]\nstale_after = "1m"\n[sessions]\nalive_for = "2m"\n',
            "locks.stale_after",
            "sessions.alive_for",
        ),
        (
            '[locks]\nstale_after = "1m"\n[telephony]\nring_timeout = "1m"\n',
            "telephony.ring_timeout",
            "locks.stale_after",
        ),
    ],
)
def test_settings_that_contradict_each_other_are_refused(
    tmp_path: Path, text: str, key: str, other: str
) -> None:
    refused(tmp_path, text, key, other)


def test_values_at_the_bounds_are_taken(tmp_path: Path) -> None:
    policy = load_policy(
        write_policy(
            tmp_path,
            (
                '[locks]\nstale_after = "1d"\n'
                '[sessions]\nheartbeat_every = "30s"\nalive_for = "60s"\n'
                "[confirmation]\nwindow = { from_days = 0, to_days = 365, skip_weekends = false }\n"
                '[calls]\nmax_attempts = 100\nmin_gap = "30d"\n'
                '[telephony]\nring_timeout = "10m"\n'
            ),
        )
    )
    assert (policy.stale_after, policy.heartbeat_every, policy.alive_for) == (86400, 30, 60)
    assert (policy.window.to_days, policy.max_attempts, policy.min_gap) == (365, 100, 30 * 86400)
    assert policy.telephony.ring_timeout == 600


def test_every_bounded_key_is_a_key_of_the_policy() -> None:
    # A renamed key would otherwise lose its bounds unnoticed (the defaults load, so they
    # are within them).
    from storage.policy import LIMITS

    for dotted in LIMITS:
        *tables, key = dotted.split(".")
        if tables == ["outcomes"]:
            assert key in _OUTCOME_KEYS, dotted
            continue
        data: Any = DEFAULTS
        for table in tables:
            data = data[table]
        assert key in data, dotted


# --- the real command line: check and every command refuse such a policy at start -------

ISSUE_EXAMPLES = {
    "sessions.alive_for": '[sessions]\nheartbeat_every = "60s"\nalive_for = "60s"\n',
    "calls.max_attempts": "[calls]\nmax_attempts = 99999999999999999999\n",
    "locks.stale_after": '[locks]\nstale_after = "99999999999999999999d"\n',
    "confirmation.window.to_days": (
        "[confirmation]\nwindow = { from_days = 1, to_days = 5000000 }\n"
    ),
}
COMMANDS = [
    [],
    ["check"],
    ["locks"],
    ["lists"],
    ["export", "clients"],
    ["demo", "--no-run"],
    ["import", "clients", "clients.csv"],
    ["backup", "copy.db"],
    ["report"],
]


def ringround(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", *args],
        capture_output=True,
        text=True,
        cwd=folder,
        env=command_env(),
        timeout=120,
        check=False,
    )


def refused_at_start(folder: Path, policy: Path, key: str, args: list[str]) -> None:
    result = ringround(folder, *args, "--policy", str(policy), "--db", str(folder / "clinic.db"))
    assert result.returncode == 2, (args, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert str(policy) in lines[0] and key in lines[0], lines[0]
    assert result.stdout == ""
    assert not (folder / "clinic.db").exists()  # nothing was made


@pytest.mark.parametrize("key", ISSUE_EXAMPLES)
@pytest.mark.parametrize("args", [[], ["check"]], ids=["app", "check"])
def test_check_and_the_app_refuse_the_issue_examples(
    tmp_path: Path, key: str, args: list[str]
) -> None:
    refused_at_start(tmp_path, write_policy(tmp_path, ISSUE_EXAMPLES[key]), key, args)


@pytest.mark.parametrize("args", COMMANDS[2:], ids=" ".join)
def test_every_command_refuses_a_policy_out_of_bounds(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "clients.csv").write_text("name,phones\nАнна,+79161234567\n", encoding="utf-8")
    refused_at_start(
        tmp_path,
        write_policy(tmp_path, ISSUE_EXAMPLES["locks.stale_after"]),
        "locks.stale_after",
        args,
    )
