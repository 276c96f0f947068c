"""What a user gets: credhelper installed from its wheel in a clean venv, against the
interpreter's own start-up and against the other ways of serving cached AWS credentials.

The bench builds credhelper's wheel, installs it (not editable) into a fresh venv of a plain
interpreter (Debian's /usr/bin/python3 by default: --python), installs aws-export-credentials
into a second fresh venv, and then times, interleaved round after round so that a noisy
neighbour slows all of them alike:

  python -c pass            the clean venv's interpreter start-up (the baseline)
  python -I -S -c pass      the interpreter's floor: no site, no .pth files
  daemon hit, as wired      the exact credential_process line `credhelper wire` wrote
  daemon hit, other folder  the same line from a shell with another AWS config folder
                            (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE): the daemon serves
                            that environment too, after its first call
  daemon hit, process       `credhelper process P` (the console script), the daemon warm
  keyring hit, no daemon    the same with CREDHELPER_NO_DAEMON=1, the session in the keyring
  cold, through daemon      `credhelper process P` after `credhelper clear P` (untimed): STS
  aws-export-credentials    its --cache-file hit, same moto-backed role profile
  aws CLI, JSON cache hit   `aws sts get-caller-identity` on the role profile, the assumed
                            role in ~/.aws/cli/cache (includes the one STS call it makes)

It prints median, p90, the ratio to `python -c pass`, and whether the targets are met. Run it
with scripts/bench (it needs a Secret Service and a moto server, which that script and this
file set up); it needs the package registry to install the wheels' dependencies.
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from harness import MotoStack  # noqa: E402
from harness.awsenv import make_aws_env  # noqa: E402

PROFILE = "role"
WIRED = "role-wired"
AEC = "aws-export-credentials"

#: The cases, in the order they run in each round.
BASE = "python -c pass"
FLOOR = "python -I -S -c pass"
WIRED_HIT = "daemon hit, as wired"
OTHER_HIT = "daemon hit, other folder"
PROCESS_HIT = "daemon hit, process"
KEYRING_HIT = "keyring hit, no daemon"
COLD = "cold, through daemon"
AEC_HIT = "aws-export-credentials hit"
CLI_HIT = "aws CLI, JSON cache hit"


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def quiet(argv: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    """Run a setup step; on failure show its output and stop."""
    done = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        sys.exit(f"bench: failed ({done.returncode}): {shlex.join(argv)}")
    return done


def pip_install(venv: Path, *what: str) -> None:
    quiet([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
           "--disable-pip-version-check", *what])


def build_wheel(python: str, work: Path) -> tuple[Path, Path]:
    """A fresh venv of `python` with credhelper's wheel installed (not editable)."""
    venv = work / "venv-credhelper"
    log(f"creating a clean venv of {python}")
    quiet([python, "-m", "venv", str(venv)])
    # Build from a copy, so the build leaves nothing in the checkout.
    src = work / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "node_modules", "*.egg-info", "build", "dist", "__pycache__",
        ".*_cache", ".hypothesis"))
    log("building the wheel (pip wheel --no-deps)")
    quiet([str(venv / "bin" / "python"), "-m", "pip", "wheel", "-q", "--no-deps",
           "--disable-pip-version-check", "-w", str(work / "dist"), str(src)])
    wheel = next((work / "dist").glob("credhelper-*.whl"))
    log(f"installing {wheel.name} and its dependencies")
    pip_install(venv, str(wheel))
    shown = quiet([str(venv / "bin" / "python"), "-m", "pip", "show", "-f", "credhelper"]).stdout
    if "__editable__" in shown or "Editable project location" in shown:
        sys.exit("bench: credhelper ended up editable in the clean venv")
    return venv, wheel


def run_once(argv: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - t0) * 1000


