"""Where the policy comes from: --policy, RINGROUND_POLICY, /etc, the user's folder, defaults.

The server's file (/etc/ringround/policy.toml) is moved into a temporary
folder for these tests (storage.policy_files.SYSTEM_POLICY), so that nothing
is written to the real /etc.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cli.main import main
from storage import policy_files
from storage.policy import PolicyError, default_policy
from storage.policy_files import (
    DEFAULTS,
    ENVIRONMENT,
    GIVEN,
    SYSTEM,
    USER,
    default_text,
    find_policy,
)

ROOT = Path(__file__).resolve().parents[2]


def _policy(path: Path, language: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'language = "{language}"\n', encoding="utf-8")
    return path


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A policy file in each place of the lookup, each with its own language."""
    system = tmp_path / "etc" / "ringround" / "policy.toml"
    monkeypatch.setattr(policy_files, "SYSTEM_POLICY", system)
    return {
        "given": _policy(tmp_path / "given.toml", "en"),
        "environment": _policy(tmp_path / "env.toml", "en"),
        "system": _policy(system, "en"),
        "user": _policy(tmp_path / "config" / "ringround" / "policy.toml", "en"),
    }


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "config"), **extra}


def test_the_lookup_order(places: dict[str, Path], tmp_path: Path) -> None:
    env = _env(tmp_path, RINGROUND_POLICY=str(places["environment"]))
    choice = find_policy(str(places["given"]), env)
    assert (choice.path, choice.found_by) == (places["given"], GIVEN)
    choice = find_policy(None, env)
    assert (choice.path, choice.found_by) == (places["environment"], ENVIRONMENT)
    env["RINGROUND_POLICY"] = ""  # set but empty: as if unset
    choice = find_policy(None, env)
    assert (choice.path, choice.found_by) == (places["system"], SYSTEM)
    places["system"].unlink()
    choice = find_policy(None, env)
    assert (choice.path, choice.found_by) == (places["user"], USER)
    places["user"].unlink()
    choice = find_policy(None, env)
    assert (choice.path, choice.found_by) == (None, DEFAULTS)
    assert choice.load() == default_policy()
    assert choice.looked_in == (places["system"], places["user"])


def test_the_user_folder_is_xdg_config_home_else_dot_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(policy_files, "SYSTEM_POLICY", tmp_path / "none.toml")
    home = tmp_path / "home"
    mine = _policy(home / ".config" / "ringround" / "policy.toml", "en")
    # No XDG_CONFIG_HOME, or a relative one (which the XDG rules say to ignore): ~/.config.
    for env in ({"HOME": str(home)}, {"HOME": str(home), "XDG_CONFIG_HOME": "rel/config"}):
        assert find_policy(None, env).path == mine
    assert (
        find_policy(None, {"HOME": str(home), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}).path
        is None
    )


def test_a_system_policy_that_cannot_be_read_is_an_error_not_skipped(
    places: dict[str, Path], tmp_path: Path
) -> None:
    """Falling through to the user's file would let an operator choose their own rules."""
    places["system"].unlink()
    places["system"].mkdir()
    choice = find_policy(None, _env(tmp_path))
    assert choice.found_by == SYSTEM
    with pytest.raises(PolicyError, match="this is a folder, not a policy file"):
        choice.load()


def test_commands_use_the_system_policy(
    places: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    places["system"].write_text('[security]\nsupervisors = ["nobody-here"]\n', encoding="utf-8")
    for name, value in _env(tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("RINGROUND_POLICY", raising=False)
    assert main(["policy"]) == 0
    assert capsys.readouterr().out == (
        f"The policy {places['system']} (the server's policy) is valid.\n"
    )
    db = tmp_path / "clinic.db"
    main(["demo", "--no-run", "--clients", "10", "--db", str(db)])
    capsys.readouterr()
    main(["check", "--db", str(db)])
    first = capsys.readouterr().out.splitlines()[0]
    assert first == f"ok       The policy {places['system']} (the server's policy) is valid."


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("given", "(given with --policy)"),
        ("environment", "(named by RINGROUND_POLICY)"),
        ("user", "(your own policy, in your configuration folder)"),
    ],
)
def test_check_names_the_policy_it_used(
    places: dict[str, Path],
    tmp_path: Path,
    how: str,
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    places["system"].unlink()
    for name, value in _env(tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("RINGROUND_POLICY", raising=False)
    args = ["check", "--db", str(tmp_path / "none.db")]
    if how == "given":
        args += ["--policy", str(places["given"])]
    elif how == "environment":
        monkeypatch.setenv("RINGROUND_POLICY", str(places["environment"]))
    main(args)
    first = capsys.readouterr().out.splitlines()[0]
    assert first == f"ok       The policy {places[how]} {expected} is valid."


def test_check_says_when_the_built_in_defaults_apply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RINGROUND_POLICY", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    main(["check", "--db", str(tmp_path / "none.db")])
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (
        f"ok       No policy file was given, and there is none in {policy_files.SYSTEM_POLICY}, "
        f"{tmp_path / 'config' / 'ringround' / 'policy.toml'}; the built-in defaults apply "
        "('ringround policy --default' prints them)."
    )


def test_a_bad_policy_found_in_its_place_stops_the_command(
    places: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    places["system"].write_text("langauge = 'en'\n", encoding="utf-8")
    monkeypatch.delenv("RINGROUND_POLICY", raising=False)
    assert main(["policy"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ringround: {places['system']}: unknown key langauge")
    assert err.count("\n") == 1


def test_policy_default_prints_the_documented_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "--default"]) == 0
    printed = capsys.readouterr().out
    assert printed == (ROOT / "policy.toml").read_text(encoding="utf-8")
    assert printed == default_text()


def test_the_packaged_policy_is_the_documented_one() -> None:
    """storage/policy.toml ships in the wheel; policy.toml at the top is the one people read."""
    packaged = (ROOT / "storage" / "policy.toml").read_bytes()
    assert packaged == (ROOT / "policy.toml").read_bytes(), (
        "copy policy.toml to storage/policy.toml: they must stay the same"
    )


def test_the_wheel_carries_the_policy(tmp_path: Path) -> None:
    """A wheel install has no source tree: the default policy must be inside the package."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("ringround-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("storage/policy.toml") == (ROOT / "policy.toml").read_bytes()
