"""Fault: hostile text through every command of the real ``ringround`` (separate processes).

The hostile clinic of tests/tui/test_faults_hostile_terminal.py (Hypothesis values
in every field, a colleague with a hostile name holding locks) is shown by
every command that prints for people — ``locks``, ``lists``, ``check``,
``locks --release``, ``lists close/reopen``, errors that quote a file's
contents, a list's name or a path — and nothing the data chose may reach the
terminal: no ESC, BEL, C1 or bidi control in what they print. ``--json`` keeps
the data exactly (decoded, it equals what is stored). CSV exports keep the
data exactly by design (tests/storage/test_export.py) when they go to a file
or a pipe; ``export`` and ``report`` printing on a terminal show it as a
person reads it, controls made visible.

Names that identify someone or something are refused where they are given:
``--operator``, the login (in-process, with the login replaced), a call
list's name for ``lists create`` and ``import call-list --name``, and a list
column in the file.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from cli.output import print_json
from storage import roles
from storage.locks import Claim, claim_row, finish_call
from storage.names import control_character
from storage.policy import default_policy
from storage.roles import OperatorNotAllowed, login_name
from storage.rows import ITEM, RowKey
from tests.command_env import command_env
from tests.pty_app import PtyApp, ringround_argv
from tests.stored_clinic import NOW, StoredClinic
from tests.tui.test_faults_hostile_terminal import (
    Hostile,
    Hostility,
    hostile,
    hostile_clinic,
    hostility,
)

ME = login_name()
BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def ringround(folder: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "tui", *args],
        capture_output=True,
        cwd=folder,
        env=command_env(),
        timeout=120,
        check=False,
    )


def obeyed(output: bytes) -> list[str]:
    """Characters a terminal would obey in ``output`` (line breaks are the command's own)."""
    text = output.decode("utf-8", errors="replace")
    return sorted(
        {
            f"U+{ord(c):04X}"
            for c in text
            if (c < " " and c != "\n") or "\x7f" <= c <= "\x9f" or c in BIDI + "\u2028\u2029"
        }
    )


def without_nul(value: Hostile) -> str:
    """A value as a command-line argument (the system cannot pass NUL)."""
    return value.text.replace("\x00", "")


CLI_SETTINGS = settings(
    max_examples=2,
    derandomize=True,
    deadline=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@CLI_SETTINGS
@given(hostility, hostile("QF"))
def test_no_command_prints_a_control_sequence_from_the_data(
    h: Hostility, path_part: Hostile
) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        desk, colleague = hostile_clinic(folder, h)
        db = str(desk.path)
        boss = folder / "boss.toml"
        boss.write_text(f"[security]\nsupervisors = {json.dumps([ME])}\n", encoding="utf-8")
        (folder / "bad.csv").write_text(
            f"name,phones,birth_date,email\n{json.dumps(h.names[0].text)},"
            f"{json.dumps(h.phone.text)},{json.dumps(h.notes.text)},x\n",
            encoding="utf-8",
        )
        hostile_path = folder / ("clinic " + without_nul(path_part).replace("/", "") + ".db")
        list_name = desk.query("SELECT name FROM call_lists ORDER BY id LIMIT 1")[0][0]
        ivanova = desk.appointments["ivanova"]
        runs = {
            "locks": ["locks", "--db", db],
            "lists": ["lists", "--db", db],
            "check": ["check", "--db", db],
            "import errors": ["import", "clients", "bad.csv", "--db", db],
            "no such list": [
                "export",
                "call-list",
                "--list",
                without_nul(h.list_name) + "?",
                "--db",
                db,
            ],
            "release": [
                "locks",
                "--release",
                f"appointment:{ivanova}",
                "--db",
                db,
                "--policy",
                str(boss),
            ],
            "demo in a hostile path": [
                "demo",
                "--no-run",
                "--clients",
                "10",
                "--db",
                str(hostile_path),
            ],
            "backup to a hostile path": ["backup", str(hostile_path) + ".copy", "--db", db],
            "policy from a hostile path": ["policy", "--policy", str(boss), "--db", db],
        }
        if "\x00" not in list_name:  # the system cannot pass it as an argument
            runs["close"] = ["lists", "close", list_name, "--db", db, "--policy", str(boss)]
            runs["reopen"] = ["lists", "reopen", list_name, "--db", db, "--policy", str(boss)]
        for what, args in runs.items():
            result = ringround(folder, *args)
            assert b"Traceback" not in result.stderr, (what, result.stderr)
            assert result.returncode in (0, 1, 2), (what, result.returncode, result.stderr)
            found = obeyed(result.stdout + result.stderr)
            assert not found, f"{what}: {found} reached the terminal"
        # Markers show (literally), so the test looked at the data, not at empty output.
        shown = ringround(folder, "locks", "--db", db).stdout.decode()
        assert h.operator.first_mark in shown and h.names[1].first_mark in shown  # Smith
        # JSON: exactly the data, decodable, and as safe on a terminal.
        for args, field, expected in (
            (["locks", "--json"], "operator", colleague.operator),
            (["lists", "--json"], "name", list_name),
        ):
            result = ringround(folder, *args, "--db", db)
            assert result.returncode == 0 and not obeyed(result.stdout), result.stdout
            assert expected in {row[field] for row in json.loads(result.stdout)}


def on_a_terminal(args: list[str]) -> bytes:
    """What ``ringround ARGS`` writes on a terminal (line ends as the program wrote them)."""
    terminal = PtyApp([*ringround_argv(), *args])
    try:
        assert terminal.wait_exit() == 0
        terminal.wait_until(lambda: terminal.closed, "the output to end")
        return terminal.output().replace(b"\r\n", b"\n")
    finally:
        terminal.close()


def test_csv_printed_on_a_terminal_obeys_nothing_and_piped_stays_exact(
    clinic: StoredClinic, boss: Path, tmp_path: Path
) -> None:
    """``ringround export clients`` typed at the prompt printed a client named
    ``ESC ] 0 ; … BEL`` as it is: the admin's terminal took it as a command (set the title,
    clear the screen, write the clipboard)."""
    name = "\x1b]0;owned\x07Анна \u202eреверс\u202c"
    client = clinic.add_client(name, notes="\x1b[2Jclear\r\nnext", email="\x9b31m")
    _, items = clinic.add_call_list("Список \x1b[5m", [client])
    session = clinic.session("оператор")
    policy = default_policy()
    claim = claim_row(clinic.conn, policy, session, RowKey(ITEM, items[0]), NOW)
    assert isinstance(claim, Claim)
    finish_call(clinic.conn, policy, session, claim, "confirmed", "\x1b]52;c;bWFsd2FyZQ==\x07", NOW)
    runs = (
        ["export", "clients", "--db", clinic.location],
        ["export", "calls", "--db", clinic.location],
        [
            "report",
            "--by",
            "list",
            "--since",
            "2025-03-12",
            "--until",
            "2025-03-12",
            "--db",
            clinic.location,
            "--policy",
            str(boss),
        ],
    )
    for args in runs:
        shown = on_a_terminal(args)
        assert not obeyed(shown), (args, shown)
        assert "␛" in shown.decode() or args[0] == "report", shown
    piped = ringround(tmp_path, "export", "clients", "--db", clinic.location)
    assert name.encode() in piped.stdout  # data for a program: exactly as stored


# --- names that identify someone or something are refused where they are given ------------

names_with_controls = st.builds(
    lambda before, control, after: before + control + after,
    st.text(st.sampled_from("ab Жё"), max_size=3),
    st.sampled_from(
        ["\x1b]0;x\x07", "\x1b[2J", "\x9b", "\u202e", "\x07", "\t", "\n", "\x7f", "\u2066"]
    ),
    st.text(st.sampled_from("ab Жё"), max_size=3),
)


@settings(max_examples=20, derandomize=True)
@given(names_with_controls)
def test_control_characters_in_a_name_are_found(name: str) -> None:
    assert control_character(name) is not None
    assert (
        control_character(name.translate({ord(c): None for c in name if not c.isalnum()})) is None
    )


def test_an_operator_name_with_control_characters_is_refused(tmp_path: Path) -> None:
    policy = tmp_path / "open.toml"
    log = tmp_path / "ringround.log"
    policy.write_text(
        f'[security]\nallow_operator_override = true\n[log]\nto = "file"\nfile = "{log}"\n',
        encoding="utf-8",
    )
    for name, command in (
        ("olga\x1b]0;owned\x07", []),
        ("olga\u202e", ["demo", "--no-run"]),
        ("olga\x9b31m", []),
    ):  # the app's start, and a demo
        result = ringround(
            tmp_path,
            *command,
            "--operator",
            name,
            "--policy",
            str(policy),
            "--db",
            str(tmp_path / "clinic.db"),
        )
        assert result.returncode == 2, result.stderr
        assert not (tmp_path / "clinic.db").exists()
        line = result.stderr.decode()
        assert line.count("\n") == 1 and "--operator" in line and "control character" in line
        assert not obeyed(result.stderr)
    # The administrator's log has each refused login, with the name escaped.
    logged = log.read_bytes()
    assert logged.count(b'reason="control character in --operator"') == 3
    assert not obeyed(logged)


def test_a_login_name_with_control_characters_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(roles, "login_name", lambda: "olga\x1b[2J")
    with pytest.raises(OperatorNotAllowed, match="login name holds a control character"):
        roles.operator_name(default_policy(), None)


def test_a_call_list_name_with_control_characters_is_refused(tmp_path: Path) -> None:
    clinic_folder = tmp_path / "clinic"
    clinic_folder.mkdir()
    from tests.clinic_fixtures import build_desk

    desk = build_desk(clinic_folder)
    boss = tmp_path / "boss.toml"
    boss.write_text(f"[security]\nsupervisors = {json.dumps([ME])}\n", encoding="utf-8")
    members = tmp_path / "members.csv"
    members.write_text("client_external_id,note\nC-smith,recall\n", encoding="utf-8")
    before = desk.query("SELECT name FROM call_lists ORDER BY id")
    db = ["--db", str(desk.path), "--policy", str(boss)]
    for args in (
        ["lists", "create", "Recall \x1b]0;owned\x07", str(members)],
        ["import", "call-list", str(members), "--name", "Recall \u202e"],
    ):
        result = ringround(tmp_path, *args, *db)
        assert result.returncode == 2, result.stderr
        assert result.stderr.decode().count("\n") == 1 and b"control character" in result.stderr
        assert not obeyed(result.stderr)
    listed = tmp_path / "listed.csv"
    listed.write_text('list,client_external_id\n"Recall \x1b[2J",C-smith\n', encoding="utf-8")
    result = ringround(tmp_path, "import", "call-list", str(listed), *db)
    assert result.returncode == 2
    assert b"line 2" in result.stderr and b"list" in result.stderr
    assert b"control character" in result.stderr and not obeyed(result.stderr)
    assert desk.query("SELECT name FROM call_lists ORDER BY id") == before  # nothing made


def test_policy_texts_with_control_characters_are_refused(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[calls]\nhours = "09:00-20:00"\n[[outcomes]]\ncode = "done"\n'
        'label = { en = "Done \\u001b]0;x\\u0007", ru = "Готово" }\ncloses = true\n',
        encoding="utf-8",
    )
    result = ringround(
        tmp_path, "check", "--policy", str(policy), "--db", str(tmp_path / "clinic.db")
    )
    assert result.returncode == 2
    assert b"outcomes[1].label.en" in result.stderr and not obeyed(result.stderr)


def test_json_escapes_what_json_dumps_would_print_raw(capsys: pytest.CaptureFixture[str]) -> None:
    print_json({"name": "a\x9b2J\u202eb\x1b"})
    out = capsys.readouterr().out
    assert not obeyed(out.encode())
    assert json.loads(out) == {"name": "a\x9b2J\u202eb\x1b"}


# --- a value quoted in a sentence ---------------------------------------------------------------


def test_a_quoted_value_shows_its_controls_between_the_languages_quotes(
    clinic: StoredClinic, tmp_path: Path
) -> None:
    """A message names the value it is about ("'x' is not a date"). It was quoted by
    Python's repr, so in Russian too it came between ASCII quotes: 'весной\\x1b[K…\\n…'. The
    quotes are now the sentence's, «…» in Russian, and the value's ESC, BEL and line break
    show as the signs they show as everywhere (␛ ␇ ␊): still one line, nothing obeyed."""
    russian = tmp_path / "ru.toml"
    russian.write_text(
        f'language = "ru"\n[security]\nsupervisors = {json.dumps([ME])}\n', encoding="utf-8"
    )
    (tmp_path / "bad.csv").write_text(
        'name,birth_date\nАнна,"весной\x1b[K\x07\nгода"\n', encoding="utf-8"
    )
    args = ["import", "clients", "bad.csv", "--db", clinic.location, "--policy", str(russian)]
    result = ringround(tmp_path, *args)
    assert result.returncode == 2, result.stderr
    assert "«весной␛[K␇␊года» — не дата" in result.stderr.decode(), result.stderr.decode()
    assert not obeyed(result.stdout + result.stderr)
    args = ["lists", "close", "Грипп\x1b[K\nвесна", "--db", clinic.location, "--policy"]
    result = ringround(tmp_path, *args, str(russian))
    assert (result.returncode, result.stderr.decode()) == (
        2,
        "ringround: Списка обзвона «Грипп␛[K␊весна» нет (их показывает «ringround lists»).\n",
    )
