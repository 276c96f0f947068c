"""Single-file builds against the wheel, on a daemon hit: what a credential_process call costs
when credhelper is one file (packaging/single_file/build) rather than a venv install.

The bench builds credhelper's wheel into a clean venv of a plain interpreter (as
bench/hot_path.py does: --python, Debian's /usr/bin/python3 by default), builds the single
files from the same checkout (the zipapps with that interpreter in their shebang,
``#!PYTHON -IS``), starts the daemon with one cold call, and then times, interleaved round
after round so that a noisy neighbour slows all of them alike:

  python -c pass              the clean venv's interpreter start-up (the baseline)
  wheel: as wired             the launcher line ``credhelper wire`` writes
  wheel: credhelper process   the venv's console script
  zipapp: credhelper.pyz      ``credhelper.pyz process P`` (the shipped single file)
  shiv: credhelper-shiv.pyz   the same built with shiv
  pyinstaller onefile         ``credhelper process P``, PyInstaller's onefile executable

Before the rounds it times each single file's first call (the zipapps unpack their payload
into the user's cache then; PyInstaller's onefile unpacks on every call), and checks with
``-X importtime`` that a zipapp hit imports nothing outside the standard library and
credhelper. It prints median, p90 and the ratio to ``python -c pass`` and to the wired line.
Run it with scripts/bench-single-file.
"""

from __future__ import annotations

import argparse
import configparser
import os
import re
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

from harness import MotoStack  # noqa: E402
from harness.awsenv import make_aws_env  # noqa: E402
from hot_path import (  # noqa: E402
    build_wheel,
    expect_credentials,
    log,
    p90,
    quiet,
    role_world,
    run_once,
)

ROOT = HERE.parent
PROFILE = "role"
WIRED = "role-wired"

BASE = "python -c pass"
WIRED_HIT = "wheel: as wired (launcher)"
PROCESS_HIT = "wheel: credhelper process"
ZIPAPP = "zipapp: credhelper.pyz"
SHIV = "shiv: credhelper-shiv.pyz"
ONEFILE = "pyinstaller onefile"
ARTIFACTS = {ZIPAPP: ("zipapp", "credhelper.pyz"), SHIV: ("shiv", "credhelper-shiv.pyz"),
             ONEFILE: ("pyinstaller", "credhelper")}


def imported(stderr: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"import time:\s+\d+\s+\|\s+\d+\s+\|\s+(\S+)", stderr)}


def outside_stdlib(modules: set[str]) -> set[str]:
    """Modules neither of the standard library nor credhelper's."""
    std = set(sys.stdlib_module_names)
    return {m for m in modules if m.split(".")[0] not in std and m.split(".")[0] != "credhelper"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--python", default="/usr/bin/python3",
                        help="the interpreter of the clean venv and the zipapps' shebang "
                        "(default: %(default)s)")
    parser.add_argument("--skip", action="append", default=[], choices=list(ARTIFACTS),
                        help="leave a single file out")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="credhelper-bench-1f-"))
    try:
        venv, wheel = build_wheel(args.python, work)
        kinds = [kind for name, (kind, _) in ARTIFACTS.items() if name not in args.skip]
        log(f"building the single files: {', '.join(kinds)}")
        quiet([sys.executable, str(ROOT / "packaging" / "single_file" / "build.py"),
               str(work / "single"), "--work", str(work / "single-work"),
               "--shebang", f"{args.python} -IS", *(a for k in kinds for a in ("--kind", k))])
        return measure(args, work, venv, wheel)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(args, work: Path, venv: Path, wheel: Path) -> int:
    py = str(venv / "bin" / "python")
    interp = quiet([py, "-c", "import sys; print(sys.version.split()[0])"]).stdout.strip()
    artifacts = {name: work / "single" / file for name, (_, file) in ARTIFACTS.items()
                 if name not in args.skip}
    with MotoStack(log_path=work / "moto.log") as stack:
        seed = stack.setup_seed()
        aws = make_aws_env(work, stack.url, keyring_service="credhelper-bench-1f")
        try:
            env = role_world(aws, seed, venv)
            credhelper = str(venv / "bin" / "credhelper")
            quiet([credhelper, "wire", PROFILE, "--as", WIRED], env=env)
            config = configparser.RawConfigParser()
            config.read(aws.config_file)
            wired_line = config[f"profile {WIRED}"]["credential_process"]

            expect_credentials("credhelper (cold)", [credhelper, "process", PROFILE], env)
            deadline = time.time() + 10
            while not (aws.runtime_dir / "credhelper" / "daemon.sock").exists():
                if time.time() > deadline:
                    sys.exit("bench: the daemon did not start")
                time.sleep(0.1)
            cases: dict[str, list[str]] = {
                BASE: [py, "-c", "pass"],
                WIRED_HIT: shlex.split(wired_line),
                PROCESS_HIT: [credhelper, "process", PROFILE],
            }
            first: dict[str, float] = {}
            for name, artifact in artifacts.items():
                argv = [str(artifact), "process", PROFILE]
                first[name] = run_once(argv, env)  # unpacks (zipapps: once per build)
                expect_credentials(name, argv, env)
                cases[name] = argv
            # A zipapp hit imports the standard library and credhelper, nothing else.
            floor = quiet([args.python, "-I", "-S", "-X", "importtime", "-c", "pass"], env=env)
            hits = {}
            for name in (ZIPAPP, SHIV):
                if name in artifacts:
                    traced = quiet([args.python, "-I", "-S", "-X", "importtime",
                                    str(artifacts[name]), "process", PROFILE], env=env)
                    hits[name] = imported(traced.stderr) - imported(floor.stderr)
            for argv in cases.values():  # warm the page cache and the .pyc files
                run_once(argv, env)
            stack.proxy.reset_counts()
            load_before = os.getloadavg()[0]
            times: dict[str, list[float]] = {name: [] for name in cases}
            for _ in range(args.rounds):
                for name, argv in cases.items():
                    times[name].append(run_once(argv, env))
            sts_calls = stack.proxy.count("AssumeRole")
            load_after = os.getloadavg()[0]
        finally:
            aws.close()

    med = {name: statistics.median(v) for name, v in times.items()}
    base, wired = med[BASE], med[WIRED_HIT]
    print(f"credhelper {wheel.name.split('-')[1]}: single files against the wheel in a clean venv "
          f"of {args.python} (Python {interp}); {args.rounds} interleaved rounds, daemon hits")
    print(f"  wired credential_process: {wired_line}")
    for name, artifact in artifacts.items():
        print(f"  {name}: {artifact.stat().st_size / 1e6:.1f} MB, first call {first[name]:.0f} ms")
    print()
    print(f"{'case (Python ' + interp + ')':32} {'median ms':>10} {'p90 ms':>8} "
          f"{'x python':>9} {'x wired':>8}")
    for name, values in times.items():
        print(f"{name:32} {med[name]:10.1f} {p90(values):8.1f} {med[name] / base:8.2f}x "
              f"{med[name] / wired:7.2f}x")
    print()
    for name, modules in hits.items():
        extra = sorted(outside_stdlib(modules))
        print(f"{name} hit imports {len(modules)} modules beyond python -I -S -c pass; "
              f"outside the standard library and credhelper: {', '.join(extra) or 'none'}")
    print(f"AssumeRole calls that reached STS during the timed rounds: {sts_calls} (0 expected)")
    print(f"load average (1 min) on {os.cpu_count()} CPUs: {load_before:.1f} before the "
          f"rounds, {load_after:.1f} after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
