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
        "process_line": False,
        "context": {"HOME": "/h"},
        "max_reply": protocol.MAX_MESSAGE,  # a client that names none reads no more
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


def test_a_larger_limit_is_for_replies_that_ask_for_it():
    big = {"v": 1, "ok": True, "profiles": ["p" * 100] * 2000}  # ~200 KB
    with pytest.raises(protocol.TooLarge) as err:
        protocol.encode(big)
    assert err.value.limit == protocol.MAX_MESSAGE and err.value.size > protocol.MAX_MESSAGE
    data = protocol.encode(big, protocol.MAX_REPLY)
    assert protocol.decode(data, protocol.MAX_REPLY) == big
    with pytest.raises(protocol.TooLarge):
        protocol.decode(data)  # the default limit stays the small one


@pytest.mark.parametrize(
    "value, ok",
    [
        (None, True),
        (protocol.MAX_MESSAGE, True),
        (1 << 20, True),
        (protocol.MAX_REPLY, True),
        (protocol.MAX_MESSAGE - 1, False),
        (protocol.MAX_REPLY + 1, False),
        (0, False),
        (-1, False),
        (True, False),
        (1048576.0, False),
        ("1048576", False),
        (10**400, False),
        ([1 << 20], False),
    ],
)
def test_max_reply(value, ok):
    doc = {"v": 1, "op": "status"}
    if value is not None:
        doc["max_reply"] = value
    if ok:
        expected = protocol.MAX_MESSAGE if value is None else value
        assert protocol.validate_request(doc)["max_reply"] == expected
    else:
        with pytest.raises(protocol.ProtocolError, match="max_reply") as err:
            protocol.validate_request(doc)
        assert len(str(err.value)) < 200


def test_max_reply_is_taken_with_every_op():
    for op in protocol.OPS:
        doc = {"v": 1, "op": op, "profile": "p", "max_reply": 1 << 20}
        assert protocol.validate_request(doc)["max_reply"] == 1 << 20
