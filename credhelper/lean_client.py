"""The launcher's client (:mod:`credhelper.launcher` runs it): ``credhelper process PROFILE``
answered by the daemon with next to nothing imported.

On a daemon hit it imports only ``os``, ``_socket`` and credhelper's :mod:`~credhelper.rundir`
and :mod:`~credhelper.recursion` (standard library only): no ``socket``, no ``json``. It asks
for the reply's ``process_line`` layout (:data:`credhelper.protocol.HIT_PREFIX`) and writes the
credential_process document as the daemon serialised it, byte for byte what ``credhelper
process`` prints. Every client-side check of :mod:`credhelper.hotpath` is kept: the runtime
folder and its trust checks (:mod:`credhelper.rundir`), the socket's owner, the listener's uid
(SO_PEERCRED), CREDHELPER_NO_DAEMON, the recursion mark, the time limit.

On a miss or any doubt it prints nothing and hands over: ``os.execv`` of the full command line
(``credhelper process PROFILE``) with the same environment, which then behaves exactly as it
does when run directly. Two answers are settled here, as the hot path settles them, so that
the call is not made twice: a daemon's error line (with its exit code) and a daemon that did
not answer in time; both import the hot path (and json) only then.

Importing it has no side effects: the hot path shares its reading of the ``CREDHELPER_*``
variables. Constants of :mod:`credhelper.protocol` are repeated here (that module imports
json); tests/unit/test_launcher.py checks they agree.
"""

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Mapping

# From credhelper.protocol (see the module doc).
PROTOCOL = 1
DEFAULT_MIN_TTL = 16 * 60
DEFAULT_TIMEOUT = 30.0
MAX_MESSAGE = 64 * 1024
SOCKET_NAME = "daemon.sock"
CONTEXT_VARS = (
    "HOME",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_STS",
    "AWS_CA_BUNDLE",
    "AWS_STS_REGIONAL_ENDPOINTS",
    "CREDHELPER_KEYRING_SERVICE",
    "AWS_ACCESS_KEY_ID",
)
HIT_PREFIX = b'{"v":1,"ok":true,"credentials":'
#: From credhelper.hotpath: beyond the deadline, how long the daemon's answer may take.
REPLY_SLACK = 2.0

#: What the hand-over runs: the full command line, with the same package, never the current
#: folder on sys.path (as ``-m`` or a bare ``-c`` would put it, ahead of the standard library).
FULL_CLI = (
    "import sys\n"
    "if sys.path and sys.path[0] == '':\n"
    "    del sys.path[0]\n"
    "from credhelper.cli import main\n"
    "sys.exit(main())\n"
)


