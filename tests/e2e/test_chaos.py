"""kill -9 at any moment loses nothing and leaves nothing half-written.

A seeded loop of at least 30 SIGKILLs, each landing at a random moment on the daemon, on one
``credhelper process`` caller, or on both, while callers run through the daemon and
in-process, while STS answers slowly (kills land mid-fetch) and while sessions are short
(kills land mid-renewal and mid-keyring-write). After every kill, what a user would notice is
checked: callers that were not killed got valid credentials, the next call for every profile
works within a bounded time (no stale lock), every keyring entry decodes, and no session the
keyring held is gone or older than before.

Everything is real: moto STS behind the counting proxy, gnome-keyring (the loop's own, on a
bus of its own: see harness/secret_service.py), ``credhelper`` and ``credhelper daemon``
subprocesses. ``CREDHELPER_CHAOS_SEED=N`` replays one run's choices
(the timing of a real machine still varies).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import random
import re
import signal
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import pytest
import secretstorage
from harness import ACCOUNT_ID, MotoStack, StsProxy
from harness.awsenv import SEED_ROLE, AwsEnv
from harness.daemon import DaemonProc, send_request, socket_path, start_daemon, wait_until
from harness.keyring_items import entries
from harness.secret_service import SecretService

from credhelper.credentials import Credentials
from credhelper.daemon.scheduler import MIN_RENEW_GAP
from credhelper.store.codec import decode
from credhelper.store.entries import FORMAT

ROLE_PROFILE = SEED_ROLE
#: The seed role again, each with its own role_session_name: separate sessions and locks.
EXTRA_PROFILES = ("chaos-a", "chaos-b", "chaos-c")
PROFILES = (ROLE_PROFILE, *EXTRA_PROFILES)
MIN_KILLS = 30
TARGET_KILLS = 32
#: A bound on the loop, should kills keep missing (callers that finished before the kill).
MAX_ITERATIONS = 90
#: Life of a "short" session (the proxy rewrites STS's Expiration): the daemon renews it
#: 5 s after taking it, callers fetch anew once under half its life is left, so fetches,
#: renewals and their keyring writes happen all the time.
SHORT = 20.0
#: A caller that was not killed, or the next call after a kill, must be done by then.
CALLER_LIMIT = 30.0
NEXT_CALL_LIMIT = 20.0
KILL_DELAY_MAX = 1.5
#: An AssumeRole that arrived this long before a kill may not have been stored yet (the
#: proxy's delays are at most 1.2 s; the answer's keyring write takes milliseconds).
LOST_WINDOW = 3.5
KEYRING_WARNING = "credhelper: warning: the OS keyring is not usable ("
DOC_KEYS = {"Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
EXPIRATION_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def check_document(text: str, what: str) -> dict:
    """A credential_process document a user's SDK accepts, not yet expired."""
    try:
        doc = json.loads(text)
    except ValueError:
        raise AssertionError(f"{what}: not JSON on stdout: {text!r}") from None
    assert isinstance(doc, dict) and set(doc) == DOC_KEYS, (what, doc)
    assert doc["Version"] == 1, (what, doc)
    for key in ("AccessKeyId", "SecretAccessKey", "SessionToken"):
        assert isinstance(doc[key], str) and doc[key], (what, key)
    assert EXPIRATION_RE.match(doc["Expiration"]), (what, doc["Expiration"])
    assert parse_time(doc["Expiration"]) > datetime.now(timezone.utc), (what, doc["Expiration"])
    return doc


# --- the keyring, read directly -------------------------------------------------------------


def read_entries(service: str) -> dict[str, str]:
    """harness.keyring_items.entries, asked again when gnome-keyring is caught mid-replace
    (an item found by the search is gone, or has no attributes yet, when read)."""
    from secretstorage.exceptions import SecretStorageException

    for _ in range(20):
        try:
            return entries(service)
        except (KeyError, SecretStorageException):
            time.sleep(0.05)
    return entries(service)


