"""The client and the daemon's server over a real Unix socket, with a stand-in scheduler: how
large replies travel, and what a client sees of a reply it cannot read.

Why here and not only end to end: these are the protocol's size rules, which must hold for a
client of any version and for daemons of other versions, some of which no test can start."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from credhelper import protocol, rundir, transport
from credhelper.daemon.server import Server


class RowsScheduler:
    """What the server asks a scheduler for status: ``count`` rows."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.sessions: dict[str, Any] = {}

    def status(self) -> list[dict[str, Any]]:
        return [
            {
                "profile": f"profile-{i:05d}",
                "role_arn": f"arn:aws:iam::123456789012:role/role-{i:05d}",
                "expiration": "2026-11-28T14:03:51Z",
                "seconds_left": 3581,
                "renews_in": 2075,
                "source": "daemon",
                "last_error": None,
                "failures": 0,
                "idle_seconds": 12,
                "keys_from": "keyring",
                "mfa_expiration": None,
                "mfa_needed": False,
            }
            for i in range(self.count)
        ]


class OneEnvironment:
    """What the server asks of its environments: one, the daemon's own, holding the rows."""

    def __init__(self, count: int) -> None:
        from credhelper.clock import Clock

        self.scheduler = RowsScheduler(count)
        self.scheduler.clock = Clock()  # type: ignore[attr-defined]
        self.id = 1
        self.context: dict[str, str] = {}

    def status(self, now: float) -> dict[str, Any]:
        return {"id": 1, "home": True, "context": {}, "profiles": self.scheduler.count}

    def get(self, context: Any) -> OneEnvironment:
        return self

    def find(self, context: Any) -> OneEnvironment:
        return self

    def all(self) -> list[OneEnvironment]:
        return [self]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    os.chmod(tmp_path, 0o700)
    monkeypatch.setenv(rundir.OVERRIDE_VAR, str(tmp_path / "rt"))
    return Path(rundir.ensure(str(tmp_path / "rt")))


