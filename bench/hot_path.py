"""How fast `credhelper process` answers, against `python -c pass` measured in the same run.

Prints median and p90 (ms) of:
  baseline      python -c pass                          (the same interpreter as credhelper)
  daemon hit    credhelper process P, the daemon holding P's session
  keyring hit   credhelper process P, no daemon (CREDHELPER_NO_DAEMON=1), session in keyring
and each one's ratio to the baseline. The commands run interleaved, round after round, so
that a noisy neighbour slows all of them alike. Run it with scripts/bench (it needs a Secret
Service and a moto server, which that script and this file set up).
"""

from __future__ import annotations

import argparse
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


def run_once(argv: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True)
    return (time.perf_counter() - t0) * 1000


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    rounds = parser.parse_args().rounds
    work = Path(tempfile.mkdtemp(prefix="credhelper-bench-"))
    with MotoStack(log_path=work / "moto.log") as stack:
        seed = stack.setup_seed()
        aws = make_aws_env(work, stack.url, keyring_service="credhelper-bench")
        try:
            aws.add_credentials("account1", seed.user_creds)
            aws.add_profile("role", role_arn=seed.role_arn, source_profile="account1")
            env = aws.env
            no_daemon = dict(env, CREDHELPER_NO_DAEMON="1")
            cmd = [str(BIN / "credhelper"), "process", "role"]
            run_once(cmd, env)  # cold: STS, keyring write, daemon start
            deadline = time.time() + 10
            while not (aws.runtime_dir / "credhelper" / "daemon.sock").exists():
                if time.time() > deadline:
                    sys.exit("bench: the daemon did not start")
                time.sleep(0.1)
            cases = {
                "baseline (python -c pass)": ([sys.executable, "-c", "pass"], env),
                "daemon hit": (cmd, env),
                "keyring hit, no daemon": (cmd, no_daemon),
            }
            for argv, e in cases.values():  # warm the page cache and .pyc files
                run_once(argv, e)
            times: dict[str, list[float]] = {name: [] for name in cases}
            for _ in range(rounds):
                for name, (argv, e) in cases.items():
                    times[name].append(run_once(argv, e))
            sts_calls = stack.proxy.count("AssumeRole")
        finally:
            aws.close()
    base = statistics.median(times["baseline (python -c pass)"])
    print(f"credhelper hot path, {rounds} interleaved rounds, Python {sys.version.split()[0]}")
    print(f"{'case':28} {'median ms':>10} {'p90 ms':>8} {'x baseline':>11}")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"{name:28} {med:10.1f} {p90(values):8.1f} {med / base:10.2f}x")
    print(f"AssumeRole calls that reached STS during the run: {sts_calls}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