def expect_credentials(name: str, argv: list[str], env: dict) -> None:
    """Check once that a credential_process command prints credentials."""
    out = quiet(argv, env=env).stdout
    try:
        if not json.loads(out).get("AccessKeyId"):
            raise ValueError
    except ValueError:
        sys.exit(f"bench: {name} printed no credentials: {out[:200]!r}")


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--python", default="/usr/bin/python3",
                        help="the interpreter of the clean venvs (default: %(default)s)")
    args = parser.parse_args()
    aws_cli = shutil.which("aws", path="/usr/bin") or shutil.which("aws")
    if not aws_cli:
        sys.exit("bench: no aws CLI")
    work = Path(tempfile.mkdtemp(prefix="credhelper-bench-"))
    try:
        venv, wheel = build_wheel(args.python, work)
        aec_venv = work / "venv-aec"
        log(f"installing {AEC} into its own clean venv")
        quiet([args.python, "-m", "venv", str(aec_venv)])
        # Its last release (0.18.0) unpacks botocore's ReadOnlyCredentials, which gained a
        # fourth field (account_id) in botocore 1.37: pin the newest botocore it still runs on.
        pip_install(aec_venv, AEC, "boto3<1.37", "botocore<1.37")
        return measure(args, work, venv, wheel, aec_venv, aws_cli)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def role_world(aws: Any, seed: Any, venv: Path) -> dict[str, str]:
    """The benches' AWS world: account1's keys and the role profile PROFILE assumed from them;
    returns the environment to run in: the clean venv first on PATH, the development venv not
    at all (its .pth files would slow every start)."""
    aws.add_credentials("account1", seed.user_creds)
    aws.add_profile(PROFILE, role_arn=seed.role_arn, source_profile="account1")
    dev_bin = str(Path(sys.executable).parent)
    path = [p for p in aws.env["PATH"].split(os.pathsep) if p != dev_bin]
    return dict(aws.env, PATH=os.pathsep.join([str(venv / "bin"), *path]))