def seconds(name: str, default: float, minimum: float) -> float:
    """A number of seconds the user set, or ValueError (the full path names the mistake)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    value = float(raw)
    if not minimum <= value < float("inf"):
        raise ValueError(name)
    return value


def no_daemon() -> bool:
    """CREDHELPER_NO_DAEMON, or ValueError for a value that is neither yes nor no."""
    raw = os.environ.get("CREDHELPER_NO_DAEMON", "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ValueError("CREDHELPER_NO_DAEMON")


def _string(text: str) -> str:
    """``text`` as a JSON string (UTF-8); ValueError for what needs more than two escapes."""
    for char in text:
        if char < " ":
            raise ValueError("control character")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def request(
    profile: str, min_ttl: float, timeout: float, env: "Mapping[str, str] | None" = None
) -> bytes:
    """The "get" request the hot path sends (plus ``process_line``), as one line of bytes."""
    env = os.environ if env is None else env
    context = ",".join(
        _string(name) + ":" + _string(env[name]) for name in CONTEXT_VARS if env.get(name)
    )
    line = (
        f'{{"v":1,"op":"get","profile":{_string(profile)},"min_ttl":{min_ttl!r},'
        f'"timeout":{timeout!r},"context":{{{context}}},"process_line":true}}\n'
    )
    return line.encode()  # a lone surrogate (an undecodable variable): UnicodeError, hand over


def peer_uid(sock: "Any") -> "int | None":
    """As :func:`credhelper.peercred.peer_uid`, without ``socket`` and ``struct``."""
    import _socket

    if sys.platform.startswith("linux"):
        data = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
        return int.from_bytes(data[4:8], sys.byteorder, signed=True)
    if sys.platform == "darwin" or "bsd" in sys.platform:
        data = sock.getsockopt(0, 0x001, 4 + 4 + 2 + 2 + 16 * 4)
        return int.from_bytes(data[4:8], sys.byteorder)
    return None


class _Miss(Exception):
    """Not settled here: hand over to the full command line."""


class _TimedOut(Exception):
    """The daemon took the request and did not answer in time (the hot path's words)."""


def _connect(path: str, timeout: float) -> "Any":
    """:func:`credhelper.transport._connect` with ``_socket``: the folder, the socket file and
    the listener checked before anything is sent; a full backlog waited out."""
    import _socket
    import time

    from credhelper import rundir

    try:
        rundir.check(os.path.dirname(path))
        rundir.check_socket(path)
    except Exception:  # untrusted or missing: the full path says which, or starts a daemon
        raise _Miss() from None
    end = time.monotonic() + timeout
    pause = 0.002
    while True:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.settimeout(max(0.05, end - time.monotonic()))
            sock.connect(path)
            break
        except (BlockingIOError, InterruptedError):
            sock.close()
            if time.monotonic() + pause > end:
                raise _TimedOut("the daemon's socket stayed full") from None
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        except BaseException:
            sock.close()
            raise
    try:
        uid = peer_uid(sock)
    except OSError:
        uid = None
    if uid is not None and uid != os.geteuid():
        sock.close()
        raise _Miss()
    return sock


def _exchange(path: str, line: bytes, timeout: float) -> bytes:
    """Send ``line``, return the reply's bytes (_TimedOut, or _Miss for anything else)."""
    import _socket
    import time

    end = time.monotonic() + timeout
    try:
        sock = _connect(path, timeout)
    except (_Miss, _TimedOut):
        raise
    except OSError:
        raise _Miss() from None
    try:
        sock.settimeout(max(0.05, end - time.monotonic()))
        sock.sendall(line)
        chunks = []
        size = 0
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if chunk.endswith(b"\n") or size > MAX_MESSAGE:
                break
        return b"".join(chunks)
    except _socket.timeout:
        raise _TimedOut(f"no answer within {timeout:g} s") from None
    except OSError:
        raise _Miss() from None
    finally:
        sock.close()


def ask(profile: str) -> "tuple[int, bytes]":
    """Settle the call: (exit code, bytes for stdout); _Miss to hand over. Prints nothing."""
    import time

    from credhelper import rundir
    from credhelper.recursion import DEPTH_VAR

    try:
        if no_daemon() or os.environ.get(DEPTH_VAR) is not None:
            raise _Miss()
        min_ttl = seconds("CREDHELPER_MIN_TTL", DEFAULT_MIN_TTL, 0)
        timeout = seconds("CREDHELPER_TIMEOUT", DEFAULT_TIMEOUT, 1)
    except ValueError:
        raise _Miss() from None
    started = time.monotonic()
    folder, warning = rundir.choose()
    if warning:
        raise _Miss()  # the full path shows it, once
    line = request(profile, min_ttl, timeout)
    path = os.path.join(folder, SOCKET_NAME)
    try:
        reply = _exchange(path, line, timeout - (time.monotonic() - started) + REPLY_SLACK)
    except _TimedOut as exc:
        from credhelper import hotpath

        hotpath.timed_out(profile, timeout, str(exc))
        return 1, b""
    if (
        reply.startswith(HIT_PREFIX + b"{")
        and reply.endswith(b"}}\n")
        and reply.count(b"\n") == 1
        and len(reply) <= MAX_MESSAGE
    ):
        return 0, reply[len(HIT_PREFIX) : -2] + b"\n"
    # Not a hit: read it as the hot path does (an error line and its exit code), or hand over.
    from credhelper import hotpath, protocol

    code = hotpath.settle(profile, protocol.decode(reply))
    if code is None:
        raise _Miss()
    return code, b""


def hand_over(args: "list[str]") -> int:
    """Become the full command line: ``credhelper process ARGS``, same environment."""
    try:
        os.execv(sys.executable, [sys.executable, "-c", FULL_CLI, "process", *args])
    except OSError as exc:
        sys.stderr.write(f"credhelper: cannot run {sys.executable}: {exc.strerror}\n")
    return 1


def main(args: "list[str]", fallback: "Callable[[list[str]], int] | None" = None) -> int:
    """``credhelper process ARGS``: the daemon's answer, else ``fallback(ARGS)`` (the full
    command line in this process: the single-file zipapp, whose package no other process
    can import) or, by default, :func:`hand_over`."""
    if len(args) == 1 and args[0] and not args[0].startswith("-"):
        try:
            code, out = ask(args[0])
        except KeyboardInterrupt:  # as the full command line says it
            sys.stderr.write("credhelper: interrupted\n")
            return 130
        except Exception:
            code = None
        if code is not None:
            if out:
                sys.stdout.buffer.write(out)
                sys.stdout.buffer.flush()
            return code
    sys.stdout.flush()
    sys.stderr.flush()
    return (fallback or hand_over)(args)

