"""What commands ask a running daemon besides sessions: to forget some (``add``, ``remove``,
``clear``, ``login``). Not running is not an error: then nothing is held in memory."""

from __future__ import annotations

import logging
from typing import Any, Iterable

from credhelper import protocol, transport

log = logging.getLogger(__name__)


def forget(profiles: Iterable[str] | None) -> list[str]:
    """Make a running daemon drop sessions from memory (``None``: all); what it dropped."""
    # (with our AWS environment: the daemon drops what it holds for it, and the same
    # sessions held for other environments)
    context = protocol.context()
    if profiles is None:
        messages: list[dict[str, Any]] = [{"op": "forget", "context": context}]
    else:
        messages = [{"op": "forget", "profile": p, "context": context} for p in profiles]
    dropped: list[str] = []
    for message in messages:
        try:
            reply = transport.call(message, timeout=5.0)
        except transport.DaemonUnavailable:
            return dropped  # none running: nothing held in memory
        if not reply.get("ok"):
            log.warning("warning: the daemon did not forget: %s", reply.get("error"))
            continue
        dropped.extend(n for n in reply.get("dropped", []) if isinstance(n, str))
    return dropped
