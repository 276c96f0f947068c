"""The daemon's wire protocol, defined once: framing, versions, what each request may hold.

One request per connection: a single JSON object on one line, answered by a single JSON
object on one line. Every request names the protocol version; the daemon validates every
field and answers a bad request with an error, never by crashing or hanging.

Sizes: a request is at most :data:`MAX_MESSAGE` (64 KiB), whoever sends it: the daemon never
reads more from a client. A reply is at most :data:`MAX_MESSAGE` too, unless the request says
it takes more (``"max_reply": BYTES``, at most :data:`MAX_REPLY`): ``credhelper status`` over
thousands of profiles does, the hot path's ``get`` does not. Replies are not paged: one
status reply is one consistent snapshot, and a client that asked for a large one trusts the
daemon it checked (same uid) for that much memory. A reply that would pass the client's
limit is replaced by a short error saying so (an older client, which sends no ``max_reply``,
reads that line instead of a cut-off document).

Standard library only: the hot path (:mod:`credhelper.hotpath`) imports it.
"""

from __future__ import annotations

import json
import math
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PROTOCOL = 1
#: What a caller asks for when the user set nothing (CREDHELPER_MIN_TTL, CREDHELPER_TIMEOUT):
#: botocore re-runs the helper on every call when < 15 min remain; keep a margin above that.
DEFAULT_MIN_TTL = 16 * 60
#: One call's time limit, seconds: longer than any healthy STS round trip with retries,
#: short enough that a script sees one clear line instead of hanging.
DEFAULT_TIMEOUT = 30.0
#: The cap on a request, and on a reply to a request that names no ``max_reply``.
MAX_MESSAGE = 64 * 1024
#: The most a client may ask a reply to be (``max_reply``): 5,000 status rows take ~2.5 MB.
MAX_REPLY = 64 * 1024 * 1024
OPS = ("get", "status", "stop", "ping", "forget", "endpoint")
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


#: The socket's file name in the runtime folder.
SOCKET_NAME = "daemon.sock"


def context(env: Any = None) -> dict[str, str]:
    env = os.environ if env is None else env
    return {name: env[name] for name in CONTEXT_VARS if env.get(name)}


class TooLarge(ProtocolError):
    """A message over the limit it is read or written under."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"message too large ({size} bytes, over the limit of {limit})")
        self.size = size
        self.limit = limit


#: A hit, when the request set ``process_line``: these bytes, the credential_process document
#: exactly as ``credhelper process`` prints it (:func:`process_document`, one line), "}\n".
#: Still one JSON object (the same as without the flag), so any reader decodes it; the
#: launcher (:mod:`credhelper.launcher`) writes the document out without a JSON parser.
HIT_PREFIX = b'{"v":1,"ok":true,"credentials":'


def process_document(credentials: dict[str, Any]) -> str:
    """The credential_process document as ``credhelper process`` prints it (no newline)."""
    return json.dumps(credentials)


def encode_hit(credentials: dict[str, Any]) -> bytes:
    """A hit in the ``process_line`` layout (see :data:`HIT_PREFIX`)."""
    data = HIT_PREFIX + process_document(credentials).encode() + b"}\n"
    if len(data) > MAX_MESSAGE:
        raise TooLarge(len(data), MAX_MESSAGE)
    return data


def encode(message: dict[str, Any], limit: int = MAX_MESSAGE) -> bytes:
    data = json.dumps(message, separators=(",", ":")).encode() + b"\n"
    if len(data) > limit:
        raise TooLarge(len(data), limit)
    return data


def _short(value: Any) -> str:
    """A value quoted in an error, cut short: the reply must stay small whatever was sent."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc = dict(pairs)
    if len(doc) != len(pairs):
        raise ProtocolError("duplicate key in a JSON object")
    return doc


