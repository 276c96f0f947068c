"""A daemon holding many profiles: an edit of the AWS files is parsed once, not once per
profile held, and only the profile edited is fetched again.

What is asserted is counted (parses, AssumeRole calls), not timed: bench/scale.py measures
the time and CPU, at 1,000 profiles.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import pytest
from harness import MotoStack
from harness.awsenv import AwsEnv
from harness.daemon import Daemons, send_request, wait_until

N = 200
PARSE = re.compile(r"read the AWS files \(\d+ profiles; parse (\d+)\)")


def config_text(role_arn: str, renamed: int | None = None) -> str:
    out = "[profile account1]\nregion = us-east-1\n\n"
    for i in range(N):
        name = f"scale-{i}" + ("-edited" if i == renamed else "")
        out += (
            f"[profile r{i}]\nrole_arn = {role_arn}\nsource_profile = account1\n"
            f"role_session_name = {name}\n\n"
        )
    return out


def parses(log: str) -> int:
    found = PARSE.findall(log)
    return int(found[-1]) if found else 0


@pytest.fixture
def daemons(aws_env: AwsEnv, tmp_path: Path) -> Iterator[Daemons]:
    d = Daemons(aws_env, tmp_path / "daemon.log")
    yield d
    d.close()


def test_an_edit_with_200_profiles_held_is_one_parse_and_one_fetch(
    aws_env: AwsEnv, moto_stack: MotoStack, proxy, daemons: Daemons
) -> None:
    seed = moto_stack.seed
    aws_env.env["CREDHELPER_AUTOSTART"] = "0"
    aws_env.add_credentials("account1", seed.user_creds)
    aws_env.write_config(config_text(seed.role_arn))
    d = daemons()
    context = d.status()["daemon"]["context"]

    def get(i: int) -> dict:
        return send_request(
            d.socket, {"op": "get", "profile": f"r{i}", "context": context}, timeout=60
        )

    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(get, range(N)))
    assert all(r.get("ok") for r in replies), [r for r in replies if not r.get("ok")][:3]
    assert proxy.count("AssumeRole") == N
    assert parses(daemons.text()) == 1  # one parse for all 200 fetches

    proxy.reset_counts()
    aws_env.write_config(config_text(seed.role_arn, renamed=7))
    wait_until(
        lambda: "r7: profile changed, fetching a new session" in daemons.text()
        and daemons.text().count("r7: holding") >= 2,
        30,
        what="the edited profile's new session",
    )
    # The edit: one more parse for all 200 profiles (one per report of the watcher, and at
    # most one more by a fetch that saw the files change first), not one per profile.
    assert 2 <= parses(daemons.text()) <= 3
    assert proxy.count("AssumeRole") == 1
    assert get(7)["credentials"]["AccessKeyId"] != replies[7]["credentials"]["AccessKeyId"]
