"""The single file (packaging/single_file/build: credhelper.pyz) serves the seed walk-through:
a profile whose credential_process is the file, the AWS CLI v1 and boto3 listing the seed
bucket through it, the second call a daemon hit (the daemon the file itself started), a hit
importing only the standard library and credhelper's lean client (real moto, Secret Service).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from harness.awsenv import SEED_ROLE, AwsEnv
from harness.daemon import socket_path, wait_until
from packaging_support import Dists

ROOT = Path(__file__).resolve().parents[2]
VIA_FILE = "via-single-file"

#: All of credhelper a daemon hit of the zipapp may import: the wired launcher's
#: (tests/e2e/test_launcher.py). Beyond them, the standard library only (runpy and what it
#: stands on: running a zipapp is ``runpy``'s job), nothing of the payload's dependencies.
HIT = {"credhelper", "credhelper.lean_client", "credhelper.rundir", "credhelper.recursion"}


@pytest.fixture(scope="session")
def pyz(tmp_path_factory: pytest.TempPathFactory, dists: Dists) -> Path:
    """credhelper.pyz, built once from the session's wheel (its shipped shebang)."""
    out = tmp_path_factory.mktemp("single-file")
    done = subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "single_file" / "build.py"), str(out)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "CREDHELPER_WHEEL": str(dists.wheel)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"MB  credhelper\.pyz$", done.stdout, re.M), done.stdout
    return out / "credhelper.pyz"


def _imported(stderr: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"import time:\s+\d+\s+\|\s+\d+\s+\|\s+(\S+)", stderr)}


def test_version_is_the_projects(pyz: Path, tmp_path: Path) -> None:
    found = re.search(r'^version = "([^"]+)"$', (ROOT / "pyproject.toml").read_text(), re.M)
    assert found
    version = found.group(1)
    done = subprocess.run([str(pyz), "--version"], capture_output=True, text=True, timeout=60,
                          env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert (done.returncode, done.stdout.strip()) == (0, f"credhelper {version}"), done.stderr


def test_seed_walkthrough_through_the_single_file(
    pyz: Path, seed_env: AwsEnv, proxy, moto_stack
) -> None:
    env = seed_env
    env.env["CREDHELPER_AUTOSTART"] = "1"  # the file starts its own daemon
    env.add_profile(VIA_FILE, credential_process=f"{pyz} process {SEED_ROLE}",
                    region="us-east-1")
    bucket = moto_stack.seed.bucket

    cli = env.run([str(Path(sys.executable).with_name("aws")), "s3", "ls", "--profile",
                   VIA_FILE], timeout=120)  # the first call also unpacks the payload
    assert cli.returncode == 0, cli.stderr
    assert bucket in cli.stdout
    assert proxy.count("AssumeRole") == 1
    wait_until(lambda: socket_path(env).exists(), 20, what="the daemon the file started")

    script = (
        "import boto3\n"
        f"s3 = boto3.Session(profile_name={VIA_FILE!r}).client('s3')\n"
        "print([b['Name'] for b in s3.list_buckets()['Buckets']])\n"
    )
    sdk = env.run([sys.executable, "-c", script])
    assert sdk.returncode == 0, sdk.stderr
    assert bucket in sdk.stdout
    assert proxy.count("AssumeRole") == 1  # the daemon's session, not a second STS call

    status = env.run(["credhelper", "status", "--json"])
    assert status.returncode == 0, status.stderr
    assert [p["profile"] for p in json.loads(status.stdout)["profiles"]] == [SEED_ROLE]

    # A hit imports the wired launcher's few modules: nothing from the payload's dependencies.
    python = shutil.which("python3", path=env.env["PATH"])  # the shebang's
    assert python
    hit = env.run([python, "-I", "-S", "-X", "importtime", str(pyz), "process", SEED_ROLE])
    floor = env.run([python, "-I", "-S", "-X", "importtime", "-c", "pass"])
    assert hit.returncode == 0, hit.stderr
    assert "credhelper.lean_client" in _imported(hit.stderr)
    extra = _imported(hit.stderr) - _imported(floor.stderr)
    stdlib = {m for m in extra if m.split(".")[0] in sys.stdlib_module_names}
    assert extra - stdlib <= HIT, extra - stdlib - HIT
    assert "json" not in stdlib and "socket" not in stdlib  # the lean client's, not hotpath's
    assert json.loads(hit.stdout)["AccessKeyId"]

    # `wire` run from the file writes the file as the credential_process.
    wired = env.run([str(pyz), "wire", SEED_ROLE, "--as", "wired-by-file"])
    assert wired.returncode == 0, wired.stderr
    line = shlex.split(env.setting("wired-by-file", "credential_process"))
    assert line[1:] == ["-I", "-S", str(pyz), "process", SEED_ROLE], line
    again = env.run(line)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == json.loads(hit.stdout)
    assert proxy.count("AssumeRole") == 1


def test_an_unpacked_folder_others_can_write_to_is_refused(pyz: Path, tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    first = subprocess.run([str(pyz), "--version"], capture_output=True, text=True, env=env,
                           timeout=120)
    assert first.returncode == 0, first.stderr
    (unpacked,) = (tmp_path / ".cache" / "credhelper" / "pyz").iterdir()
    unpacked.chmod(0o777)
    refused = subprocess.run([str(pyz), "--version"], capture_output=True, text=True, env=env,
                             timeout=60)
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert refused.stderr.startswith(f"credhelper: not running from {unpacked}: ")
