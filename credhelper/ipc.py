"""The daemon's wire protocol and its client. Standard library only: this is the hot path.

One request per connection: a single JSON object on one line, answered by a single JSON
object on one line. Every request names the protocol version; the daemon validates every
field and answers a bad request with an error, never by crashing or hanging.
"""

from __future__ import annotations

import json
import os
import socket
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PROTOCOL = 1
MAX_MESSAGE = 64 * 1024
OPS = ("get", "status", "stop", "ping", "forget")
#: Environment variables that change what a profile resolves to. A daemon answers only
#: callers whose values match its own; others resolve in-process (correct, just slower).
CONTEXT_VARS = (
    "HOME",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_STS",
    "AWS_CA_BUNDLE",
    "AWS_STS_REGIONAL_ENDPOINTS",
    "CREDHELPER_KEYRING_SERVICE",
    # credential_source = Environment: other keys in the environment are another identity.
    "AWS_ACCESS_KEY_ID",
)


class ProtocolError(ValueError):
    """A message that breaks the protocol; its text is safe to send back."""


class DaemonUnavailable(OSError):
    """No daemon answered (no socket, refused, timed out, or garbage)."""


def runtime_dir() -> str:
    """The per-user runtime folder, as ``platformdirs.user_runtime_dir("credhelper")``.

    Written out with the standard library so that the hot path need not import platformdirs;
    a test checks that both agree.
    """
    override = os.environ.get("CREDHELPER_RUNTIME_DIR")
    if override:
        return override
    if sys.platform == "darwin":
        return os.path.expanduser("~/Library/Caches/TemporaryItems/credhelper")
    uid = os.geteuid()
    xdg = os.environ.get("XDG_RUNTIME_DIR", "").strip()
    for base in (xdg, f"/run/user/{uid}"):
        if base and os.path.isabs(base) and _private_dir_of(base, uid):
            return os.path.join(base, "credhelper")
    tmp = os.environ.get("TMPDIR") or "/tmp"
    return os.path.join(tmp, f"runtime-{uid}", "credhelper")


def _private_dir_of(path: str, uid: int) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    import stat

    return stat.S_ISDIR(st.st_mode) and st.st_uid == uid and st.st_mode & 0o077 == 0


def socket_path() -> str:
    return os.path.join(runtime_dir(), "daemon.sock")


def context(env: Any = None) -> dict[str, str]:
    env = os.environ if env is None else env
    return {name: env[name] for name in CONTEXT_VARS if env.get(name)}


def encode(message: dict[str, Any]) -> bytes:
    data = json.dumps(message, separators=(",", ":")).encode() + b"\n"
    if len(data) > MAX_MESSAGE:
        raise ProtocolError("message too large")
    return data


def decode(line: bytes) -> dict[str, Any]:
    if len(line) > MAX_MESSAGE:
        raise ProtocolError("message too large")
    try:
        doc = json.loads(line)
    except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested too deep
        raise ProtocolError("not a JSON document") from None
    if not isinstance(doc, dict):
        raise ProtocolError("not a JSON object")
    if type(doc.get("v")) is not int or doc["v"] != PROTOCOL:  # true == 1.0 == 1 in Python
        raise ProtocolError(f"unsupported protocol version {doc.get('v')!r}")
    return doc


def validate_request(doc: dict[str, Any]) -> dict[str, Any]:
    """Check every field of a request; return it with defaults filled in."""
    op = doc.get("op")
    if op not in OPS:
        raise ProtocolError(f"unknown op {op!r}")
    unknown = set(doc) - {"v", "op", "profile", "min_ttl", "context"}
    if unknown:
        raise ProtocolError(f"unknown fields {sorted(unknown)}")
    out: dict[str, Any] = {"op": op}
    if op == "forget":  # drop sessions from memory: one profile's, or (no profile) all
        profile = doc.get("profile")
        if profile is not None and (not isinstance(profile, str) or not 0 < len(profile) <= 256):
            raise ProtocolError("profile must be a string of 1 to 256 characters")
        out["profile"] = profile
    if op == "get":
        profile = doc.get("profile")
        if not isinstance(profile, str) or not 0 < len(profile) <= 256 or not profile.isprintable():
            raise ProtocolError("profile must be a printable string of 1 to 256 characters")
        out["profile"] = profile
        min_ttl = doc.get("min_ttl")
        if min_ttl is not None and (
            isinstance(min_ttl, bool)
            or not isinstance(min_ttl, (int, float))
            or not 0 <= min_ttl <= 43200
        ):
            raise ProtocolError("min_ttl must be a number of seconds from 0 to 43200")
        out["min_ttl"] = min_ttl
    ctx = doc.get("context", {})
    if not isinstance(ctx, dict) or not all(
        isinstance(k, str) and k in CONTEXT_VARS and isinstance(v, str) and len(v) <= 4096
        for k, v in ctx.items()
    ):
        raise ProtocolError("context must map known variable names to strings")
    out["context"] = ctx
    return out


def call(message: dict[str, Any], timeout: float = 5.0, path: str | None = None) -> dict[str, Any]:
    """Send one request to the daemon and return its reply; DaemonUnavailable if none."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(path or socket_path())
        sock.sendall(encode({"v": PROTOCOL, **message}))
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
        return decode(b"".join(chunks))
    except (OSError, ProtocolError) as exc:
        raise DaemonUnavailable(str(exc)) from None
    finally:
        sock.close()
