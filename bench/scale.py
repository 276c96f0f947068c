"""The daemon holding many profiles: warming them all, then one config edit.

One source profile (the tutorial's user keys) and N role profiles of the tutorial's role,
each with its own role_session_name, against the moto server. Prints:
  warm          wall time to get every profile through the daemon's socket (the first
                alone, then concurrent requests), the daemon's CPU for it (utime + stime
                from /proc): the first fetch's (one-time costs), then per profile;
                the AssumeRole calls that reached STS, and the daemon's RSS after
  edit          one profile's role_session_name changed: the daemon's CPU until it has
                re-read the files, recomputed every held profile's key and fetched the
                changed one's new session; how many times it parsed the AWS files for it
moto answers each AssumeRole in a few ms of its own CPU, on the same machine: the wall times
include moto's share, the daemon's CPU does not. Run it with a Secret Service, e.g.
  scripts/with-secret-service .venv/bin/python bench/scale.py --profiles 1000
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from harness import MotoStack  # noqa: E402
from harness.awsenv import make_aws_env  # noqa: E402
from harness.daemon import send_request, start_daemon, wait_until  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
PARSE = re.compile(r"read the AWS files \(\d+ profiles; parse (\d+)\)")


def cpu(pid: int) -> float:
    """The process's CPU seconds so far (user + system)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def config_text(role_arn: str, n: int, renamed: int | None = None) -> str:
    lines = ["[profile account1]", "region = us-east-1", ""]
    for i in range(n):
        name = f"scale-{i}" + ("-edited" if i == renamed else "")
        lines += [
            f"[profile r{i}]",
            f"role_arn = {role_arn}",
            "source_profile = account1",
            f"role_session_name = {name}",
            "",
        ]
    return "\n".join(lines)


def parses(log: Path) -> int:
    found = PARSE.findall(log.read_text(errors="replace"))
    return int(found[-1]) if found else 0


def settle_cpu(pid: int, quiet: float = 1.0, timeout: float = 120.0) -> float:
    """Wait until the process has used no CPU for ``quiet`` seconds; its CPU then."""
    end = time.monotonic() + timeout
    last = cpu(pid)
    while time.monotonic() < end:
        time.sleep(quiet)
        now = cpu(pid)
        if now - last < 0.02:
            return now
        last = now
    return last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    n = args.profiles
    work = Path(tempfile.mkdtemp(prefix="credhelper-scale-"))
    log = work / "daemon.log"
    with MotoStack(log_path=work / "moto.log") as stack:
        seed = stack.setup_seed()
        aws = make_aws_env(work, stack.url, keyring_service=f"credhelper-scale-{os.getpid()}")
        aws.env["CREDHELPER_AUTOSTART"] = "0"
        try:
            aws.add_credentials("account1", seed.user_creds)
            aws.write_config(config_text(seed.role_arn, n))
            daemon = start_daemon(aws, log)
            pid = daemon.pid
            context = daemon.status()["daemon"]["context"]
            base_cpu, base_rss = settle_cpu(pid, 0.5), rss_mb(pid)
            sts_before = stack.proxy.count("AssumeRole")

            def get(i: int) -> str | None:
                reply = send_request(
                    daemon.socket,
                    {"op": "get", "profile": f"r{i}", "context": context},
                    timeout=600,
                )
                return None if "Credentials" in reply or reply.get("ok") else str(reply)[:200]

            t0 = time.monotonic()
            errors = [e for e in [get(0)] if e]  # the first: imports, STS model, keyring
            first_cpu = settle_cpu(pid, 0.5) - base_cpu
            with ThreadPoolExecutor(args.concurrency) as pool:
                errors += [e for e in pool.map(get, range(1, n)) if e]
            warm_wall = time.monotonic() - t0
            sts_calls = stack.proxy.count("AssumeRole") - sts_before
            warm_cpu = settle_cpu(pid, 0.5) - base_cpu  # the keyring index write after
            warm_rss = rss_mb(pid)

            before_parses = parses(log)
            before_cpu = cpu(pid)
            holding = log.read_text(errors="replace").count("r0: holding")
            t0 = time.monotonic()
            aws.write_config(config_text(seed.role_arn, n, renamed=0))
            wait_until(
                lambda: log.read_text(errors="replace").count("r0: holding") > holding,
                120,
                what="the edited profile's new session",
            )
            edit_wall = time.monotonic() - t0
            edit_cpu = settle_cpu(pid) - before_cpu
            edit_parses = parses(log) - before_parses
            daemon.terminate()
        finally:
            aws.close()
    print(f"credhelper daemon at scale: {n} role profiles, {args.concurrency} concurrent gets")
    print(f"idle daemon: CPU {base_cpu:.2f} s, RSS {base_rss:.0f} MB")
    rest = (
        f", then {(warm_cpu - first_cpu) / (n - 1) * 1000:.1f} ms per profile" if n > 1 else ""
    )
    print(
        f"warm all: {warm_wall:.1f} s wall, daemon CPU {warm_cpu:.2f} s "
        f"(first fetch {first_cpu * 1000:.0f} ms{rest}), {sts_calls} AssumeRole calls, "
        f"RSS {warm_rss:.0f} MB, {len(errors)} errors"
    )
    for e in errors[:3]:
        print(f"  error: {e}")
    print(
        f"one edit: {edit_wall:.1f} s wall to the new session, daemon CPU {edit_cpu:.2f} s, "
        f"{edit_parses} parse(s) of the AWS files"
    )
    print(f"(daemon log: {log})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
