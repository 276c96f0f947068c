"""``credhelper status``: what the daemon holds. Never a secret: profiles, ARNs, times."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from credhelper import sts, transport  # (sts imports botocore only when it calls STS)
from credhelper.context import Context
from credhelper.errors import CredhelperError
from credhelper.present import duration
from credhelper.present import table as table_lines


def table(reply: dict[str, Any]) -> str:
    daemon = reply.get("daemon", {})
    lines = [
        f"daemon pid {daemon.get('pid')} (credhelper {daemon.get('version')}), "
        f"socket {daemon.get('socket')}"
    ]
    skew = reply.get("clock_skew_seconds")
    if isinstance(skew, (int, float)) and abs(skew) > sts.SKEW_WARNED:
        lines.append(f"warning: {sts.skew_text(skew)}")
    rows = [
        (
            "PROFILE",
            "ROLE",
            "EXPIRES (UTC)",
            "LEFT",
            "RENEWS IN",
            "SOURCE",
            "KEYS FROM",
            "LAST ERROR",
        )
    ]
    for p in reply.get("profiles", []):
        rows.append(
            (
                p.get("profile") or "-",
                p.get("role_arn") or "-",
                (p.get("expiration") or "-").replace("T", " ").rstrip("Z"),
                duration(p.get("seconds_left")),
                duration(p.get("renews_in")),
                p.get("source") or "-",
                p.get("keys_from") or "-",
                p.get("last_error") or "",
            )
        )
    if len(rows) == 1:
        lines.append("no profiles served yet")
        return "\n".join(lines)
    lines.extend(table_lines(rows))
    return "\n".join(lines)


def run(args: argparse.Namespace, ctx: Context) -> int:
    try:
        reply = transport.call({"op": "status"}, timeout=5.0)
    except transport.Untrusted as exc:
        raise CredhelperError(
            f"not asking the daemon: {exc}", "see 'Trust' in docs/security.md"
        ) from None
    except transport.DaemonUnavailable:
        raise CredhelperError(
            "no credhelper daemon is running",
            "it starts on the first 'credhelper process' call, or run 'credhelper daemon'",
        ) from None
    if not reply.get("ok"):
        raise CredhelperError(f"the daemon answered: {reply.get('error')}", "see its log")
    if args.json:
        doc = {
            "daemon": reply.get("daemon"),
            "profiles": reply.get("profiles", []),
            "clock_skew_seconds": reply.get("clock_skew_seconds"),
        }
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(table(reply) + "\n")
    return 0
