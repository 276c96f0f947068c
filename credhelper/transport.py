"""The client side of the way to the daemon: a Unix socket in the runtime folder today.

The seam a named pipe (Windows) would take: :func:`call` sends one request and returns the
reply, or raises :class:`DaemonUnavailable` (or a subclass) — never anything a caller has to
tell apart further. Nothing is sent until the folder, the socket file and the listening
process are known to be the user's own (see :mod:`credhelper.rundir`, docs/security.md).

Standard library only: the hot path (:mod:`credhelper.hotpath`) imports it.
"""

from __future__ import annotations

import os
import socket
import time

from credhelper import rundir
from credhelper.protocol import (
    MAX_MESSAGE,
    PROTOCOL,
    SOCKET_NAME,
    ProtocolError,
    TooLarge,
    decode,
    encode,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class DaemonUnavailable(OSError):
    """No daemon answered (no socket, refused, or garbage)."""


class DaemonTimedOut(DaemonUnavailable):
    """A daemon took the request and did not answer within the caller's time."""


class Untrusted(DaemonUnavailable):
    """What answers on the socket (or the folder it is in) may not be our daemon: not used."""


class BadReply(DaemonUnavailable):
    """A daemon answered, but not with a reply this client can read (cut off, not JSON,
    another protocol version): a daemon is running, so never say that none is."""


class ReplyTooLarge(BadReply):
    """The reply passed the caller's limit; reading stopped there."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the daemon's reply is over {limit} bytes")
        self.limit = limit


def runtime_dir() -> str:
    """The per-user runtime folder (see :mod:`credhelper.rundir`)."""
    return rundir.choose()[0]


def socket_path() -> str:
    return os.path.join(runtime_dir(), SOCKET_NAME)


def _connect(path: str, timeout: float) -> socket.socket:
    """Connect, after checking the folder and the socket, and that the listener is us.

    A burst of callers larger than the listen backlog gets EAGAIN: wait for the daemon to
    drain it (within ``timeout``) rather than fall onto the slow path.
    """
    folder = os.path.dirname(path)
    try:
        rundir.check(folder)
        rundir.check_socket(path)
    except rundir.Untrusted as exc:
        raise Untrusted(str(exc)) from None
    except FileNotFoundError:
        raise DaemonUnavailable("no daemon socket") from None
    end = time.monotonic() + timeout
    pause = 0.002
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(max(0.05, end - time.monotonic()))
            sock.connect(path)
            break
        except (BlockingIOError, InterruptedError):
            sock.close()
            if time.monotonic() + pause > end:
                raise DaemonTimedOut("the daemon's socket stayed full") from None
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        except BaseException:
            sock.close()
            raise
    from credhelper.peercred import peer_uid

    try:
        uid = peer_uid(sock)
    except OSError:
        uid = None
    if uid is not None and uid != os.geteuid():
        sock.close()
        raise Untrusted(f"the process listening on {path} runs as uid {uid}, not as you")
    return sock


def call(
    message: dict[str, Any],
    timeout: float = 5.0,
    path: str | None = None,
    max_reply: int = MAX_MESSAGE,
) -> dict[str, Any]:
    """Send one request to the daemon and return its reply.

    DaemonUnavailable if none answers, Untrusted if what answers may not be ours (nothing is
    sent to it), DaemonTimedOut if it took the request but did not answer in ``timeout``,
    BadReply if it answered something unreadable (ReplyTooLarge: more than ``max_reply``
    bytes, which is also told to the daemon when over the default, so that it answers a
    short error instead).
    """
    if max_reply != MAX_MESSAGE:
        message = {**message, "max_reply": max_reply}
    end = time.monotonic() + timeout
    sock = _open(path, timeout)
    try:
        return _request(sock, message, end, timeout, max_reply)
    finally:
        sock.close()


def hold(
    message: dict[str, Any], timeout: float = 5.0, path: str | None = None
) -> tuple[dict[str, Any], socket.socket]:
    """Send one request and return its reply with the connection left open: what the daemon
    granted (``credhelper exec``'s endpoint) lasts until the caller closes it, or dies."""
    end = time.monotonic() + timeout
    sock = _open(path, timeout)
    try:
        reply = _request(sock, message, end, timeout, MAX_MESSAGE)
    except BaseException:
        sock.close()
        raise
    sock.settimeout(None)
    return reply, sock


def _open(path: str | None, timeout: float) -> socket.socket:
    try:
        return _connect(path or socket_path(), timeout)
    except DaemonUnavailable:
        raise
    except OSError as exc:
        raise DaemonUnavailable(str(exc)) from None


def _request(
    sock: socket.socket, message: dict[str, Any], end: float, timeout: float, max_reply: int
) -> dict[str, Any]:
    try:
        sock.settimeout(max(0.05, end - time.monotonic()))
        sock.sendall(encode({"v": PROTOCOL, **message}))
        data = bytearray()
        size = 65536 if max_reply <= MAX_MESSAGE else 1 << 20  # the hot path's as before
        while True:
            chunk = sock.recv(size)
            if not chunk:
                break
            data += chunk
            if chunk.endswith(b"\n") or len(data) > max_reply:
                break
        if not data:
            raise BadReply("the daemon closed the connection without answering")
        return decode(bytes(data), max_reply)
    except socket.timeout:
        raise DaemonTimedOut(f"no answer within {timeout:g} s") from None
    except BadReply:
        raise
    except TooLarge:
        raise ReplyTooLarge(max_reply) from None
    except ProtocolError as exc:
        raise BadReply(f"unreadable reply from the daemon: {exc}") from None
    except OSError as exc:
        raise DaemonUnavailable(str(exc)) from None
