"""The launcher's own copies of the hot path's rules agree with the originals: the protocol's
constants, the request it writes without json, the listener's uid read without struct."""

from __future__ import annotations

import os
import socket
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credhelper import hotpath, peercred, protocol
from credhelper import lean_client as launcher


def test_constants_are_the_protocols():
    assert launcher.PROTOCOL == protocol.PROTOCOL
    assert launcher.DEFAULT_MIN_TTL == protocol.DEFAULT_MIN_TTL
    assert launcher.DEFAULT_TIMEOUT == protocol.DEFAULT_TIMEOUT
    assert launcher.MAX_MESSAGE == protocol.MAX_MESSAGE
    assert launcher.SOCKET_NAME == protocol.SOCKET_NAME
    assert launcher.CONTEXT_VARS == protocol.CONTEXT_VARS
    assert launcher.HIT_PREFIX == protocol.HIT_PREFIX
    assert launcher.REPLY_SLACK == hotpath.REPLY_SLACK
    # the layout is what a compact encoding of a hit starts with
    assert protocol.encode({"v": 1, "ok": True, "credentials": {}}).startswith(
        protocol.HIT_PREFIX
    )


#: Values a variable may hold: anything but NUL, surrogates included (undecodable bytes).
values = st.text(st.characters(blacklist_characters="\x00"), min_size=1, max_size=40)


@given(
    profile=st.text(min_size=1, max_size=40),
    env=st.dictionaries(st.sampled_from(protocol.CONTEXT_VARS), values),
    min_ttl=st.one_of(st.just(protocol.DEFAULT_MIN_TTL), st.floats(0, 1e300)),
    timeout=st.floats(1, 1e6),
)
def test_the_request_is_the_hot_paths_or_none(profile, env, min_ttl, timeout):
    """Whatever the launcher sends, the daemon reads as the hot path's request (plus the flag);
    what it cannot write without json (control characters, surrogates) it does not send."""
    try:
        line = launcher.request(profile, min_ttl, timeout, env)
    except ValueError:  # UnicodeError included: the launcher hands over
        assert any(c < " " or "\ud800" <= c <= "\udfff" for c in profile + "".join(env.values()))
        return
    sent = protocol.decode(line)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    expected = {
        "v": protocol.PROTOCOL,
        "op": "get",
        "profile": profile,
        "min_ttl": min_ttl,
        "timeout": timeout,
        "context": protocol.context(env),
        "process_line": True,
    }
    assert sent == expected
    assert {k: v for k, v in sent.items()} == protocol.decode(protocol.encode(expected))


def test_plain_values_are_always_sent():
    env = {"HOME": "/home/a b", "AWS_CONFIG_FILE": 'C:\\x\\"y"', "AWS_CA_BUNDLE": "é€"}
    line = launcher.request("p", 960, 30.0, env)
    assert protocol.decode(line)["context"] == env


@given(st.dictionaries(st.text(string.ascii_letters, max_size=20), st.text(max_size=200)))
def test_a_hit_in_the_line_layout_is_the_same_reply(credentials):
    data = protocol.encode_hit(credentials)
    assert data.startswith(protocol.HIT_PREFIX) and data.endswith(b"}\n")
    assert data.count(b"\n") == 1
    assert protocol.decode(data) == {"v": 1, "ok": True, "credentials": credentials}
    printed = data[len(protocol.HIT_PREFIX) : -2].decode()
    assert printed == protocol.process_document(credentials)


@pytest.mark.parametrize("value", [1, "yes", None, 0])
def test_process_line_must_be_a_boolean(value):
    doc = {"v": 1, "op": "get", "profile": "p", "process_line": value}
    with pytest.raises(protocol.ProtocolError, match="process_line"):
        protocol.validate_request(doc)


def test_peer_uid_agrees_with_peercred(tmp_path):
    path = str(tmp_path / "s.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.connect(path)
        conn, _ = server.accept()
        assert launcher.peer_uid(client) == peercred.peer_uid(client) == os.geteuid()
        assert launcher.peer_uid(conn) == peercred.peer_uid(conn) == os.geteuid()
        conn.close()
    finally:
        client.close()
        server.close()


@pytest.mark.parametrize(
    "name, raw",
    [
        ("CREDHELPER_NO_DAEMON", "1"),
        ("CREDHELPER_NO_DAEMON", " Off "),
        ("CREDHELPER_NO_DAEMON", "perhaps"),
        ("CREDHELPER_TIMEOUT", "0.5"),
        ("CREDHELPER_TIMEOUT", "inf"),
        ("CREDHELPER_MIN_TTL", "nan"),
        ("CREDHELPER_MIN_TTL", "-1"),
    ],
)
def test_the_hot_path_reads_settings_through_the_launcher(monkeypatch, name, raw):
    """One reading of the CREDHELPER_* variables: bad values keep both off the daemon."""
    monkeypatch.setenv(name, raw)
    assert hotpath.no_daemon is launcher.no_daemon and hotpath.seconds is launcher.seconds
    bad = False
    try:
        launcher.no_daemon()
        launcher.seconds("CREDHELPER_TIMEOUT", 30.0, 1)
        launcher.seconds("CREDHELPER_MIN_TTL", 960, 0)
    except ValueError:
        bad = True
    assert bad == (raw in ("perhaps", "0.5", "inf", "nan", "-1"))
