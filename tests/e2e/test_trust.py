"""Another local user must not be able to stand in for the daemon.

Each test plays the attack for real: a second uid, created here as root, prepares the shared
temporary folder the way an attacker would (creates the runtime folder first, owns a folder
above it, plants a symlink, listens on the socket) and runs a fake daemon that hands out its
own credentials. The victim's ``credhelper process`` must not send it anything, must resolve
in-process (so the SDK still gets the victim's real session), must say why on stderr, and
``credhelper daemon`` must refuse to start there.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest
from harness import MotoStack
from harness.awsenv import AwsEnv
from harness.daemon import start_daemon, wait_until

ROLE_PROFILE = "s3fullaccess-user1-role"
#: One user per pytest process ("chattacker-PID"), so that two xdist workers, or two runs at
#: once, never add or delete the same user under each other.
ATTACKER = f"chattacker-{os.getpid()}"
FAKE_KEY = "ASIAATTACKERATTACKER"
#: What `credhelper wire` writes as credential_process, without the profile.
LAUNCHER = [
    sys.executable,
    "-I",
    "-S",
    str(Path(__file__).resolve().parents[2] / "credhelper" / "launcher.py"),
]

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("useradd") is None or shutil.which("setpriv") is None,
    reason="needs root, useradd and setpriv to play a second local user",
)

#: A fake daemon: listens where it is told, records what it receives, answers with its keys.
FAKE_DAEMON = r"""
import json, os, socket, sys
path, record = sys.argv[1], sys.argv[2]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.bind(path)
os.chmod(path, 0o777)
sock.listen(16)
open(record + ".ready", "w").close()
reply = {"v": 1, "ok": True, "credentials": {
    "Version": 1, "AccessKeyId": "ASIAATTACKERATTACKER", "SecretAccessKey": "attacker",
    "SessionToken": "attacker", "Expiration": "2099-01-01T00:00:00Z"}}
while True:
    conn, _ = sock.accept()
    conn.settimeout(5)
    try:
        data = conn.recv(65536)
    except OSError:
        data = b""
    with open(record, "ab") as out:
        out.write(b"CONNECTION " + data + b"\n")
    try:
        conn.sendall(json.dumps(reply).encode() + b"\n")
    except OSError:
        pass
    conn.close()
