"""The generated completions: bash completes commands and profile names (read from the AWS
config by awk), zsh and fish accept their files, fish completes the same."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from packaging_support import commands

CONFIG = """\
[default]
region = eu-west-1

[profile admin]
role_arn = arn:aws:iam::123456789012:role/admin
source_profile = default
  [profile  dev-ch ]
credential_process = credhelper process admin
[sso-session corp]
sso_region = eu-west-1
[services local]
"""
PROFILES = ["admin", "default", "dev-ch"]


def shell(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed: run scripts/bootstrap"
    return path


@pytest.fixture
def aws_config(tmp_path: Path) -> Path:
    path = tmp_path / "config"
    path.write_text(CONFIG)
    return path


def completion_env(aws_config: Path) -> dict[str, str]:
    """A shell's environment with only the AWS config the completions read profiles from."""
    home = str(aws_config.parent)
    return {"PATH": "/usr/bin:/bin", "HOME": home, "AWS_CONFIG_FILE": str(aws_config)}


def bash_complete(generated: Path, aws_config: Path, *words: str) -> list[str]:
    """COMPREPLY for the command line ``words`` (the last one being completed), as bash's
    programmable completion would call the function ``complete -p credhelper`` names."""
    script = f"""
        source {generated / "completions" / "credhelper.bash"}
        spec=$(complete -p credhelper)
        fn=${{spec#*-F }}; fn=${{fn%% *}}
        COMP_WORDS=("$@"); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))
        COMP_LINE="$*"; COMP_POINT=${{#COMP_LINE}}
        "$fn" credhelper "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
        printf '%s\\n' "${{COMPREPLY[@]}}"
    """
    done = subprocess.run(
        [shell("bash"), "--norc", "--noprofile", "-c", script, "bash", *words],
        capture_output=True,
        text=True,
        env=completion_env(aws_config),
        timeout=30,
    )
    assert done.returncode == 0 and not done.stderr, done.stderr
    return sorted(w for w in done.stdout.splitlines() if w)


def test_bash_completes_every_command(generated: Path, aws_config: Path) -> None:
    assert bash_complete(generated, aws_config, "credhelper", "") == sorted(commands())
    assert bash_complete(generated, aws_config, "credhelper", "--debug", "pro") == ["process"]


def test_bash_completes_profile_names_from_the_aws_config(
    generated: Path, aws_config: Path
) -> None:
    assert bash_complete(generated, aws_config, "credhelper", "process", "") == PROFILES
    assert bash_complete(generated, aws_config, "credhelper", "process", "ad") == ["admin"]
    # one PROFILE only; an option's value is no profile; --as NAME then PROFILE
    assert bash_complete(generated, aws_config, "credhelper", "process", "admin", "") == []
    assert bash_complete(generated, aws_config, "credhelper", "process", "--min-ttl", "") == []
    assert bash_complete(generated, aws_config, "credhelper", "wire", "--as", "x", "") == PROFILES
    assert bash_complete(generated, aws_config, "credhelper", "daemon", "") == ["run", "stop"]


def test_bash_profiles_come_from_the_default_config_without_aws_config_file(
    generated: Path, aws_config: Path
) -> None:
    home = aws_config.parent
    (home / ".aws").mkdir()
    (home / ".aws" / "config").write_text("[profile home-only]\n")
    script = f"""
        source {generated / "completions" / "credhelper.bash"}
        _credhelper_profiles
    """
    done = subprocess.run(
        [shell("bash"), "--norc", "-c", script],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(home)},
        timeout=30,
    )
    assert done.stdout.split() == ["home-only"]


def test_zsh_accepts_its_completion(generated: Path) -> None:
    done = subprocess.run(
        [shell("zsh"), "-n", str(generated / "completions" / "_credhelper")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0 and not done.stderr, done.stderr


def test_fish_accepts_its_completion_and_completes(generated: Path, aws_config: Path) -> None:
    path = generated / "completions" / "credhelper.fish"
    done = subprocess.run(
        [shell("fish"), "-n", str(path)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0 and not done.stderr, done.stderr
    script = f"""
        source {path}
        for line in 'credhelper ' 'credhelper process ' 'credhelper process admin '
            echo "=$line"
            complete -C "$line" | string split -f1 \\t
        end
        true
    """
    done = subprocess.run(
        [shell("fish"), "--no-config", "-c", script],
        capture_output=True,
        text=True,
        env=completion_env(aws_config),
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    blocks = {}
    for chunk in done.stdout.split("=credhelper")[1:]:
        head, *rest = chunk.split("\n")
        blocks["credhelper" + head] = sorted(w for w in rest if w)
    assert blocks["credhelper "] == sorted(commands())
    assert blocks["credhelper process "] == PROFILES
    assert blocks["credhelper process admin "] == []
