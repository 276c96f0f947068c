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


def unwire(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CREDHELPER), "unwire", *args], env=env, capture_output=True, text=True, timeout=60
    )


def botocore_profile(config: str, name: str) -> dict[str, object]:
    """The profile as botocore itself reads it back from the file."""
    import botocore.session

    session = botocore.session.Session(profile=name)
    session.set_config_variable("config_file", config)
    return dict(session.get_scoped_config())


def test_writes_through_a_symlinked_config(home, tmp_path):
    dotfiles = tmp_path / "dotfiles" / "aws"
    dotfiles.mkdir(parents=True)
    target = dotfiles / "config"
    target.write_text(ORIGINAL)
    target.chmod(0o644)
    link = tmp_path / "linked-config"
    link.symlink_to(target)
    home["AWS_CONFIG_FILE"] = str(link)
    assert wire(home, "admin", "--as", "admin-ch").returncode == 0
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert target.read_text().startswith(ORIGINAL + "\n")
    assert "credential_process" in botocore_profile(str(link), "admin-ch")
    assert target.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in dotfiles.iterdir()) == ["config"]  # no temp file left
    assert unwire(home, "admin-ch").returncode == 0
    assert link.is_symlink() and target.read_text() == ORIGINAL


@pytest.mark.parametrize("name", ["a b", " lead", "x]y", "x#y", "x;y", 'q"t', "", "tab\tbed"])
def test_refuses_names_botocore_cannot_read(home, name):
    result = wire(home, "admin", "--as", name)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "botocore cannot read" in result.stderr and "Traceback" not in result.stderr
    assert Path(home["AWS_CONFIG_FILE"]).read_text() == ORIGINAL


def test_refuses_a_role_profile_name_botocore_cannot_read(home):
    Path(home["AWS_CONFIG_FILE"]).write_text(
        ORIGINAL + "\n[profile odd#name]\nrole_arn = arn:aws:iam::123456789012:role/x\n"
        "source_profile = base\n"
    )
    before = Path(home["AWS_CONFIG_FILE"]).read_text()
    result = wire(home, "odd#name", "--as", "fine")
    assert result.returncode == 2 and "'#'" in result.stderr
    assert Path(home["AWS_CONFIG_FILE"]).read_text() == before


def test_names_it_accepts_read_back_through_botocore(home):
    for name in ["admin.ch", "team/admin-ch", "a+b=c:d@e_f"]:
        assert wire(home, "admin", "--as", name).returncode == 0
        resolved = botocore_profile(home["AWS_CONFIG_FILE"], name)
        assert shlex.split(str(resolved["credential_process"]))[-1] == "admin"


SETTINGS = (
    "[profile base]\n"
    "output=json\n"
    "\n"
    "[profile admin]\n"
    "role_arn = arn:aws:iam::123456789012:role/admin\n"
    "source_profile = base\n"
    "mfa_serial = arn:aws:iam::123456789012:mfa/me\n"
    "# a comment of the user\n"
    "output = table\n"
    "cli_pager =\n"
    "ca_bundle = /etc/ssl/corp.pem\n"
    "endpoint_url = http://localhost:4566\n"
    "sts_regional_endpoints = regional\n"
    "s3 =\n"
    "    max_concurrent_requests = 20\n"
    "    addressing_style = path\n"
    "region = ap-south-1\n"
)


def test_carries_the_role_profiles_settings_not_its_credentials(home):
    Path(home["AWS_CONFIG_FILE"]).write_text(SETTINGS)
    assert wire(home, "admin", "--as", "w").returncode == 0
    text = Path(home["AWS_CONFIG_FILE"]).read_text()
    added = text[len(SETTINGS) :]
    # the nested section is copied as text, indentation and all
    assert "s3 =\n    max_concurrent_requests = 20\n    addressing_style = path\n" in added
    wired = botocore_profile(home["AWS_CONFIG_FILE"], "w")
    assert wired["output"] == "table" and wired["cli_pager"] == ""
    assert wired["ca_bundle"] == "/etc/ssl/corp.pem"
    assert wired["endpoint_url"] == "http://localhost:4566"
    assert wired["sts_regional_endpoints"] == "regional"
    assert wired["region"] == "ap-south-1"
    assert wired["s3"] == {"max_concurrent_requests": "20", "addressing_style": "path"}
    for key in ("role_arn", "source_profile", "mfa_serial"):
        assert key not in wired
    assert "a comment of the user" not in added
    # wiring again changes nothing; unwiring gives the file back
    assert wire(home, "admin", "--as", "w").returncode == 0
    assert Path(home["AWS_CONFIG_FILE"]).read_text() == text
    assert unwire(home, "w").returncode == 0
    assert Path(home["AWS_CONFIG_FILE"]).read_text() == SETTINGS


@pytest.mark.parametrize(
    "original",
    [
        ORIGINAL,  # comments, no trailing newline
        ORIGINAL.replace("\n", "\r\n"),  # CRLF
        ORIGINAL + "\n",
        ORIGINAL + "\n\n",
        "",
    ],
    ids=["no-final-newline", "crlf", "final-newline", "blank-last-line", "empty"],
)
def test_wire_then_unwire_round_trips_byte_for_byte(home, original):
    path = Path(home["AWS_CONFIG_FILE"])
    if not original:
        Path(home["AWS_SHARED_CREDENTIALS_FILE"]).write_text(
            CREDENTIALS + "[admin]\nrole_arn = arn:aws:iam::123456789012:role/a\n"
            "source_profile = base\n"
        )
    path.write_bytes(original.encode())
    assert wire(home, "admin").returncode == 0
    wired = path.read_bytes()
    assert wire(home, "admin").returncode == 0
    assert path.read_bytes() == wired  # a second wire is a no-op
    result = unwire(home, "admin-credhelper")
    assert result.returncode == 0 and "removed profile 'admin-credhelper'" in result.stdout
    assert path.read_bytes() == original.encode()
    again = unwire(home, "admin-credhelper")
    assert again.returncode == 0 and "nothing to remove" in again.stdout
    assert path.read_bytes() == original.encode()


def test_unwire_keeps_what_follows_the_wired_profile(home):
    path = Path(home["AWS_CONFIG_FILE"])
    assert wire(home, "admin", "--as", "mid").returncode == 0
    later = "\n# the user's own, added later\n[profile later]\noutput = text\n"
    path.write_text(path.read_text() + later)
    assert unwire(home, "mid").returncode == 0
    assert path.read_text() == ORIGINAL + "\n" + later


def test_unwire_refuses_a_profile_wire_did_not_write(home):
    for name in ("base", "admin"):
        result = unwire(home, name)
        assert result.returncode == 1
        assert result.stderr.startswith(f"credhelper: profile '{name}': not a profile")
        assert len(result.stderr.strip().splitlines()) == 1
    assert Path(home["AWS_CONFIG_FILE"]).read_text() == ORIGINAL