def decode(line: bytes, limit: int = MAX_MESSAGE) -> dict[str, Any]:
    if len(line) > limit:
        raise TooLarge(len(line), limit)
    try:
        doc = json.loads(line, object_pairs_hook=_unique_keys)
    except ProtocolError:
        raise
    except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested too deep
        raise ProtocolError("not a JSON document") from None
    if not isinstance(doc, dict):
        raise ProtocolError("not a JSON object")
    if type(doc.get("v")) is not int or doc["v"] != PROTOCOL:  # true == 1.0 == 1 in Python
        raise ProtocolError(f"unsupported protocol version {_short(doc.get('v'))}")
    return doc


def validate_request(doc: dict[str, Any]) -> dict[str, Any]:
    """Check every field of a request; return it with defaults filled in."""
    op = doc.get("op")
    if op not in OPS:
        raise ProtocolError(f"unknown op {_short(op)}")
    unknown = set(doc) - {
        "v", "op", "profile", "min_ttl", "context", "timeout", "max_reply", "process_line",
        "bind", "port",
    }
    if unknown:
        raise ProtocolError(f"unknown fields {_short(sorted(unknown))}")
    out: dict[str, Any] = {"op": op, "max_reply": _max_reply(doc)}
    if op == "forget":  # drop sessions from memory: one profile's, or (no profile) all
        profile = doc.get("profile")
        if profile is not None and (not isinstance(profile, str) or not 0 < len(profile) <= 256):
            raise ProtocolError("profile must be a string of 1 to 256 characters")
        out["profile"] = profile
    if op in ("get", "endpoint"):  # a session for a profile
        profile = doc.get("profile")
        if not isinstance(profile, str) or not 0 < len(profile) <= 256 or not profile.isprintable():
            raise ProtocolError("profile must be a printable string of 1 to 256 characters")
        out["profile"] = profile
        out["timeout"] = _seconds(doc, "timeout", 0, 86400)
    if op == "endpoint":  # a container-credentials endpoint, held while the connection is
        bind = doc.get("bind", "127.0.0.1")
        if not isinstance(bind, str) or not 0 < len(bind) <= 64:
            raise ProtocolError("bind must be an IP address")
        port = doc.get("port", 0)
        if type(port) is not int or not 0 <= port <= 65535:
            raise ProtocolError("port must be a whole number from 0 to 65535")
        out["bind"], out["port"] = bind, port
    if op == "get":
        out["min_ttl"] = _seconds(doc, "min_ttl", 0, None)
        # The launcher's ask: a hit in the HIT_PREFIX layout. Older daemons refuse the field
        # (with "fallback"), and the launcher then hands over to the full command line.
        line = doc.get("process_line", False)
        if type(line) is not bool:
            raise ProtocolError("process_line must be true or false")
        out["process_line"] = line
    ctx = doc.get("context", {})
    if not isinstance(ctx, dict) or not all(
        isinstance(k, str) and k in CONTEXT_VARS and isinstance(v, str) and len(v) <= 4096
        for k, v in ctx.items()
    ):
        raise ProtocolError("context must map known variable names to strings")
    out["context"] = ctx
    return out


def _max_reply(doc: dict[str, Any]) -> int:
    """The largest reply the client takes, in bytes (MAX_MESSAGE when it names none)."""
    value = doc.get("max_reply")
    if value is None:
        return MAX_MESSAGE
    if type(value) is not int or not MAX_MESSAGE <= value <= MAX_REPLY:
        raise ProtocolError(f"max_reply must be a whole number from {MAX_MESSAGE} to {MAX_REPLY}")
    return value


def _seconds(doc: dict[str, Any], name: str, low: float, high: float | None) -> float | None:
    value = doc.get(name)
    if value is None:
        return None
    try:
        number = float(value) if type(value) in (int, float) else math.nan
    except OverflowError:  # an integer of 400 digits
        number = math.nan
    if not math.isfinite(number) or number < low or (high is not None and number > high):
        span = f"from {low:g} to {high:g}" if high is not None else f">= {low:g}"
        raise ProtocolError(f"{name} must be a number of seconds {span}")
    return number
