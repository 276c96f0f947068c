"""Each command builds its world once: one parse of each AWS file, one botocore session.

Counted in a real ``credhelper`` process (the CLI's own ``main``, run under a wrapper that
counts botocore's constructors and file parses), on the tutorial's profiles against moto.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from harness.awsenv import SEED_ROLE, AwsEnv
from harness.moto_stack import MotoStack

ROLE = SEED_ROLE

COUNTING = r"""
import atexit, json, os, sys
import botocore.configloader, botocore.session

counts = {"sessions": 0, "parses": {}}
_init = botocore.session.Session.__init__
def init(self, *a, **k):
    counts["sessions"] += 1
    _init(self, *a, **k)
botocore.session.Session.__init__ = init
_parse = botocore.configloader.raw_config_parse
def parse(path, *a, **k):
    key = os.path.basename(os.path.expanduser(path))
    counts["parses"][key] = counts["parses"].get(key, 0) + 1
    return _parse(path, *a, **k)
botocore.configloader.raw_config_parse = parse
atexit.register(lambda: open(os.environ["COUNTS_FILE"], "w").write(json.dumps(counts)))
from credhelper.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture
def world(aws_env: AwsEnv, moto_stack: MotoStack) -> AwsEnv:
    aws_env.add_seed(moto_stack.seed.user_creds, moto_stack.seed.role_arn)
    aws_env.env["CREDHELPER_AUTOSTART"] = "0"
    return aws_env


def counted(env: AwsEnv, tmp_path: Path, *argv: str) -> tuple[dict, object]:
    counts = tmp_path / "counts.json"
    result = env.run(
        [sys.executable, "-c", COUNTING, *argv], env=env.env_with(COUNTS_FILE=str(counts))
    )
    assert result.returncode == 0, result.stderr
    return json.loads(counts.read_text()), result


def test_a_cold_in_process_call_reads_the_files_once_with_one_botocore_session(
    world, proxy, tmp_path
):
    counts, result = counted(world, tmp_path, "process", "--no-daemon", ROLE)
    assert json.loads(result.stdout)["AccessKeyId"].startswith("ASIA")
    assert proxy.count("AssumeRole") == 1  # cold: the whole chain ran, STS included
    print(f"cold process --no-daemon: {counts}")
    assert counts == {"sessions": 1, "parses": {"config": 1, "credentials": 1}}


def test_list_over_twenty_profiles_reads_the_files_once_with_one_botocore_session(
    world, moto_stack, proxy, tmp_path
):
    for i in range(20):
        world.add_profile(
            f"role{i:02}",
            role_arn=moto_stack.seed.role_arn,
            source_profile="account1",
            role_session_name=f"r{i}",
        )
    counts, result = counted(world, tmp_path, "list", "--json")
    rows = json.loads(result.stdout)["profiles"]
    assert len(rows) == 22 and all(r["error"] is None for r in rows), rows
    assert {r["source"] for r in rows} == {"credentials_file"}
    print(f"list over {len(rows)} profiles: {counts}")
    assert counts == {"sessions": 1, "parses": {"config": 1, "credentials": 1}}
    assert proxy.count("AssumeRole") == 0  # list never calls STS
