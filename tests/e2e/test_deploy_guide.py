"""docs/deploy.md as written: its first import files import; its login program runs only
ringround; its table of terminal types gives the colours it says.

The login program is run with ``sh`` exactly as the guide prints it, with the
path of ringround replaced by a stand-in that records how it was called; the
real SSH server's side of it is tests/e2e/test_e2e_ssh.py. The colours are
read from what the real program writes to a pseudo-terminal.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from storage.database import open_database
from tests.pty_app import PtyApp, ringround_argv, terminal_env

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
LOGIN = "/usr/local/bin/ringround-login"


def blocks(language: str) -> list[str]:
    return re.findall(
        rf"```{language}\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.DOTALL
    )


def login_program() -> str:
    [program] = [block for block in blocks("sh") if block.startswith("#!/bin/sh")]
    return program


def test_the_first_import_files_make_a_clinic_from_nothing(tmp_path: Path) -> None:
    """The guide's files make the clinic; importing them again (the nightly import of the
    clinic's system) updates what is there and adds no second client or appointment."""
    clients, appointments = blocks("csv")
    (tmp_path / "first-clients.csv").write_text(clients, encoding="utf-8")
    (tmp_path / "first-appointments.csv").write_text(appointments, encoding="utf-8")
    for kind, name in (
        ("clients", "first-clients.csv"),
        ("appointments", "first-appointments.csv"),
    ) * 2:
        done = subprocess.run(
            [*ringround_argv(), "import", kind, name, "--db", "clinic.db"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    conn = open_database(tmp_path / "clinic.db")
    try:
        got = conn.execute(
            "SELECT c.name, c.external_id, a.doctor FROM appointments a"
            " JOIN clients c ON c.id = a.client_id ORDER BY a.starts_at"
        ).fetchall()
        phones = conn.execute("SELECT count(*) FROM phones").fetchone()[0]
    finally:
        conn.close()
    assert [tuple(row) for row in got] == [
        ("Иванова Анна Петровна", "K-1001", "Орлова Е. В."),
        ("Petrov Boris", "K-1002", "Dr. Wilson"),
    ]
    assert phones == 3


@pytest.fixture
def login(tmp_path: Path) -> tuple[Path, Path]:
    """The guide's login program, starting a stand-in for ringround that records its call."""
    record = tmp_path / "started"
    stand_in = tmp_path / "ringround"
    stand_in.write_text(f'#!/bin/sh\necho "$* umask=$(umask)" > {record}\n', encoding="utf-8")
    stand_in.chmod(0o755)
    program = tmp_path / "ringround-login"
    program.write_text(
        login_program().replace("exec /usr/local/bin/ringround ", f"exec {stand_in} "),
        encoding="utf-8",
    )
    program.chmod(0o755)
    return program, record


def run_login(
    program: Path, *args: str, original: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "SSH_ORIGINAL_COMMAND"}
    if original is not None:
        env["SSH_ORIGINAL_COMMAND"] = original
    return subprocess.run(
        [str(program), *args], capture_output=True, text=True, env=env, timeout=30, check=False
    )


@pytest.mark.parametrize("args", [(), ("-c", LOGIN)], ids=["console or su", "ForceCommand"])
def test_the_login_program_starts_ringround_for_a_login(
    login: tuple[Path, Path], args: tuple[str, ...]
) -> None:
    program, record = login
    done = run_login(program, *args)
    assert (done.returncode, done.stderr) == (0, "")
    assert record.read_text(encoding="utf-8") == (
        "--policy /etc/ringround/policy.toml umask=0002\n"
    )


@pytest.mark.parametrize(
    ("args", "original"),
    [
        (("-c", "bash"), None),  # ssh host bash, or su -c, without ForceCommand
        (("-c", "/usr/lib/openssh/sftp-server"), None),
        (("-c", LOGIN), "bash"),  # with ForceCommand: what the client asked for
        (("-c", LOGIN), "/usr/lib/openssh/sftp-server"),  # sftp
        (("-c", LOGIN), "internal-sftp"),
        (("-c", LOGIN), "scp -t /tmp"),  # scp -O
        (("-c", LOGIN), ""),  # an empty command is still a command
        (("-c", f"{LOGIN}; bash"), None),
        (("-i",), None),
    ],
    ids=[
        "-c bash",
        "-c sftp-server",
        "bash",
        "sftp",
        "internal-sftp",
        "scp",
        "empty",
        "chained",
        "-i",
    ],
)
def test_the_login_program_refuses_everything_else(
    login: tuple[Path, Path], args: tuple[str, ...], original: str | None
) -> None:
    program, record = login
    done = run_login(program, *args, original=original)
    assert done.returncode == 2
    assert done.stderr == (
        "This login only runs ringround: commands, file transfer and shells are not available.\n"
    )
    assert done.stdout == ""
    assert not record.exists()


# -- step 11: the nightly mail of the audit trail's newest hash -----------------------------------


def cron_lines(command: str) -> list[str]:
    """The guide's cron lines (minute hour day month weekday user command) running ``command``."""
    return [
        line.split(" ", 6)[6]
        for block in blocks("cron")
        for line in block.splitlines()
        if re.match(r"(?:[\d*]+ ){5}root ", line) and f" {command} " in line
    ]


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_nightly_audit_line_mails_the_newest_hash_in_the_clinics_language(
    tmp_path: Path, language: str
) -> None:
    clients, _ = blocks("csv")
    (tmp_path / "first-clients.csv").write_text(clients, encoding="utf-8")
    db = tmp_path / "clinic.db"
    made = subprocess.run(
        [*ringround_argv(), "import", "clients", "first-clients.csv", "--db", str(db)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    policy = tmp_path / "policy.toml"
    policy.write_text(f'language = "{language}"\n[database]\npath = "{db}"\n', encoding="utf-8")
    [line] = cron_lines("check")
    line = line.replace("/usr/local/bin/ringround ", f"{shlex.join(ringround_argv())} ")
    line = line.replace("/etc/ringround/policy.toml", str(policy))
    # What cron gives a job: a short PATH, no LANG; cron mails what the job prints.
    cron = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SHELL": "/bin/sh"}
    mailed = subprocess.run(
        ["sh", "-c", line], capture_output=True, text=True, env=cron, timeout=120, check=False
    )
    found = re.findall(r"--audit-entry (\d+):([0-9a-f]{64})", mailed.stdout)
    assert len(found) == 1 and len(mailed.stdout.splitlines()) == 1, (mailed.stdout, line)
    [(entry, digest)] = found
    conn = open_database(db)
    try:
        newest = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    assert (int(entry), digest) == (newest[0], newest[1])


# -- step 8: restoring a backup ------------------------------------------------------------------


def run_ringround(*args: str, cwd: Path) -> None:
    done = subprocess.run(
        [*ringround_argv(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_restoring_twice_keeps_both_databases_set_aside(tmp_path: Path) -> None:
    """Step 8's restore lines, run as printed (for this test's folders, user and group) twice:
    Monday's backup, then - say its check disappointed - Sunday's. The database set aside by
    the first restore, the one with the latest work, must survive the second."""
    folder, backups = tmp_path / "lib", tmp_path / "backups"
    folder.mkdir()
    backups.mkdir()
    clients, _ = blocks("csv")
    (tmp_path / "first-clients.csv").write_text(clients, encoding="utf-8")
    db = folder / "clinic.db"
    run_ringround("import", "clients", "first-clients.csv", "--db", str(db), cwd=tmp_path)
    for day in ("Sun", "Mon"):
        run_ringround("backup", "--db", str(db), str(backups / f"clinic-{day}.db"), cwd=tmp_path)
    [restore] = [block for block in blocks("sh") if "# 2. Move the database" in block]
    for old, new in (
        ("/var/lib/ringround", str(folder)),
        ("/var/backups/ringround", str(backups)),
        ("-o root -g ringround-operators", f"-o {os.getuid()} -g {os.getgid()}"),
        ("ringround check", f"{shlex.join(ringround_argv())} check --db {db}"),
    ):
        assert old in restore, old
        restore = restore.replace(old, new)
    for day in ("Mon", "Sun"):
        subprocess.run(
            ["sh", "-c", restore.replace("clinic-Mon.db", f"clinic-{day}.db")],
            capture_output=True,
            timeout=120,
            check=False,
        )
    kept = sorted(path.relative_to(folder).parts[0] for path in folder.glob("*/clinic.db"))
    assert len(kept) == 2, kept


# -- step 10: the colours each terminal type gets -------------------------------------------------

SGR = re.compile(rb"\x1b\[([0-9;]*)m")
GREYS_16 = {30, 37, 90, 97, 40, 47, 100, 107}  # black, white and their bright forms
# What the table's "colours used" means, in the colour forms written.
SAYS: dict[str, Callable[[set[str]], bool]] = {
    "16 colours": lambda forms: forms == {"16"},
    "256 colours": lambda forms: "256" in forms and "full" not in forms,
    "full colour": lambda forms: "full" in forms,
}


def colours_written(data: bytes) -> tuple[set[str], bool]:
    """The colour forms the bytes use ("16", "256", "full") and whether every colour is a grey."""
    forms: set[str] = set()
    grey = True
    for match in SGR.finditer(data):
        codes = [int(code or 0) for code in match.group(1).split(b";")]
        while codes:
            code = codes.pop(0)
            if code in (38, 48) and codes[:1] == [2]:
                red, green, blue = codes[1:4]
                del codes[:4]
                forms.add("full")
                grey = grey and red == green == blue
            elif code in (38, 48) and codes[:1] == [5]:
                index = codes[1]
                del codes[:2]
                forms.add("256")
                grey = grey and (index >= 232 or index in (0, 7, 8, 15, 16, 231))
            elif 30 <= code <= 37 or 40 <= code <= 47 or 90 <= code <= 97 or 100 <= code <= 107:
                forms.add("16")
                grey = grey and code in GREYS_16
    return forms, grey


def colour_table() -> list[tuple[dict[str, str], str]]:
    """Step 10's table: the environment of each terminal type named, and the colours it says."""
    text = GUIDE.read_text(encoding="utf-8")
    table = text.split("| `TERM` | colours used |", 1)[1].split("\n\n", 1)[0]
    rows = []
    for line in table.splitlines()[2:]:
        terms, colours = (cell.strip() for cell in line.strip("|").split("|"))
        for term in re.findall(r"`([^`]+)`", terms):
            name, _, value = term.partition("=")
            rows.append(({name: value} if value else {"TERM": name}, colours))
    return rows


@pytest.fixture(scope="module")
def demo_clinic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("colours") / "demo.db"
    done = subprocess.run(
        [*ringround_argv(), "demo", "--no-run", "--db", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return path


@pytest.mark.parametrize(
    ("environment", "colours"),
    [*colour_table(), ({"NO_COLOR": "1"}, "no colours")],
    ids=lambda value: (
        ",".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else value
    ),
)
def test_each_terminal_type_gets_the_colours_the_guide_says(
    demo_clinic: Path, environment: dict[str, str], colours: str
) -> None:
    app = PtyApp(
        [*ringround_argv(), "--db", str(demo_clinic)],
        env=terminal_env({"TERM": "xterm", **environment}),
    )
    try:
        app.wait_for("Mass calling", timeout=60)
        app.send("enter")  # the first list: rows, the client pane, the footer
        app.wait_for("Appointment confirmation ·", timeout=60)
        app.wait_quiet()
        forms, grey = colours_written(app.output())
    finally:
        app.close()
    if colours == "no colours":
        assert grey, (environment, forms)
    else:
        assert not grey and SAYS[colours](forms), (environment, colours, forms)
