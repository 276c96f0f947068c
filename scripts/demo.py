"""The seed walk-through, through credhelper, on a local STS/IAM/S3 (moto) with policy
enforcement, in a throwaway AWS config. Run by scripts/demo inside a private Secret Service.

What it shows: plain `aws s3 ls` with the user's own keys is denied; the role profile, wired
to `credhelper process`, lists the buckets; the daemon then answers warm calls in tens of
milliseconds, makes one STS call for many callers, and renews sessions before they expire.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from harness import MotoStack  # noqa: E402
from harness.awsenv import make_aws_env  # noqa: E402

BIN = Path(sys.executable).parent
AWS_V1, AWS_V2 = str(BIN / "aws"), "/usr/bin/aws"


def step(text: str) -> None:
    print(f"\n\033[1m==> {text}\033[0m", flush=True)


def show(env: dict, argv: list[str], expect_ok: bool = True) -> subprocess.CompletedProcess:
    shown = " ".join("aws" if a in (AWS_V1,) else a for a in argv)
    print(f"$ {shown}", flush=True)
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    for line in (result.stdout + result.stderr).strip().splitlines():
        print(f"    {line}")
    if result.returncode == 0 and not expect_ok:
        sys.exit(f"demo: expected `{shown}` to be denied")
    if result.returncode != 0 and expect_ok:
        sys.exit(f"demo: `{shown}` failed (exit {result.returncode})")
    return result


def timed_calls(env: dict, profile: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run([str(BIN / "credhelper"), "process", profile], env=env, check=True,
                       capture_output=True)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="credhelper-demo-"))
    stack = MotoStack(log_path=work / "moto.log")
    aws = None
    try:
        step("Starting a local STS/IAM/S3 (moto) with IAM policy enforcement on")
        stack.start()
        seed = stack.setup_seed()
        print(f"    user {seed.user_arn}: may only call sts:AssumeRole")
        print(f"    role {seed.role_arn}: trusts user1, S3 full access")
        print(f"    bucket {seed.bucket}")

        step("A throwaway AWS config: user1's keys, and the tutorial's role profile")
        aws = make_aws_env(work, stack.url, keyring_service="credhelper-demo")
        aws.add_credentials("default", seed.user_creds)
        aws.add_credentials("account1", seed.user_creds)
        aws.add_profile("default", region="us-east-1")
        aws.add_profile("account1", region="us-east-1")
        aws.add_profile("s3fullaccess-user1-role", role_arn=seed.role_arn,
                        source_profile="account1")
        env = aws.env
        show(env, [str(BIN / "credhelper"), "wire", "s3fullaccess-user1-role",
                   "--as", "s3fullaccess-user1"])
        print("    " + "\n    ".join(aws.config_file.read_text().strip().splitlines()))

        step("Before: the user's own keys may not list S3")
        show(env, [AWS_V1, "s3", "ls"], expect_ok=False)

        step("Through credhelper: the role profile lists the buckets (AWS CLI v1, then v2)")
        show(env, [AWS_V1, "s3", "ls", "--profile", "s3fullaccess-user1"])
        if os.access(AWS_V2, os.X_OK):  # CLI v2 2.9 ignores AWS_ENDPOINT_URL for S3
            show(env, [AWS_V2, "--endpoint-url", stack.url, "s3", "ls",
                       "--profile", "s3fullaccess-user1"])
        show(env, [AWS_V1, "sts", "get-caller-identity", "--profile", "s3fullaccess-user1",
                   "--query", "Arn", "--output", "text"])

        step("The daemon at work: it started on the first call and now holds the session")
        time.sleep(1.0)
        show(env, [str(BIN / "credhelper"), "status"])
        warm = timed_calls(env, "s3fullaccess-user1-role", 20)
        cold_env = dict(env, CREDHELPER_NO_DAEMON="1")
        keyring_hit = timed_calls(cold_env, "s3fullaccess-user1-role", 5)
        print(f"    warm call through the daemon: median {statistics.median(warm):.0f} ms "
              f"(keyring without daemon: {statistics.median(keyring_hit):.0f} ms)")
        print(f"    AssumeRole calls that reached STS so far: {stack.proxy.count('AssumeRole')}")

        step("Many callers at once: 30 concurrent `credhelper process` on a new profile")
        aws.add_profile("burst", role_arn=seed.role_arn, source_profile="account1",
                        role_session_name="burst")
        before = stack.proxy.count("AssumeRole")
        procs = [subprocess.Popen([str(BIN / "credhelper"), "process", "burst"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(30)]
        keys = {json.loads(p.communicate(timeout=120)[0])["AccessKeyId"] for p in procs}
        print(f"    30 callers, {len(keys)} distinct session, "
              f"{stack.proxy.count('AssumeRole') - before} AssumeRole call")

        step("Renewal before expiry, with nobody calling (sessions shortened to 60 s)")
        stack.proxy.rewrite_expiration(60)
        aws.add_profile("short", role_arn=seed.role_arn, source_profile="account1",
                        role_session_name="short")
        first = json.loads(subprocess.run(
            [str(BIN / "credhelper"), "process", "short"], env=env, capture_output=True,
            text=True, check=True).stdout)
        print(f"    got {first['AccessKeyId'][:4]}…{first['AccessKeyId'][-4:]} "
              f"expiring {first['Expiration']}")
        deadline = time.time() + 40
        renewed = None
        while time.time() < deadline and renewed is None:
            time.sleep(2)
            status = json.loads(subprocess.run(
                [str(BIN / "credhelper"), "status", "--json"], env=env, capture_output=True,
                text=True, check=True).stdout)
            for p in status["profiles"]:
                if p["profile"] == "short" and p["expiration"] != first["Expiration"]:
                    renewed = p
        if renewed is None:
            sys.exit("demo: the daemon did not renew the short session in time")
        print(f"    the daemon renewed it on its own: new expiry {renewed['expiration']}")
        stack.proxy.rewrite_expiration(None)
        show(env, [str(BIN / "credhelper"), "status"])

        step("The daemon's log (no secrets in it: key ids are abbreviated)")
        log = aws.home / ".local" / "state" / "credhelper" / "log" / "daemon.log"
        for line in log.read_text().splitlines()[-12:]:
            print(f"    {line}")

        step("Done. Nothing was written in plain text: the sessions live in the keyring")
        return 0
    finally:
        if aws is not None:
            aws.close()
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
