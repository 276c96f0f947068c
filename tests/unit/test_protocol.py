"""The socket protocol's rules, checked without a daemon: every field, every limit."""

from __future__ import annotations

import json

import pytest

from credhelper import protocol


def frame(doc: dict) -> bytes:
    return json.dumps(doc).encode()


def test_a_valid_get_is_filled_in():
    doc = protocol.decode(frame({"v": 1, "op": "get", "profile": "p", "context": {"HOME": "/h"}}))
    assert protocol.validate_request(doc) == {
        "op": "get",
        "profile": "p",
        "min_ttl": None,
        "timeout": None,
        "context": {"HOME": "/h"},
    }


@pytest.mark.parametrize(
    "raw, needle",
    [
        (b'{"v": 1, "op": "ping", "op": "stop"}', "duplicate key"),
        (
            b'{"v": 1, "op": "get", "profile": "p", "context": {"HOME": "a", "HOME": "b"}}',
            "duplicate key",
        ),
        (b"[1]", "not a JSON object"),
        (b"{", "not a JSON document"),
        (b"[" * 50000, "not a JSON document"),
        (b'{"v": true, "op": "ping"}', "unsupported protocol version"),
        (b'{"v": 2, "op": "ping"}', "unsupported protocol version"),
        (b'{"v": 1, "op": "' + b"x" * 60000 + b'"}', "unknown op"),
    ],
)
def test_bad_frames_are_refused(raw, needle):
    with pytest.raises(protocol.ProtocolError) as err:
        protocol.validate_request(protocol.decode(raw))
    assert needle in str(err.value)
    assert len(str(err.value)) < 200  # the reply quoting it stays small


@pytest.mark.parametrize(
    "field, value, ok",
    [
        ("min_ttl", 0, True),
        ("min_ttl", 50000, True),  # valid in-process: never refused by the daemon
        ("min_ttl", 1e12, True),
        ("min_ttl", -1, False),
        ("min_ttl", float("nan"), False),
        ("min_ttl", float("inf"), False),
        ("min_ttl", True, False),
        ("min_ttl", "960", False),
        ("min_ttl", 10**400, False),  # no float holds it
        ("timeout", 30, True),
        ("timeout", 0, True),
        ("timeout", 86401, False),
        ("timeout", -0.5, False),
    ],
)
def test_number_fields(field, value, ok):
    doc = {"v": 1, "op": "get", "profile": "p", field: value}
    if ok:
        assert protocol.validate_request(doc)[field] == float(value)
    else:
        with pytest.raises(protocol.ProtocolError, match=field):
            protocol.validate_request(doc)


@pytest.mark.parametrize("profile", ["", "a\nb", "p" * 257, 7, None])
def test_profile_names(profile):
    with pytest.raises(protocol.ProtocolError, match="profile"):
        protocol.validate_request({"v": 1, "op": "get", "profile": profile})


def test_context_names_only_known_variables():
    with pytest.raises(protocol.ProtocolError, match="context"):
        protocol.validate_request({"v": 1, "op": "ping", "context": {"PATH": "/bin"}})


def test_messages_over_the_cap_are_refused_both_ways():
    with pytest.raises(protocol.ProtocolError, match="too large"):
        protocol.encode({"error": "x" * protocol.MAX_MESSAGE})
    with pytest.raises(protocol.ProtocolError, match="too large"):
        protocol.decode(b"x" * (protocol.MAX_MESSAGE + 1))