def measure(args, work: Path, venv: Path, wheel: Path, aec_venv: Path, aws_cli: str) -> int:
    rounds = args.rounds
    py = str(venv / "bin" / "python")
    interp = quiet([py, "-c", "import sys; print(sys.version.split()[0])"]).stdout.strip()
    cli_version = quiet([aws_cli, "--version"]).stdout.split()[0]
    aec_version = quiet([str(aec_venv / "bin" / AEC), "--version"]).stdout.strip()
    aec_botocore = quiet([str(aec_venv / "bin" / "python"), "-c",
                          "import botocore; print(botocore.__version__)"]).stdout.strip()
    credhelper = str(venv / "bin" / "credhelper")
    with MotoStack(log_path=work / "moto.log") as stack:
        seed = stack.setup_seed()
        aws = make_aws_env(work, stack.url, keyring_service="credhelper-bench")
        try:
            env = role_world(aws, seed, venv)
            dev_bin = str(Path(sys.executable).parent)
            no_daemon = dict(env, CREDHELPER_NO_DAEMON="1")

            quiet([credhelper, "wire", PROFILE, "--as", WIRED], env=env)
            config = configparser.RawConfigParser()
            config.read(aws.config_file)
            wired_line = config[f"profile {WIRED}"]["credential_process"]
            wired = shlex.split(wired_line)  # as botocore splits it, on POSIX
            process = [credhelper, "process", PROFILE]
            other = work / "other-aws"  # the same files, in a second folder
            other.mkdir()
            # (its own sessions: another session name, so another cache key)
            (other / "config").write_text(aws.config_file.read_text().replace(
                f"[profile {PROFILE}]\n", f"[profile {PROFILE}]\nrole_session_name = other\n"))
            shutil.copy(aws.credentials_file, other / "credentials")
            other_env = dict(env, AWS_CONFIG_FILE=str(other / "config"),
                             AWS_SHARED_CREDENTIALS_FILE=str(other / "credentials"))
            aec_cache = work / "aec-cache.json"
            aec = [str(aec_venv / "bin" / AEC), "--profile", PROFILE, "--json",
                   "--cache-file", str(aec_cache)]
            # CLI v2 2.9 ignores AWS_ENDPOINT_URL, and has no setting that sends its own
            # AssumeRole to moto: the CLI v1 of the development venv (which honours it, and
            # shares the cache's folder and key) fills ~/.aws/cli/cache; v2's calls, given
            # --endpoint-url for their GetCallerIdentity, then find the role there.
            cli = [aws_cli, "--endpoint-url", stack.url, "sts", "get-caller-identity",
                   "--profile", PROFILE]
            cli_v1 = [str(Path(dev_bin) / "aws"), "sts", "get-caller-identity",
                      "--profile", PROFILE]

            expect_credentials("credhelper (cold)", process, env)  # STS, keyring, daemon start
            deadline = time.time() + 10
            while not (aws.runtime_dir / "credhelper" / "daemon.sock").exists():
                if time.time() > deadline:
                    sys.exit("bench: the daemon did not start")
                time.sleep(0.1)
            expect_credentials(WIRED_HIT, wired, env)
            expect_credentials(OTHER_HIT + " (its first call)", wired, other_env)
            expect_credentials(KEYRING_HIT, process, no_daemon)
            expect_credentials(AEC + " (fills its cache)", aec, env)
            expect_credentials(AEC_HIT, aec, env)
            quiet(cli_v1, env=env)  # fills ~/.aws/cli/cache
            if not list((aws.home / ".aws" / "cli" / "cache").glob("*.json")):
                sys.exit("bench: the AWS CLI wrote no JSON cache")
            before = stack.proxy.count("AssumeRole")
            quiet(cli, env=env)
            if stack.proxy.count("AssumeRole") != before:
                sys.exit("bench: the AWS CLI v2 did not take the role from its JSON cache")
            clear = [credhelper, "clear", PROFILE]

            cases: dict[str, tuple[list[str], dict, list[str] | None]] = {
                BASE: ([py, "-c", "pass"], env, None),
                FLOOR: ([py, "-I", "-S", "-c", "pass"], env, None),
                WIRED_HIT: (wired, env, None),
                OTHER_HIT: (wired, other_env, None),
                PROCESS_HIT: (process, env, None),
                KEYRING_HIT: (process, no_daemon, None),
                COLD: (process, env, clear),
                AEC_HIT: (aec, env, None),
                CLI_HIT: (cli, env, None),
            }
            for argv, e, before in cases.values():  # warm the page cache and .pyc files
                if before:
                    run_once(before, e)
                run_once(argv, e)
            stack.proxy.reset_counts()
            load_before = os.getloadavg()[0]
            times: dict[str, list[float]] = {name: [] for name in cases}
            for _ in range(rounds):
                for name, (argv, e, before) in cases.items():
                    if before:
                        run_once(before, e)
                    times[name].append(run_once(argv, e))
            sts_calls = stack.proxy.count("AssumeRole")
            load_after = os.getloadavg()[0]
        finally:
            aws.close()

    med = {name: statistics.median(v) for name, v in times.items()}
    base = med[BASE]
    print(f"credhelper {wheel.name.split('-')[1]} from its wheel, in a clean venv of "
          f"{args.python} (Python {interp}); {rounds} interleaved rounds")
    print(f"  wired credential_process: {wired_line}")
    print(f"  compared with {AEC} {aec_version} (own clean venv, botocore {aec_botocore}) and "
          f"{cli_version} ({aws_cli})")
    print()
    print(f"{'case (Python ' + interp + ')':32} {'median ms':>10} {'p90 ms':>8} {'x python':>9}")
    for name, values in times.items():
        print(f"{name:32} {med[name]:10.1f} {p90(values):8.1f} {med[name] / base:8.2f}x")
    print()
    targets = [
        (f"{WIRED_HIT} <= 1.2x {BASE}", med[WIRED_HIT] / base, "x", med[WIRED_HIT] <= 1.2 * base),
        (f"{WIRED_HIT} >= 12x faster than {AEC_HIT}", med[AEC_HIT] / med[WIRED_HIT], "x faster",
         med[AEC_HIT] >= 12 * med[WIRED_HIT]),
        (f"{OTHER_HIT} <= 2x {WIRED_HIT}", med[OTHER_HIT] / med[WIRED_HIT], "x",
         med[OTHER_HIT] <= 2 * med[WIRED_HIT]),
        (f"{KEYRING_HIT} <= 120 ms", med[KEYRING_HIT], " ms", med[KEYRING_HIT] <= 120),
    ]
    for text, value, unit, ok in targets:
        print(f"target: {text:62} {value:7.2f}{unit:9} {'met' if ok else 'NOT met'}")
    print(f"AssumeRole calls that reached STS during the timed rounds: {sts_calls} "
          f"(the {rounds} cold calls need {rounds})")
    print(f"load average (1 min) on {os.cpu_count()} CPUs: {load_before:.1f} before the "
          f"rounds, {load_after:.1f} after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
