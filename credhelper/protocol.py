"""The daemon's wire protocol, defined once: framing, versions, what each request may hold.

One request per connection: a single JSON object on one line, answered by a single JSON
object on one line. Every request names the protocol version; the daemon validates every
field and answers a bad request with an error, never by crashing or hanging.

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


#: The socket's file name in the runtime folder.
SOCKET_NAME = "daemon.sock"


def context(env: Any = None) -> dict[str, str]:
    env = os.environ if env is None else env
    return {name: env[name] for name in CONTEXT_VARS if env.get(name)}


def encode(message: dict[str, Any]) -> bytes:
    data = json.dumps(message, separators=(",", ":")).encode() + b"\n"
    if len(data) > MAX_MESSAGE:
        raise ProtocolError("message too large")
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


def decode(line: bytes) -> dict[str, Any]:
    if len(line) > MAX_MESSAGE:
        raise ProtocolError("message too large")
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
    unknown = set(doc) - {"v", "op", "profile", "min_ttl", "context", "timeout"}
    if unknown:
        raise ProtocolError(f"unknown fields {_short(sorted(unknown))}")
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
        out["min_ttl"] = _seconds(doc, "min_ttl", 0, None)
        out["timeout"] = _seconds(doc, "timeout", 0, 86400)
    ctx = doc.get("context", {})
    if not isinstance(ctx, dict) or not all(
        isinstance(k, str) and k in CONTEXT_VARS and isinstance(v, str) and len(v) <= 4096
        for k, v in ctx.items()
    ):
        raise ProtocolError("context must map known variable names to strings")
    out["context"] = ctx
    return out


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