def keyring_state(service: str) -> dict[str, Credentials]:
    """Every entry of ``service`` checked; the sessions decoded, by entry name.

    Raises AssertionError on anything a kill could have left half-written: an entry that is
    not a current document, a session that does not decode, a split entry with a piece
    missing or not matching its checksum, a piece no head entry accounts for.
    """
    raw = read_entries(service)
    heads = {name: value for name, value in raw.items() if "#" not in name}
    pieces = {name for name in raw if "#" in name}
    sessions: dict[str, Credentials] = {}
    claimed: set[str] = set()
    for name, value in heads.items():
        try:
            doc = json.loads(value)
        except ValueError:
            raise AssertionError(f"keyring entry {name} is not JSON: {value[:80]!r}") from None
        assert isinstance(doc, dict) and doc.get("format") == FORMAT, (name, value[:80])
        if "pieces" in doc:  # a split entry: the head names its pieces and their checksum
            count, tag = doc["pieces"], doc["tag"]
            names = [f"{name}#{tag}.{i}" for i in range(1, count + 1)]
            missing = [n for n in names if n not in raw]
            assert not missing, f"split keyring entry {name} lacks {missing}"
            value = "".join(raw[n] for n in names)
            digest = hashlib.sha256(value.encode()).hexdigest()
            assert digest == doc.get("sha256"), f"split keyring entry {name}: checksum mismatch"
            claimed.update(names)
            doc = json.loads(value)
        if name.startswith("session:"):
            try:
                sessions[name] = decode(value)
            except ValueError as exc:
                raise AssertionError(f"keyring entry {name} does not decode: {exc}") from None
        elif name.endswith(":index"):
            names_list = doc.get("profiles")
            assert isinstance(names_list, list), (name, doc)
            assert all(isinstance(n, str) for n in names_list), (name, doc)
    # A piece its head does not claim is left over from a rewrite cut short (new pieces are
    # written before the head moves to them) or from before: harmless only if its head exists;
    # an orphan piece is not.
    for piece in pieces - claimed:
        assert piece.split("#", 1)[0] in heads, f"orphan keyring piece {piece}"
    return sessions


def overlap(start: float, end: float, spans: list[list[float]]) -> float:
    """Seconds of [start, end] within the spans."""
    return sum(max(0.0, min(end, e) - max(start, s)) for s, e in spans)


