"""``credhelper wire`` edits the AWS config as text: everything else stays byte for byte."""

from __future__ import annotations

import configparser
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ORIGINAL = (
    "# my precious config\n"
    "[default]\n"
    "region = eu-west-1   ; trailing comment\n"
    "\n"
    "[profile base]\n"
    "output=json\n"
    "\n"
    "[profile admin]\n"
    "role_arn = arn:aws:iam::123456789012:role/admin\n"
    "source_profile = base\n"
    "region = us-west-2\n"
    "# last line without newline"
)
CREDENTIALS = "[base]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = s\n"
CREDHELPER = Path(sys.executable).parent / "credhelper"
LAUNCHER = Path(__file__).resolve().parents[2] / "credhelper" / "launcher.py"


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "config").write_text(ORIGINAL)
    (tmp_path / "credentials").write_text(CREDENTIALS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(tmp_path),
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
    )
    return env


def wire(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CREDHELPER), "wire", *args], env=env, capture_output=True, text=True, timeout=60
    )


def section(path: str, name: str) -> dict[str, str]:
    parser = configparser.RawConfigParser()
    parser.read(path)
    return dict(parser[name])


def test_adds_a_profile_and_keeps_every_other_byte(home):
    result = wire(home, "admin", "--as", "admin-ch")
    assert result.returncode == 0, result.stderr
    text = Path(home["AWS_CONFIG_FILE"]).read_text()
    assert text.startswith(ORIGINAL + "\n")
    added = section(home["AWS_CONFIG_FILE"], "profile admin-ch")
    argv = shlex.split(added["credential_process"])
    # the launcher, run by this environment's python: absolute paths only
    assert argv == [sys.executable, "-I", "-S", str(LAUNCHER), "admin"]
    assert os.path.isabs(argv[0]) and os.path.isabs(argv[3])
    assert added["region"] == "us-west-2"
    assert "admin-ch" in result.stdout


def test_default_name_and_rewiring_updates_in_place(home):
    assert wire(home, "admin").returncode == 0
    first = Path(home["AWS_CONFIG_FILE"]).read_text()
    assert "[profile admin-credhelper]" in first
    # Simulate an install that moved: the same profile is updated, not duplicated.
    moved = first.replace(str(LAUNCHER), "/old/lib/python3.9/site-packages/credhelper/launcher.py")
    Path(home["AWS_CONFIG_FILE"]).write_text(moved)
    result = wire(home, "admin")
    assert result.returncode == 0, result.stderr
    assert "updated" in result.stdout
    assert Path(home["AWS_CONFIG_FILE"]).read_text() == first
    # and a profile wired before the launcher (the console script) is updated to it
    Path(home["AWS_CONFIG_FILE"]).write_text(
        first.replace(
            shlex.join([sys.executable, "-I", "-S", str(LAUNCHER)]), str(CREDHELPER) + " process"
        )
    )
    assert "updated" in wire(home, "admin").stdout
    assert Path(home["AWS_CONFIG_FILE"]).read_text() == first


def test_refuses_to_overwrite_an_unrelated_profile(home):
    result = wire(home, "admin", "--as", "base")
    assert result.returncode == 1
    assert result.stderr.startswith("credhelper: profile 'admin': profile 'base' already exists")
    assert len(result.stderr.strip().splitlines()) == 1
    assert Path(home["AWS_CONFIG_FILE"]).read_text() == ORIGINAL


def test_refuses_itself_and_non_role_profiles(home):
    assert wire(home, "admin", "--as", "admin").returncode == 1
    result = wire(home, "base")
    assert result.returncode == 1 and "not a role profile" in result.stderr
    result = wire(home, "ghost")
    assert result.returncode == 1 and "no such profile" in result.stderr
    assert Path(home["AWS_CONFIG_FILE"]).read_text() == ORIGINAL
    assert "Traceback" not in result.stderr


def test_keeps_crlf_and_file_mode(home):
    path = Path(home["AWS_CONFIG_FILE"])
    path.write_bytes(ORIGINAL.replace("\n", "\r\n").encode())
    path.chmod(0o640)
    assert wire(home, "admin", "--as", "x").returncode == 0
    data = path.read_bytes()
    assert data.startswith(ORIGINAL.replace("\n", "\r\n").encode() + b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert path.stat().st_mode & 0o777 == 0o640


def test_creates_a_missing_config(home, tmp_path):
    home["AWS_CONFIG_FILE"] = str(tmp_path / "new" / "config")
    Path(tmp_path / "credentials").write_text(
        CREDENTIALS + "[r]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = base\n"
    )
    assert wire(home, "r", "--as", "r2").returncode == 0
    assert section(home["AWS_CONFIG_FILE"], "profile r2")["credential_process"].endswith(
        "launcher.py r"
    )
    assert (tmp_path / "new" / "config").stat().st_mode & 0o777 == 0o600