"""


@pytest.fixture(scope="session")
def attacker() -> Iterator[tuple[int, int]]:
    """(uid, gid) of a second local user, created for the test run and removed after."""
    created = subprocess.run(["id", "-u", ATTACKER], capture_output=True).returncode != 0
    if created:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", ATTACKER],
            check=True,
        )
    uid = int(subprocess.check_output(["id", "-u", ATTACKER]))
    gid = int(subprocess.check_output(["id", "-g", ATTACKER]))
    yield uid, gid
    if created:
        subprocess.run(["userdel", ATTACKER], check=False)


def as_attacker(argv: list[str], **kw) -> subprocess.Popen:
    return subprocess.Popen(
        ["setpriv", f"--reuid={ATTACKER}", f"--regid={ATTACKER}", "--clear-groups", *argv],
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        cwd="/",
        **kw,
    )


def run_as_attacker(argv: list[str]) -> None:
    proc = as_attacker(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out


class Shared:
    """A world-writable sticky folder standing in for /tmp (TMPDIR), with the fake daemon."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.record = root / "record"
        self.fakes: list[subprocess.Popen] = []

    def fake_daemon(self, socket_path: Path) -> None:
        """The attacker listens on ``socket_path`` (as the attacker)."""
        proc = as_attacker(
            ["/usr/bin/python3", "-c", FAKE_DAEMON, str(socket_path), str(self.record)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.fakes.append(proc)
        wait_until(lambda: Path(str(self.record) + ".ready").exists(), 10, what="fake daemon")

    def received(self) -> bytes:
        return self.record.read_bytes() if self.record.exists() else b""

    def close(self) -> None:
        for proc in self.fakes:
            proc.kill()
            proc.wait()


@pytest.fixture
def shared(attacker) -> Iterator[Shared]:
    root = Path(tempfile.mkdtemp(prefix="chshared-"))
    os.chmod(root, 0o1777)
    # The attacker's files (the record) go in a folder of theirs.
    box = Shared(root)
    run_as_attacker(["mkdir", "-m", "0755", str(root / "attacker")])
    box.record = root / "attacker" / "record"
    yield box
    box.close()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def victim(aws_env: AwsEnv, moto_stack: MotoStack, shared: Shared) -> AwsEnv:
    """The seed's role profile, for a user with no private XDG_RUNTIME_DIR and TMPDIR at the
    shared folder: the fallback runtime folder is ``$TMPDIR/runtime-0/credhelper``."""
    seed = moto_stack.seed
    aws_env.add_credentials("account1", seed.user_creds)
    aws_env.add_profile("account1", region="us-east-1")
    aws_env.add_profile(ROLE_PROFILE, role_arn=seed.role_arn, source_profile="account1")
    aws_env.env.pop("XDG_RUNTIME_DIR")
    aws_env.env["TMPDIR"] = str(shared.root)
    aws_env.env["CREDHELPER_AUTOSTART"] = "1"
    if Path(f"/run/user/{os.geteuid()}").exists():
        pytest.skip("/run/user/UID exists here: the shared-tmp fallback is not used")
    return aws_env


def fallback(shared: Shared) -> Path:
    return shared.root / f"runtime-{os.geteuid()}" / "credhelper"


def assert_served_in_process(env: AwsEnv, shared: Shared, moto: MotoStack, reason: str) -> str:
    """The victim's call: its own role session, nothing sent to the fake, one warning."""
    result = env.run(["credhelper", "process", ROLE_PROFILE])
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["AccessKeyId"] != FAKE_KEY
    assert f":assumed-role/{moto.seed.role_name}/" in moto.caller_arn(doc)
    assert shared.received() == b"", "the victim talked to the fake daemon"
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "not using the credhelper daemon" in lines[0], lines
    assert reason in lines[0], lines
    assert "Traceback" not in result.stderr
    # The launcher (what `credhelper wire` writes) checks the same and hands over: the same.
    launched = env.run([*LAUNCHER, ROLE_PROFILE])
    assert (launched.returncode, launched.stderr) == (0, result.stderr)
    assert json.loads(launched.stdout)["AccessKeyId"] == doc["AccessKeyId"]  # the keyring's
    assert shared.received() == b"", "the launcher talked to the fake daemon"
    return lines[0]


def assert_daemon_refuses(env: AwsEnv, reason: str) -> None:
    result = env.run(["credhelper", "daemon"], timeout=30)
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("credhelper: "), lines
    assert "not safe to use" in lines[0] and reason in lines[0], lines


def test_a_fallback_folder_created_first_by_another_user_is_refused(
    victim, shared, moto_stack, proxy
):
    folder = fallback(shared)
    run_as_attacker(["mkdir", "-m", "0700", str(folder.parent)])
    run_as_attacker(["mkdir", "-m", "0700", str(folder)])
    shared.fake_daemon(folder / "daemon.sock")
    line = assert_served_in_process(victim, shared, moto_stack, "belongs to someone else")
    assert str(folder.parent) in line
    assert_daemon_refuses(victim, "belongs to someone else")
    assert shared.received() == b""


def test_a_folder_above_owned_by_another_user_is_refused(
    victim, shared, moto_stack, proxy, attacker
):
    # The attacker owns TMPDIR itself; the victim's own folders in it are not enough.
    owned = shared.root / "attacker" / "tmp"
    run_as_attacker(["mkdir", "-m", "0755", str(owned)])
    victim.env["TMPDIR"] = str(owned)
    folder = owned / f"runtime-{os.geteuid()}" / "credhelper"
    os.makedirs(folder, mode=0o700)  # made by the victim (root): owned by the victim
    os.chmod(folder.parent, 0o700)
    # The attacker listens; the test moves the socket into the victim's folder and makes it
    # look like the victim's (the attacker could rename folders in a parent it owns).
    staging = shared.root / "attacker" / "s.sock"
    shared.fake_daemon(staging)
    os.rename(staging, folder / "daemon.sock")
    os.chown(folder / "daemon.sock", 0, 0)
    line = assert_served_in_process(victim, shared, moto_stack, "belongs to someone else")
    assert str(owned) in line
    assert_daemon_refuses(victim, "belongs to someone else")


def test_a_planted_symlink_is_refused(victim, shared, moto_stack, proxy):
    # runtime-0 is the attacker's symlink to a folder of theirs holding the fake daemon.
    theirs = shared.root / "attacker" / "rt"
    run_as_attacker(["mkdir", "-m", "0700", str(theirs)])
    run_as_attacker(["mkdir", "-m", "0700", str(theirs / "credhelper")])
    run_as_attacker(["ln", "-s", str(theirs), str(fallback(shared).parent)])
    shared.fake_daemon(theirs / "credhelper" / "daemon.sock")
    assert_served_in_process(victim, shared, moto_stack, "is a symlink")
    assert_daemon_refuses(victim, "is a symlink")
    assert shared.received() == b""


def test_a_listener_of_another_uid_is_refused_by_its_peer_credentials(
    victim, shared, moto_stack, proxy
):
    # Every folder is the victim's and private, and the socket file too: only the kernel's
    # word on who listens (SO_PEERCRED) tells the fake apart.
    folder = fallback(shared)
    os.makedirs(folder, mode=0o700)
    os.chmod(folder.parent, 0o700)
    staging = shared.root / "attacker" / "s.sock"
    shared.fake_daemon(staging)  # bound by the attacker, then moved in: it still listens
    os.rename(staging, folder / "daemon.sock")
    os.chown(folder / "daemon.sock", 0, 0)
    result = victim.run(["credhelper", "process", ROLE_PROFILE])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["AccessKeyId"] != FAKE_KEY
    assert "runs as uid" in result.stderr and "not using the credhelper daemon" in result.stderr
    # it connected (that is how the kernel tells), but sent nothing
    wait_until(lambda: b"CONNECTION" in shared.received(), 5, what="the fake's record")
    assert shared.received().strip() == b"CONNECTION"
    # The launcher: its own SO_PEERCRED check, then the full command line's (two connections,
    # nothing sent on either), and the same answer and warning.
    launched = victim.run([*LAUNCHER, ROLE_PROFILE])
    assert (launched.returncode, launched.stderr) == (0, result.stderr)
    assert json.loads(launched.stdout)["AccessKeyId"] != FAKE_KEY
    wait_until(lambda: shared.received().count(b"CONNECTION") == 3, 5, what="the record")
    assert shared.received().split() == [b"CONNECTION"] * 3


def test_a_non_private_xdg_runtime_dir_is_warned_about_and_not_used(
    victim, shared, moto_stack, proxy, tmp_path
):
    open_dir = Path(tempfile.mkdtemp(prefix="chxdg-"))
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, open_dir, True)
        os.chmod(open_dir, 0o755)
        victim.env["XDG_RUNTIME_DIR"] = str(open_dir)
        victim.env["CREDHELPER_AUTOSTART"] = "0"
        log = tmp_path / "daemon.log"
        d = start_daemon(victim, log, wait=False)
        stack.callback(d.kill)
        # the daemon lives in the fallback folder instead, and says why
        sock = fallback(shared) / "daemon.sock"
        wait_until(sock.exists, 30, what="the daemon's socket in the fallback folder")
        wait_until(lambda: "is not a private folder" in log.read_text(), 10, what="log line")
        assert not (open_dir / "credhelper").exists()
        t0 = time.monotonic()
        result = victim.run(["credhelper", "process", ROLE_PROFILE])
        assert result.returncode == 0, result.stderr
        assert time.monotonic() - t0 < 20
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and "XDG_RUNTIME_DIR" in lines[0], lines
        assert "is not a private folder" in lines[0]
        launched = victim.run([*LAUNCHER, ROLE_PROFILE])  # hands over: the warning once
        assert (launched.returncode, launched.stderr) == (0, result.stderr)
        assert json.loads(launched.stdout) == json.loads(result.stdout)
        status = json.loads(victim.run(["credhelper", "status", "--json"]).stdout)
        assert status["daemon"]["pid"] == d.pid  # served by the daemon in the fallback folder
        assert status["profiles"][0]["profile"] == ROLE_PROFILE
        assert d.terminate() == 0


def test_the_daemon_is_not_dumpable_and_keeps_no_core(attacker, tmp_path, shared):
    """As ssh-agent: PR_SET_DUMPABLE 0 (its /proc files then belong to root, so another
    process of the same user cannot read its memory) and no core file."""
    uid, _gid = attacker
    home = shared.root / "attacker" / "home"
    run_as_attacker(["mkdir", "-m", "0700", str(home)])
    runtime = shared.root / "attacker" / "run"
    run_as_attacker(["mkdir", "-m", "0700", str(runtime)])
    venv_bin = Path(sysconfig.get_path("scripts"))
    proc = subprocess.Popen(
        [
            "setpriv",
            f"--reuid={ATTACKER}",
            f"--regid={ATTACKER}",
            "--clear-groups",
            str(venv_bin / "credhelper"),
            "daemon",
        ],
        env={
            "PATH": f"{venv_bin}:/usr/bin:/bin",
            "HOME": str(home),
            "XDG_RUNTIME_DIR": str(runtime),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            "LANG": "C.UTF-8",
        },
        cwd="/",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(
            lambda: (runtime / "credhelper" / "daemon.sock").exists() or proc.poll() is not None,
            30,
            what="the daemon's socket",
        )
        assert proc.poll() is None, proc.communicate()[0]
        status_owner = os.stat(f"/proc/{proc.pid}/status").st_uid
        limits = Path(f"/proc/{proc.pid}/limits").read_text()
        # the same interpreter, started the same way but dumpable, for contrast
        other = as_attacker(["/usr/bin/python3", "-c", "import time; time.sleep(30)"])
        try:
            wait_until(lambda: os.stat(f"/proc/{other.pid}/status").st_uid == uid, 10)
        finally:
            other.kill()
            other.wait()
        assert status_owner == 0, "the daemon's /proc entries still belong to its user"
        core = next(line for line in limits.splitlines() if line.startswith("Max core file size"))
        assert core.split()[4:6] == ["0", "0"], core
    finally:
        proc.terminate()
        proc.wait(15)