# --- daemons -------------------------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    """Running (a zombie nobody reaped yet has let go of its locks and socket: not alive)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class Daemons:
    """The one daemon that should be running: one the test started, or one a caller
    autostarted (adopted by its pid). Each test-started daemon logs to its own file."""

    def __init__(self, env: AwsEnv, log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.started: list[DaemonProc] = []
        self.pid: int | None = None
        self.adopted: set[int] = set()
        self.lost_races = 0

    def ping_pid(self) -> int | None:
        try:
            reply = send_request(socket_path(self.env), {"op": "ping"}, timeout=2)
        except (OSError, ValueError):
            return None
        pid = reply.get("pid")
        return pid if isinstance(pid, int) and pid_alive(pid) else None

    def ours(self, pid: int | None) -> DaemonProc | None:
        return next((d for d in self.started if d.pid == pid), None)

    def ensure(self, timeout: float = 30.0) -> int:
        """A daemon that answers: the running one, else a new one (the test's own, or a
        caller's autostarted one that won the race for the single-instance lock)."""
        pid = self.ping_pid()
        if pid is None:
            n = len(self.started) + 1
            mine = start_daemon(self.env, self.log_dir / f"daemon-{n}.log", wait=False)
            self.started.append(mine)

            def answered() -> int | None:
                found = self.ping_pid()
                if found is None and mine.proc.poll() is not None:
                    # lost the single-instance race to an autostarted daemon: wait for that one
                    return None if "already running" in mine.log() else -1
                return found

            pid = wait_until(answered, timeout, what="a daemon to answer ping")
            assert pid != -1, f"daemon exited {mine.proc.returncode}:\n{mine.log()}"
            if pid != mine.pid:
                self.lost_races += 1
        if self.ours(pid) is None:
            self.adopted.add(pid)
        self.pid = pid
        return pid

    def kill(self) -> None:
        """SIGKILL the running daemon and wait until it is gone."""
        assert self.pid is not None
        pid, self.pid = self.pid, None
        os.kill(pid, signal.SIGKILL)
        mine = self.ours(pid)
        if mine is not None:
            mine.proc.wait(10)
        wait_until(lambda: not pid_alive(pid), 10, what=f"daemon {pid} to die")

    def logs(self) -> str:
        """Every daemon's log: the test's own, and the autostarted ones' (the user log)."""
        texts = [d.log() for d in self.started]
        autostarted = self.env.home / ".local" / "state" / "credhelper" / "log" / "daemon.log"
        if autostarted.exists():
            texts.append(autostarted.read_text(errors="replace"))
        return "\n".join(texts)

    def close(self) -> None:
        """The last daemon gets kill -9 too (a SIGTERM is not this test's subject, and one
        that lands while a restarted daemon reloads is lost: see the test at the end);
        every daemon the test started ended by kill -9, or lost the race to start."""
        if self.pid is not None:
            self.kill()
        for d in self.started:
            d.kill()
            code = d.proc.returncode
            assert code == -signal.SIGKILL or (code == 1 and "already running" in d.log()), (
                code,
                d.log(),
            )


# --- callers -------------------------------------------------------------------------------


@dataclass
class Caller:
    profile: str
    how: str  # "daemon", "daemon+autostart" or "in-process"
    proc: subprocess.Popen[str]
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None  # when it exited (stamped by a thread that waits for it)

    def _stamp(self) -> None:
        self.proc.wait()
        self.ended = time.monotonic()


def spawn(env: AwsEnv, profile: str, how: str) -> Caller:
    overrides: dict[str, str | None] = {}
    if how == "in-process":
        overrides["CREDHELPER_NO_DAEMON"] = "1"
    elif how == "daemon+autostart":
        overrides["CREDHELPER_AUTOSTART"] = "1"
    proc = subprocess.Popen(
        ["credhelper", "process", profile],
        env=env.env_with(**overrides),
        cwd=env.root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    caller = Caller(profile, how, proc)
    threading.Thread(target=caller._stamp, daemon=True).start()
    return caller


def finish(caller: Caller, limit: float, context: Callable[[], str] = str) -> tuple[int, str, str]:
    """Wait for a caller; one still running after ``limit`` s fails the test, with where it
    hung (PYTHONFAULTHANDLER is on: SIGABRT dumps every thread's stack to its stderr)."""
    left = max(0.1, caller.started + limit - time.monotonic())
    try:
        out, err = caller.proc.communicate(timeout=left)
    except subprocess.TimeoutExpired:
        caller.proc.send_signal(signal.SIGABRT)
        try:
            out, err = caller.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            caller.proc.kill()
            out, err = caller.proc.communicate()
        raise AssertionError(
            f"credhelper process {caller.profile} ({caller.how}) hung for {limit:g} s; its "
            f"stderr:\n{err}\n{context()}"
        ) from None
    return caller.proc.returncode, out, err


# --- the test ------------------------------------------------------------------------------


@pytest.fixture
def chaos_env(aws_env: AwsEnv, moto_stack: MotoStack) -> AwsEnv:
    """The seed role profile plus three more of the same role; autostart off by default."""
    seed = moto_stack.seed
    aws_env.add_seed(seed.user_creds, seed.role_arn)
    for name in EXTRA_PROFILES:
        aws_env.add_profile(
            name, role_arn=seed.role_arn, source_profile="account1", role_session_name=name
        )
    aws_env.env["CREDHELPER_AUTOSTART"] = "0"
    aws_env.env["PYTHONFAULTHANDLER"] = "1"  # a hung process, sent SIGABRT, shows its stacks
    return aws_env


@pytest.fixture
def daemons(chaos_env: AwsEnv, tmp_path: Path) -> Iterator[Daemons]:
    keeper = Daemons(chaos_env, tmp_path)
    yield keeper
    # After a failure half-way: leave no daemon behind (ours, or one a caller started).
    for d in keeper.started:
        d.kill()
    for pid in (keeper.pid, keeper.ping_pid()):
        if pid is not None and pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def secret_service(
    chaos_env: AwsEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SecretService]:
    """The loop's own gnome-keyring, on its own bus: for its processes and this one's reads."""
    service = SecretService(tmp_path / "secret-service").start()
    chaos_env.env["DBUS_SESSION_BUS_ADDRESS"] = service.address
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", service.address)
    yield service
    service.stop()


def test_kill_9_at_random_moments_loses_nothing_and_leaves_nothing_half_written(
    chaos_env, secret_service: SecretService, daemons, proxy: StsProxy, moto_stack: MotoStack
):
    env = chaos_env
    seed = int(os.environ.get("CREDHELPER_CHAOS_SEED") or random.randrange(2**32))
    print(f"\nchaos seed: {seed} (CREDHELPER_CHAOS_SEED={seed} replays its choices)", flush=True)
    rng = random.Random(seed)
    session_arn = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{moto_stack.seed.role_name}/"
    wall = time.monotonic()
    kills = {"daemon": 0, "caller": 0}
    calls = missed = lost = 0
    short = False
    short_spans: list[list[float]] = []  # [start, end + SHORT] of each short-session phase
    deaths: list[float] = []  # when each daemon died (the next one's life starts there)
    history: list[str] = []
    keyring_warnings: list[str] = []
    crashes: list[str] = []  # gnome-keyring-daemon deaths
    identities: dict[str, str] = {}  # AccessKeyId -> the ARN sts:GetCallerIdentity names
    durations: dict[str, list[float]] = {}  # "daemon" / "in-process" -> how long calls took

    def context() -> str:
        return "\n".join(history[-8:]) + f"\n--- daemon logs (end) ---\n{daemons.logs()[-5000:]}"

    def took(caller: Caller) -> None:
        if caller.ended is not None:
            durations.setdefault(caller.how.split("+")[0], []).append(caller.ended - caller.started)

    def keyring_up(label: str) -> None:
        """gnome-keyring itself died (it can, under this load): not credhelper's doing. Say
        so, and start it again on the same keyring file, so that the loop goes on."""
        if not secret_service.alive():
            crashes.append(f"{label}: {secret_service.log()[-300:]!r}")
            secret_service.restart()

    def state(label: str) -> dict[str, Credentials]:
        """``keyring_state``, read again once if gnome-keyring died under us while reading."""
        keyring_up(label)
        try:
            return keyring_state(env.keyring_service)
        except secretstorage.exceptions.SecretServiceNotAvailableException:
            keyring_up(label)
            return keyring_state(env.keyring_service)

    def served(code: int, out: str, err: str, what: str) -> dict:
        """Exit 0 and a valid document; nothing on stderr but, at most, the one-line warning
        that the Secret Service failed this process (gnome-keyring has transient errors under
        concurrent use: the caller still gets credentials, and says that it cached nothing)."""
        assert code == 0 and "Traceback" not in err, f"{what}: exit {code}, {err}\n{context()}"
        if err:
            lines = err.splitlines()
            assert len(lines) == 1 and lines[0].startswith(KEYRING_WARNING), (what, err)
            keyring_warnings.append(f"{what}: {lines[0]}")
        return check_document(out, what)

    def check_identity(doc: dict, profile: str, what: str) -> None:
        """The credentials work, and are this profile's own session (asked once per key)."""
        key = doc["AccessKeyId"]
        if key not in identities:
            identities[key] = moto_stack.caller_arn(doc)
        arn = identities[key]
        if profile == ROLE_PROFILE:
            assert arn.startswith(session_arn) and arn[len(session_arn) :] not in PROFILES, (
                what,
                arn,
            )
        else:
            assert arn == session_arn + profile, (what, arn)

    def next_calls(label: str) -> None:
        """Every profile's next call works, within NEXT_CALL_LIMIT, and is that profile's."""
        nonlocal calls
        batch = [spawn(env, p, rng.choices(["daemon", "in-process"], [2, 1])[0]) for p in PROFILES]
        calls += len(batch)
        for caller in batch:
            code, out, err = finish(caller, NEXT_CALL_LIMIT, context)
            what = f"{label}: next call for {caller.profile} ({caller.how})"
            check_identity(served(code, out, err, what), caller.profile, what)
            took(caller)

    try:
        daemons.ensure()
        next_calls("start")
        assert len(keyring_state(env.keyring_service)) == len(PROFILES)

        iteration = 0
        while kills["daemon"] + kills["caller"] < TARGET_KILLS:
            iteration += 1
            assert iteration <= MAX_ITERATIONS, f"only {kills} in {MAX_ITERATIONS} rounds"
            label = f"round {iteration}"

            # Short sessions come in phases. Entering one, `credhelper clear` drops every
            # cached session, so that the next calls fetch short ones and renewals start.
            if iteration == 1 or rng.random() < 0.2:
                want_short = rng.random() < 0.65
                if want_short and not short:
                    proxy.rewrite_expiration(SHORT, {"AssumeRole"})
                    result = env.run(["credhelper", "clear"])
                    assert result.returncode == 0, result.stderr
                    short = True
                    short_spans.append([time.monotonic(), math.inf])
                    history.append(f"{label}: short sessions from now on")
                elif not want_short and short:
                    proxy.rewrite_expiration(None)
                    short = False
                    # a short session issued just now lives (and is renewed) SHORT s more
                    short_spans[-1][1] = time.monotonic() + SHORT
                    history.append(f"{label}: long sessions from now on")
            before = state(label)

            slow = rng.random() < 0.5
            if slow:  # the next AssumeRole calls hang a while: kills land mid-fetch
                proxy.inject_delay("AssumeRole", rng.uniform(0.2, 1.2), times=rng.randint(1, 3))
            hows = ["daemon+autostart" if rng.random() < 0.3 else "daemon", "in-process"]
            target = rng.choices(["daemon", "caller", "both"], weights=[4, 4, 3])[0]
            # Callers start at random moments over the window (the first at once), so that
            # some are mid-call and some start after the kill (on a dead daemon's socket).
            starts = [0.0] + sorted(
                rng.uniform(0, KILL_DELAY_MAX) for _ in range(rng.randint(1, 4))
            )
            plan = [(at, rng.choice(PROFILES), rng.choices(hows, [2, 1])[0]) for at in starts]
            # The victim caller is drawn first (in-process ones, which take locks and write
            # the keyring, three times as often), then the moment of its kill: at random
            # within a call of its kind seen earlier, after its start. A victim that has
            # finished sooner is a miss. A daemon alone dies at any moment of the window.
            chosen = rng.choices(
                range(len(plan)), [3 if h == "in-process" else 1 for *_, h in plan]
            )[0]
            if target == "daemon":
                delay = rng.uniform(0, KILL_DELAY_MAX)
            else:
                seen = durations.get(plan[chosen][2].split("+")[0], [0.3])[-30:]
                like = seen[int(rng.random() * len(seen))]  # one draw, however many were seen
                delay = plan[chosen][0] + rng.uniform(0, min(like, KILL_DELAY_MAX))
            callers: list[Caller] = []
            victim: Caller | None = None
            t0 = time.monotonic()
            for at, profile, how in sorted([*plan, (delay, "", "kill")], key=lambda e: e[0]):
                # the deliberate random moments: a caller's start, or the kill
                time.sleep(max(0.0, t0 + at - time.monotonic()))
                if how != "kill":
                    callers.append(spawn(env, profile, how))
                    continue
                if target in ("caller", "both"):
                    victim = callers[chosen]
                    if victim.proc.poll() is None:
                        victim.proc.send_signal(signal.SIGKILL)
                if target in ("daemon", "both"):
                    daemons.kill()
                    kills["daemon"] += 1
                    deaths.append(time.monotonic())
                    # fetches it may have had in flight, answered or not, but not yet stored
                    lost += sum(
                        c.action == "AssumeRole" and c.at > time.time() - LOST_WINDOW
                        for c in proxy.calls
                    )
            calls += len(callers)
            history.append(
                f"{label}: kill {target} at {delay:.2f} s; callers "
                f"{[(round(at, 2), p, h) for at, p, h in plan]}{'; slow STS' if slow else ''}"
            )

            for caller in callers:
                code, out, err = finish(caller, CALLER_LIMIT, context)
                keyring_up(label)
                if caller is victim and code == -signal.SIGKILL:
                    kills["caller"] += 1
                    continue
                what = f"{label}: credhelper process {caller.profile} ({caller.how})"
                check_identity(served(code, out, err, what), caller.profile, what)
                took(caller)
            if victim is not None and victim.proc.returncode != -signal.SIGKILL:
                missed += 1  # the victim was done before the kill
                history[-1] += " (the caller was done: missed)"

            # What the user meets next: a daemon again (restarted, or one a caller started),
            # every keyring entry whole, no session lost or older, every profile's next call
            # quick and right.
            daemons.ensure()
            after = state(label)
            for name, creds in before.items():
                assert name in after, f"{label}: keyring session {name} lost\n{context()}"
                assert after[name].expiration >= creds.expiration, f"{label}: {name} older"
            next_calls(label)
            history[-1] += f" [{time.monotonic() - t0:.1f} s]"

        state("end")
        daemons.close()
        deaths.append(time.monotonic())
    finally:
        print("\n".join(history))
    logs = daemons.logs()
    elapsed = time.monotonic() - wall
    total = kills["daemon"] + kills["caller"]
    assume = proxy.count("AssumeRole")
    p = len(PROFILES)
    short_time = sum(min(end, deaths[-1]) - start for start, end in short_spans)
    renewals = sum(  # the most each daemon could renew: see below
        p * math.floor(overlap(born, died, short_spans) / MIN_RENEW_GAP)
        for born, died in zip([wall, *deaths[:-1]], deaths)
    )
    degraded = logs.count("keyring is not usable") + len(keyring_warnings)
    # Where AssumeRole calls come from, each at its most:
    # - each profile's first session, and again after each `credhelper clear`;
    # - while sessions are short: a stored session is handed out until half its life is
    #   left, so per profile at most one fetch per SHORT / 2 for want of a usable one;
    #   and a daemon renews a session no sooner than MIN_RENEW_GAP after taking it, so each
    #   daemon at most once per profile per MIN_RENEW_GAP of its life with short sessions;
    # - fetches lost to a kill (made, but not yet stored), made again: a killed caller's
    #   one, and for a killed daemon every AssumeRole of the last LOST_WINDOW s;
    # - a process whose keyring failed (it says so) fetches without the cache: p at most.
    # A storm (a fetch per caller, retries looping after a kill) goes far past this.
    bound = (
        p * (1 + len(short_spans))
        + p * math.ceil(short_time / (SHORT / 2))
        + renewals
        + lost
        + kills["caller"]
        + p * degraded
    )
    med = {how: round(statistics.median(d), 2) for how, d in durations.items()}
    print(
        f"kills survived: {total} (daemon {kills['daemon']}, callers {kills['caller']}); "
        f"{calls} calls in {iteration} rounds ({missed} caller kills missed: the callers had "
        f"finished; median call {med}); {assume} AssumeRole (bound {bound}); short sessions "
        f"for {short_time:.0f} s; {len(daemons.adopted)} autostarted daemons adopted, "
        f"{daemons.lost_races} start races lost; {len(keyring_warnings)} keyring warnings; "
        f"{len(crashes)} gnome-keyring crashes; {elapsed:.0f} s"
    )
    print("\n".join(keyring_warnings + crashes))
    assert total >= MIN_KILLS
    assert kills["daemon"] > 0 and kills["caller"] > 0
    assert "Traceback" not in logs, logs[-6000:]
    assert assume <= bound


# --- what the loop found ---------------------------------------------------------------------
# Product bugs this loop ran into, each reduced to a small repro, now fixed: the daemon's
# index written by one writer in order and not before the reload is done; a stop during the
# reload honoured; a split keyring entry rewritten under new piece names, the head last.
# Each has its own gnome-keyring too.


def index_profiles(env: AwsEnv) -> list[str]:
    """The profiles the daemon's index in the keyring lists (what a restart reloads)."""
    raw = read_entries(env.keyring_service).get("daemon:index")
    return sorted(json.loads(raw)["profiles"]) if raw else []


def serve_every_profile(env: AwsEnv) -> None:
    for caller in [spawn(env, p, "daemon") for p in PROFILES]:
        code, out, err = finish(caller, NEXT_CALL_LIMIT)
        assert code == 0 and err == "", err
        check_document(out, caller.profile)
    wait_until(lambda: index_profiles(env) == sorted(PROFILES), 10, what="the daemon's index")


def restarted_after_serving(env: AwsEnv, tmp_path: Path, started: list[DaemonProc]) -> DaemonProc:
    """A daemon serves every profile and is killed -9; a new one starts (and reloads)."""
    started.append(start_daemon(env, tmp_path / "daemon-1.log"))
    serve_every_profile(env)
    started[-1].kill()
    started.append(start_daemon(env, tmp_path / "daemon-2.log"))
    return started[-1]


def test_a_daemon_restarted_after_kill_9_still_reloads_every_profile(
    chaos_env, secret_service, tmp_path
):
    env = chaos_env
    started: list[DaemonProc] = []
    try:
        # The second daemon reloads all four from the keyring, and keeps running a while:
        # up to 3 s, or until its index no longer lists them all. Then kill -9.
        restarted_after_serving(env, tmp_path, started)
        wait_until(
            lambda: started[-1].log().count("reloaded from the keyring") == len(PROFILES),
            10,
            what="the second daemon to reload every profile",
        )
        shrunk: list[list[str]] = []
        with contextlib.suppress(AssertionError):
            wait_until(
                lambda: shrunk.append(index_profiles(env)) or shrunk[-1] != sorted(PROFILES),
                3,
                what="(nothing: the index keeps every profile)",
            )
        started[-1].kill()
        # What a user sees after the next restart: every profile held again, from the keyring.
        started.append(start_daemon(env, tmp_path / "daemon-3.log"))

        def held() -> list[str] | None:
            rows = started[-1].status()["profiles"]
            names = sorted(r["profile"] for r in rows if r["source"] == "keyring")
            return names if names == sorted(PROFILES) else None

        try:
            wait_until(held, 5, what="the third daemon to hold every profile")
        except AssertionError:
            rows = started[-1].status()["profiles"]
            raise AssertionError(
                f"after two restarts the daemon holds {[r['profile'] for r in rows]}; its "
                f"index listed {shrunk[-1]} after the first, and lists {index_profiles(env)}"
            ) from None
    finally:
        for d in started:
            d.kill()


def test_a_daemon_stopped_while_it_reloads_from_the_keyring_stops(
    chaos_env, secret_service, tmp_path
):
    from concurrent.futures import ThreadPoolExecutor

    from credhelper import protocol

    env = chaos_env
    started: list[DaemonProc] = []
    try:
        restarted = restarted_after_serving(env, tmp_path, started)  # listening, reloading
        context = protocol.context(env.env)

        def get(profile: str) -> dict:
            return send_request(
                restarted.socket, {"op": "get", "profile": profile, "context": context}
            )

        with ThreadPoolExecutor(len(PROFILES)) as pool:  # callers come while it reloads
            assert all(reply["ok"] for reply in pool.map(get, PROFILES))
        restarted.proc.send_signal(signal.SIGTERM)
        try:
            code = restarted.proc.wait(10)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the daemon still runs 10 s after SIGTERM:\n{restarted.log()}"
            ) from None
        assert code == 0, restarted.log()
    finally:
        for d in started:
            d.kill()


def test_kill_9_while_a_split_keyring_entry_is_rewritten_leaves_it_whole(
    chaos_env, secret_service, proxy
):
    """Windows' Credential Manager takes ~1200 characters a value; here a small limit makes
    every session a head and three pieces, and 1 s sessions make every call fetch anew."""
    env = chaos_env
    env.env["CREDHELPER_KEYRING_MAX_VALUE"] = "200"
    proxy.rewrite_expiration(1, {"AssumeRole"})
    rng = random.Random(1)
    first = spawn(env, "chaos-a", "in-process")
    code, out, err = finish(first, NEXT_CALL_LIMIT)
    assert code == 0, err
    assert any("#" in name for name in read_entries(env.keyring_service))  # split indeed
    for attempt in range(40):
        caller = spawn(env, "chaos-a", "in-process")
        time.sleep(rng.uniform(0.2, 0.9))  # the deliberate random moment of the kill
        caller.proc.send_signal(signal.SIGKILL)
        finish(caller, NEXT_CALL_LIMIT)
        try:
            keyring_state(env.keyring_service)
        except AssertionError as exc:
            raise AssertionError(f"after kill {attempt + 1}: {exc}") from None


def session_profiles(env: AwsEnv) -> list[str]:
    """The profiles the keyring holds a role session for."""
    found = []
    for name, raw in read_entries(env.keyring_service).items():
        if name.startswith("session:") and "#" not in name:
            doc = json.loads(raw)
            if doc.get("kind") == "role":
                found.append(doc.get("profile"))
    return sorted(found)


def test_a_keyring_that_comes_back_gets_the_daemons_sessions_and_a_restart_reloads_them(
    chaos_env, secret_service, tmp_path
):
    """The Secret Service stops under a running daemon: calls are still served (from memory
    and STS), the sessions fetched meanwhile are held only in memory. It starts again: the
    daemon, trying the keyring with backoff, writes them and its index through, and a
    restarted daemon reloads every one."""
    env = chaos_env
    first, later = PROFILES[:2], PROFILES[2:]
    started: list[DaemonProc] = []
    try:
        started.append(start_daemon(env, tmp_path / "daemon-1.log"))
        for caller in [spawn(env, p, "daemon") for p in first]:
            code, out, err = finish(caller, NEXT_CALL_LIMIT)
            assert code == 0, err
        wait_until(lambda: index_profiles(env) == sorted(first), 10, what="the first index")
        keyring_pid = secret_service.pid
        assert keyring_pid is not None
        os.kill(keyring_pid, signal.SIGTERM)
        wait_until(lambda: not secret_service.alive(), 10, what="gnome-keyring to stop")
        for caller in [spawn(env, p, "daemon") for p in (*later, *first)]:
            code, out, err = finish(caller, NEXT_CALL_LIMIT, started[-1].log)
            assert code == 0, err
            check_document(out, caller.profile)
        wait_until(
            lambda: "the OS keyring is not usable" in started[-1].log(),
            10,
            what="the daemon to find the keyring gone",
        )
        secret_service.restart()
        wait_until(
            lambda: (
                session_profiles(env) == sorted(PROFILES)
                and index_profiles(env) == sorted(PROFILES)
            ),
            90,
            what="the daemon's sessions and index in the keyring again",
        )
        assert "the keyring works again" in started[-1].log()
        started[-1].kill()
        started.append(start_daemon(env, tmp_path / "daemon-2.log"))

        def held() -> bool:
            rows = started[-1].status()["profiles"]
            return sorted(r["profile"] for r in rows if r["source"] == "keyring") == sorted(
                PROFILES
            )

        wait_until(held, 10, what="the restarted daemon to reload every profile")
    finally:
        for d in started:
            d.kill()
