"""Profile resolution: what a chain of AWS config profiles turns into, and the errors."""

from __future__ import annotations

import pytest

from credhelper.errors import CredhelperError
from credhelper.profiles import (
    BotocoreProfile,
    CredentialSource,
    StaticKeys,
    chain_region,
    resolve,
)

ARN = "arn:aws:iam::123456789012:role/"
BASE = {"base": {"aws_access_key_id": "AKIAEXAMPLE", "aws_secret_access_key": "s"}}


def test_three_role_chain_in_assume_order():
    profiles = {
        **BASE,
        "a": {"role_arn": ARN + "a", "source_profile": "base"},
        "b": {"role_arn": ARN + "b", "source_profile": "a", "external_id": "x"},
        "c": {"role_arn": ARN + "c", "source_profile": "b", "duration_seconds": "1800"},
    }
    chain = resolve("c", profiles)
    assert [r.role_arn for r in chain.roles] == [ARN + "a", ARN + "b", ARN + "c"]
    assert chain.roles[1].external_id == "x"
    assert chain.roles[2].duration_seconds == 1800
    assert isinstance(chain.source, BotocoreProfile) and chain.source.profile == "base"
    # Secrets never reach the fingerprint that feeds the cache key.
    assert "s" not in dict(chain.source.fingerprint).values()


def test_default_session_name_names_credhelper():
    chain = resolve("a", {**BASE, "a": {"role_arn": ARN + "a", "source_profile": "base"}})
    assert chain.roles[0].role_session_name.startswith("credhelper-")


def test_credential_source_and_self_source():
    chain = resolve("e", {"e": {"role_arn": ARN + "e", "credential_source": "Environment"}})
    assert chain.source == CredentialSource(profile="e", source="Environment")
    own = {"role_arn": ARN + "s", "source_profile": "s", **BASE["base"]}
    chain = resolve("s", {"s": own})
    assert chain.source == StaticKeys(profile="s", key_id="AKIAEXAMPLE")


def test_region_is_taken_from_the_nearest_profile():
    profiles = {
        "base": {**BASE["base"], "region": "eu-west-1"},
        "a": {"role_arn": ARN + "a", "source_profile": "base"},
        "b": {"role_arn": ARN + "b", "source_profile": "a", "region": "ap-south-1"},
    }
    assert chain_region(resolve("a", profiles), profiles) == "eu-west-1"
    assert chain_region(resolve("b", profiles), profiles) == "ap-south-1"


@pytest.mark.parametrize(
    "profiles, name, needle",
    [
        ({}, "nope", "no such profile"),
        ({"a": {"role_arn": ARN + "a", "source_profile": "gone"}}, "a", "'gone'"),
        (
            {
                "a": {"role_arn": ARN + "a", "source_profile": "b"},
                "b": {"role_arn": ARN + "b", "source_profile": "a"},
            },
            "a",
            "cycle: a -> b -> a",
        ),
        ({"a": {"role_arn": "arn:aws:iam::12:role/x", "source_profile": "base"}}, "a", "ARN"),
        ({"a": {"role_arn": "not-an-arn", "source_profile": "base"}}, "a", "not an IAM role"),
        ({"a": {"role_arn": ARN + "a"}}, "a", "neither source_profile"),
        (
            {"a": {"role_arn": ARN + "a", "source_profile": "base", "credential_source": "Env"}},
            "a",
            "both",
        ),
        ({"a": {"role_arn": ARN + "a", "credential_source": "Laptop"}}, "a", "not one of"),
        ({"a": {"role_arn": ARN + "a", "source_profile": "a"}}, "a", "holds no keys"),
        (
            {"a": {"role_arn": ARN + "a", "source_profile": "base", "duration_seconds": "60"}},
            "a",
            "duration_seconds",
        ),
        (
            {"a": {"role_arn": ARN + "a", "source_profile": "base", "role_session_name": "a b"}},
            "a",
            "role_session_name",
        ),
    ],
)
def test_bad_profiles_name_the_problem(profiles, name, needle):
    with pytest.raises(CredhelperError) as info:
        resolve(name, {**BASE, **profiles})
    line = info.value.for_profile(name).line()
    assert needle in line
    assert line.startswith(f"credhelper: profile '{name}': ")
    assert "\n" not in line