def serve(path: Path, handle: Callable[..., Any]) -> Iterator[None]:
    """Run ``handle`` as the socket's connection handler on a loop of its own thread."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def start() -> None:
        holder["server"] = await asyncio.start_unix_server(
            handle, path=str(path), limit=protocol.MAX_MESSAGE
        )
        ready.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()))
    thread.start()
    assert ready.wait(10)
    try:
        yield
    finally:

        async def stop() -> None:
            holder["server"].close()
            await holder["server"].wait_closed()
            await asyncio.sleep(0.05)  # connections still closing
            loop.stop()

        asyncio.run_coroutine_threadsafe(stop(), loop)
        thread.join(10)
        loop.close()


@pytest.fixture
def daemon(folder: Path) -> Iterator[Callable[[int], Path]]:
    """A real Server over a scheduler holding N rows; returns its socket."""
    started: list[Iterator[None]] = []

    def start(count: int) -> Path:
        path = folder / protocol.SOCKET_NAME
        server = Server(OneEnvironment(count), lambda: None, str(path))  # type: ignore[arg-type]
        it = serve(path, server.handle)
        next(it)
        started.append(it)
        return path

    yield start
    for it in started:
        next(it, None)


def raw(path: Path, request: dict[str, Any]) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(path))
        sock.sendall(json.dumps({"v": 1, **request}).encode() + b"\n")
        data = b""
        while chunk := sock.recv(1 << 20):
            data += chunk
        return data


def test_a_large_status_travels_whole_to_a_client_that_asks_for_it(daemon):
    path = daemon(5000)
    reply = transport.call({"op": "status"}, path=str(path), max_reply=protocol.MAX_REPLY)
    assert reply["ok"] and len(reply["profiles"]) == 5000
    assert reply["profiles"][-1]["profile"] == "profile-04999"


def test_a_client_that_names_no_limit_gets_one_short_line_saying_why(daemon):
    path = daemon(5000)
    # an older credhelper: no max_reply, reads at most MAX_MESSAGE
    data = raw(path, {"op": "status"})
    assert len(data) < 1000 and data.count(b"\n") == 1
    reply = json.loads(data)
    assert reply["ok"] is False
    assert "the status of 5000 profiles takes" in reply["error"]
    assert "a newer credhelper shows it" in reply["error"]
    # ... and through today's client called without a limit (the hot path's way)
    assert transport.call({"op": "status"}, path=str(path))["ok"] is False


def test_a_small_status_needs_no_limit(daemon):
    path = daemon(3)
    assert len(transport.call({"op": "status"}, path=str(path))["profiles"]) == 3


def test_a_reply_over_the_limit_asked_is_refused_by_the_daemon_too(daemon):
    path = daemon(5000)
    reply = json.loads(raw(path, {"op": "status", "max_reply": protocol.MAX_MESSAGE * 2}))
    assert (
        reply["ok"] is False
        and f"more than the {protocol.MAX_MESSAGE * 2} bytes" in (reply["error"])
    )


def test_a_request_stays_capped_whatever_the_reply_limit(daemon):
    path = daemon(1)
    huge = {"op": "status", "max_reply": protocol.MAX_REPLY, "context": {"HOME": "x" * 70000}}
    reply = json.loads(raw(path, huge))
    assert reply["ok"] is False and "too large" in reply["error"]


@pytest.fixture
def answering(folder: Path) -> Iterator[Callable[[bytes], Path]]:
    """A listener of ours that answers ``payload`` to anything (a daemon of another version,
    or a broken one)."""
    started: list[Iterator[None]] = []

    def start(payload: bytes) -> Path:
        path = folder / protocol.SOCKET_NAME

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readline()
            writer.write(payload)
            await writer.drain()
            writer.close()

        it = serve(path, handle)
        next(it)
        started.append(it)
        return path

    yield start
    for it in started:
        next(it, None)


@pytest.mark.parametrize(
    "payload, error",
    [
        (b'{"v": 1, "ok": true, "p": ["' + b"x" * 200000 + b'"]}\n', transport.ReplyTooLarge),
        (b"not json\n", transport.BadReply),
        (b'{"v": 2, "ok": true}\n', transport.BadReply),
        (b"", transport.BadReply),
    ],
)
def test_a_reply_the_client_cannot_read_is_bad_reply_not_no_daemon(answering, payload, error):
    path = answering(payload)
    with pytest.raises(error) as err:
        transport.call({"op": "status"}, path=str(path))
    # a DaemonUnavailable all the same: the hot path falls back in-process as before
    assert isinstance(err.value, transport.DaemonUnavailable)


@pytest.fixture
def older_daemon(folder: Path) -> Iterator[list[dict[str, Any]]]:
    """A daemon of before max_reply: it refuses the field, and cannot send a large status."""
    seen: list[dict[str, Any]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = json.loads(await reader.readline())
        seen.append(request)
        if "max_reply" in request:
            reply = {"v": 1, "ok": False, "error": "unknown fields ['max_reply']", "fallback": True}
        else:
            reply = {"v": 1, "ok": False, "error": "the reply would be too large"}
        writer.write(json.dumps(reply).encode() + b"\n")
        await writer.drain()
        writer.close()

    it = serve(folder / protocol.SOCKET_NAME, handle)
    next(it)
    yield seen
    next(it, None)


def test_status_asks_an_older_daemon_its_way_and_says_what_to_do(older_daemon):
    from credhelper.commands import status
    from credhelper.errors import CredhelperError

    with pytest.raises(CredhelperError) as err:
        status.ask_daemon()
    line = err.value.line()
    assert "the reply would be too large" in line and "credhelper daemon stop" in line
    assert "no credhelper daemon" not in line
    assert [r.get("max_reply") for r in older_daemon] == [protocol.MAX_REPLY, None]


def test_status_says_a_daemon_answers_what_it_cannot_read(answering):
    from credhelper.commands import status
    from credhelper.errors import CredhelperError

    answering(b'{"v": 7, "ok": true}\n')
    with pytest.raises(CredhelperError) as err:
        status.ask_daemon()
    assert "cannot read" in err.value.line() and "no credhelper daemon" not in err.value.line()
