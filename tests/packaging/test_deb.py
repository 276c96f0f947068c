"""The Debian package (packaging/debian/build): built once, installed with dpkg on this machine,
used through the INSTALLED credhelper against moto (with the e2e fixtures), its systemd user
units verified, and purged leaving nothing behind.

Needs root (dpkg -i / --purge); CI runs the suite as root. Whatever happens, the package is
purged when the tests of this file are done. Under pytest-xdist a file lock keeps two workers
from installing it at once.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest
from filelock import FileLock

# (The e2e fixtures, moto stack, proxy, AWS world, per-worker Secret Service: conftest.py.)
from harness import MotoStack
from harness.awsenv import SEED_ROLE, AwsEnv
from harness.daemon import start_daemon
from packaging_support import Dists

from credhelper import service

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "packaging" / "debian" / "build"
AWS_V1 = str(Path(sys.executable).parent / "aws")
PACKAGE = "credhelper"
BIN = "/usr/bin/credhelper"
PREFIX = Path("/usr/lib/credhelper")
UNITS = Path("/usr/lib/systemd/user")
DOCS = {
    "completions/credhelper.bash": "/usr/share/bash-completion/completions/credhelper",
    "completions/_credhelper": "/usr/share/zsh/vendor-completions/_credhelper",
    "completions/credhelper.fish": "/usr/share/fish/vendor_completions.d/credhelper.fish",
    "man/credhelper.1": "/usr/share/man/man1/credhelper.1.gz",
}
PROFILE = "deb-seed"
WIRED = "deb-wired"

pytestmark = pytest.mark.skipif(
    os.name != "posix" or os.geteuid() != 0,
    reason="installs and purges a .deb with dpkg: needs root (CI runs the suite as root)",
)


def run(argv: list[str], timeout: float = 300, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, **kw)


def installed() -> bool:
    result = run(["dpkg-query", "-W", "-f=${Status}", PACKAGE])
    return result.returncode == 0 and result.stdout.strip() == "install ok installed"


def known_to_dpkg() -> bool:
    """Installed, half-installed, or only its configuration left: dpkg still has a record."""
    return run(["dpkg", "-s", PACKAGE]).returncode == 0


# --- build once, install, purge whatever happens ---------------------------------------------


@pytest.fixture(scope="session")
def deb(tmp_path_factory: pytest.TempPathFactory, dists: Dists, generated: Path) -> Path:
    """The .deb of the session's wheel, with the session's completions and man page."""
    out = tmp_path_factory.mktemp("deb")
    env = {**os.environ, "CREDHELPER_WHEEL": str(dists.wheel)}
    result = run([str(BUILD), str(out), str(generated)], cwd=ROOT, timeout=600, env=env)
    assert result.returncode == 0, f"packaging/debian/build failed:\n{result.stderr[-4000:]}"
    path = Path(result.stdout.strip().splitlines()[-1])
    version = importlib.metadata.version("credhelper")
    assert path.name.startswith(f"credhelper_{version}_") and path.suffix == ".deb", path
    return path


def install(deb: Path) -> None:
    result = run(["dpkg", "-i", str(deb)])
    if result.returncode != 0:  # missing dependencies: let apt bring them
        apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        fixed = run(["apt-get", "install", "-f", "-y", "-q"], env=apt_env, timeout=600)
        assert fixed.returncode == 0 and installed(), (
            f"dpkg -i failed:\n{result.stderr}\napt-get install -f:\n{fixed.stderr}"
        )
    assert installed()


def purge() -> subprocess.CompletedProcess[str]:
    return run(["dpkg", "--purge", PACKAGE])


@pytest.fixture(scope="module")
def package(deb: Path) -> Iterator[list[str]]:
    """The package installed; yields what ``dpkg -L`` lists. Purged afterwards, always."""
    lock = FileLock(os.path.join(tempfile.gettempdir(), "credhelper-test-deb.lock"))
    with lock:
        assert not known_to_dpkg(), (
            "a credhelper package is already on this machine (left by an interrupted run?): "
            "`dpkg --purge credhelper`, then run this again"
        )
        try:
            install(deb)
            listing = run(["dpkg", "-L", PACKAGE]).stdout.splitlines()
            yield listing
        finally:
            if known_to_dpkg():
                purge()


@pytest.fixture
def ready(package: list[str], deb: Path) -> list[str]:
    """Installed for this test (a purge test that ran first in this worker removed it)."""
    if not installed():
        install(deb)
    return package


# --- what it installs ------------------------------------------------------------------------


def test_version_from_usr_bin(ready: list[str]) -> None:
    result = run([BIN, "--version"])
    assert result.returncode == 0, result.stderr
    assert importlib.metadata.version("credhelper") in result.stdout
    assert os.path.realpath(BIN) == str(PREFIX / "bin" / "credhelper")


def test_files_in_place(ready: list[str], generated: Path, deb: Path) -> None:
    for name in service.SYSTEMD_UNITS:
        unit = UNITS / name
        assert unit in map(Path, ready), f"{unit} not in the package"
        # The text `credhelper service install` would write, with the packaged command.
        assert unit.read_text() == service.render(name, [BIN])
    assert "ExecStart=/usr/bin/credhelper daemon" in (UNITS / "credhelper.service").read_text()
    for src, dest in DOCS.items():
        assert dest in ready, f"{dest} missing though {generated / src} was given"
    fields = run(["dpkg-deb", "-f", str(deb), "Architecture", "Depends", "Maintainer"]).stdout
    assert "python3 (>= 3." in fields and "@" not in fields, fields
    # postinst compiled the venv: the bytecode prerm and postrm must remove.
    assert list(PREFIX.glob("lib/python3.*/site-packages/credhelper/__pycache__/*.pyc"))


# --- the seed walk-through through the installed credhelper -----------------------------------


def test_seed_walkthrough_installed(
    ready: list[str], aws_env: AwsEnv, moto_stack: MotoStack, tmp_path: Path
) -> None:
    env = aws_env
    env.add_seed(moto_stack.seed.user_creds, moto_stack.seed.role_arn)
    env.add_profile(PROFILE, credential_process=f"{BIN} process {SEED_ROLE}")
    env.env["CREDHELPER_AUTOSTART"] = "0"
    bucket = moto_stack.seed.bucket

    denied = env.run([AWS_V1, "s3", "ls", "--profile", "account1"])
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr
    listed = env.run([AWS_V1, "s3", "ls", "--profile", PROFILE])
    assert listed.returncode == 0, listed.stderr
    assert bucket in listed.stdout

    # `wire` run from the package writes the package's own interpreter and launcher.
    wired = env.run([BIN, "wire", SEED_ROLE, "--as", WIRED])
    assert wired.returncode == 0, wired.stderr
    line = env.setting(WIRED, "credential_process")
    assert line.startswith(f"{PREFIX}/bin/python -I -S {PREFIX}/lib/python3."), line
    assert line.endswith(f"/site-packages/credhelper/launcher.py {SEED_ROLE}"), line

    script = (
        "import sys, boto3\n"
        "for profile in sys.argv[1:]:\n"
        "    s3 = boto3.Session(profile_name=profile).client('s3')\n"
        "    print(profile, [b['Name'] for b in s3.list_buckets()['Buckets']])\n"
    )
    # In process first, then through the installed daemon (the launcher's fast path).
    result = env.run([sys.executable, "-c", script, PROFILE, WIRED])
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(bucket) == 2, result.stdout
    daemon = start_daemon(env, tmp_path / "daemon.log", argv=[BIN, "daemon"])
    try:
        result = env.run([sys.executable, "-c", script, WIRED])
        assert result.returncode == 0, result.stderr
        assert bucket in result.stdout
        status = env.run([BIN, "status", "--json"])
        assert status.returncode == 0 and SEED_ROLE in status.stdout, status.stderr
    finally:
        assert daemon.terminate() == 0, daemon.log()


# --- the systemd user units ----------------------------------------------------------------


def test_systemd_user_units_verify(ready: list[str], tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze is missing: scripts/bootstrap installs systemd"
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    units = [str(UNITS / name) for name in service.SYSTEMD_UNITS]
    result = run(
        [tool, "--user", "--man=no", "verify", *units],
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "credhelper" not in output, output


# --- purge ----------------------------------------------------------------------------------


def test_purge_leaves_nothing(ready: list[str]) -> None:
    result = purge()
    assert result.returncode == 0, result.stderr
    left = []
    for path in ready:
        if path == "/." or not os.path.lexists(path):
            continue
        # A folder other packages share (/usr/bin, /usr/share/doc...) stays, owned by them.
        shared = os.path.isdir(path) and run(["dpkg-query", "-S", path]).returncode == 0
        if not shared:
            left.append(path)
    assert not left, f"left after purge: {left}"
    assert not PREFIX.exists(), sorted(str(p) for p in PREFIX.rglob("*"))[:20]
    status = run(["dpkg", "-s", PACKAGE])
    assert status.returncode != 0 and "not installed" in status.stderr, status
