"""What ``credhelper exec`` gives its command, and the endpoint request's checks."""

from __future__ import annotations

import pytest

from credhelper import protocol
from credhelper.commands.exec import EXEC_VAR, check_nesting, child_environment
from credhelper.errors import CredhelperError


def test_the_command_loses_every_other_credential_and_gets_the_profiles_region():
    ours = {
        "PATH": "/usr/bin",
        "AWS_PROFILE": "other",
        "AWS_ACCESS_KEY_ID": "AKIAOTHEROTHEROTHER1",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_SESSION_TOKEN": "t",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:1/x",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": "old",
        "AWS_WEB_IDENTITY_TOKEN_FILE": "/tmp/t",
        "AWS_REGION": "eu-west-3",
        "AWS_CONFIG_FILE": "/home/me/.aws/config",
    }
    env = child_environment(ours, "prod", "us-east-1")
    assert env == {
        "PATH": "/usr/bin",
        "AWS_CONFIG_FILE": "/home/me/.aws/config",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        EXEC_VAR: "prod",
    }
    assert child_environment({"AWS_REGION": "eu-west-3"}, "p", None)["AWS_REGION"] == "eu-west-3"


def test_another_profile_inside_an_exec_needs_nest():
    check_nesting("prod", False, {})
    check_nesting("prod", False, {EXEC_VAR: "prod"})
    check_nesting("prod", True, {EXEC_VAR: "dev"})
    with pytest.raises(CredhelperError, match="already inside 'credhelper exec dev'"):
        check_nesting("prod", False, {EXEC_VAR: "dev"})


def test_an_endpoint_request_is_checked_field_by_field():
    ok = protocol.validate_request({"v": 1, "op": "endpoint", "profile": "p"})
    assert (ok["bind"], ok["port"]) == ("127.0.0.1", 0)
    for bad in ({"port": 70000}, {"port": "80"}, {"port": True}, {"bind": 5}, {"bind": ""}):
        with pytest.raises(protocol.ProtocolError):
            protocol.validate_request({"v": 1, "op": "endpoint", "profile": "p", **bad})
    with pytest.raises(protocol.ProtocolError, match="profile"):
        protocol.validate_request({"v": 1, "op": "endpoint"})
