"""``credhelper status``: what the daemon holds. Never a secret: profiles, ARNs, times.

Readable at any size: a summary line first (how many profiles, how many with an error, waiting
for MFA, expiring, expired), then the table, which PROFILE patterns (shell globs) and
``--problems`` narrow; ``--summary`` leaves the table out. ``--json`` keeps its documented
shape (README), with a ``summary`` object added.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from typing import Any

from credhelper import protocol, sts, transport  # (sts imports botocore only for STS calls)
from credhelper.context import Context
from credhelper.errors import CredhelperError
from credhelper.present import WIDTH, duration, local_time, plural, role_name
from credhelper.present import table as table_lines

#: The largest status reply read: about 100,000 profiles.
MAX_REPLY = protocol.MAX_REPLY
#: How long the daemon has to answer (a status of thousands of profiles takes milliseconds).
TIMEOUT = 10.0
#: Problems a row can have, in the order the summary names them.
PROBLEMS = ("errors", "mfa_needed", "expiring_soon", "expired")


def problems(row: dict[str, Any], soon: float) -> list[str]:
    """What is wrong with one status row (none: it is fine). ``soon``: seconds left under
    which a session counts as expiring (the hand-out floor: the daemon renews before it)."""
    found = []
    if row.get("last_error"):
        found.append("errors")
    if row.get("mfa_needed") is True:
        found.append("mfa_needed")
    left = row.get("seconds_left")
    if not isinstance(left, (int, float)) or isinstance(left, bool) or left <= 0:
        found.append("expired")
    elif left < soon:
        found.append("expiring_soon")
    return found


def summarize(rows: list[dict[str, Any]], held: int, soon: float) -> dict[str, Any]:
    """Counts over ``rows`` (those shown), with ``held``: how many the daemon holds."""
    counts = dict.fromkeys(PROBLEMS, 0)
    ok = 0
    for row in rows:
        found = problems(row, soon)
        ok += not found
        for name in found:
            counts[name] += 1
    return {"held": held, "shown": len(rows), "ok": ok, **counts, "expiring_within": soon}


def summary_line(summary: dict[str, Any], patterns: list[str], only_problems: bool) -> str:
    held, shown = summary["held"], summary["shown"]
    if patterns or only_problems:
        what = []
        if patterns:
            what.append("matching " + " ".join(repr(p) for p in patterns))
        if only_problems:
            what.append("with a problem")
        head = f"{shown} of {plural(held, 'profile')} {', '.join(what)}"
    else:
        head = plural(held, "profile")
    parts = [f"{summary['ok']} ok"]
    if summary["errors"]:
        parts.append(f"{summary['errors']} with errors")
    if summary["mfa_needed"]:
        parts.append(f"{summary['mfa_needed']} MFA needed")
    if summary["expiring_soon"]:
        parts.append(
            f"{summary['expiring_soon']} expiring within {duration(summary['expiring_within'])}"
        )
    if summary["expired"]:
        parts.append(f"{summary['expired']} expired or empty")
    return f"{head}: {', '.join(parts)}"


def table(
    reply: dict[str, Any],
    rows: list[dict[str, Any]] | None = None,
    head: str = "",
    wide: bool = False,
    every: bool = False,
) -> str:
    """The daemon's line, a skew warning, its environments, ``head``, then one row per
    profile: within :data:`present.WIDTH` columns by default (role name, errors shortened);
    ``wide``: the role ARN, where the session and the keys come from, whole errors;
    ``every``: the rows of every environment, each naming its own (ENV)."""
    daemon = reply.get("daemon", {})
    lines = [
        f"daemon pid {daemon.get('pid')} (credhelper {daemon.get('version')}), "
        f"socket {daemon.get('socket')}"
    ]
    lines.extend(environment_lines(daemon, every))
    skew = reply.get("clock_skew_seconds")
    if isinstance(skew, (int, float)) and abs(skew) > sts.SKEW_WARNED:
        lines.append(f"warning: {sts.skew_text(skew)}")
    if head:
        lines.append(head)
    shown = reply.get("profiles", []) if rows is None else rows
    if wide:
        header: tuple[str, ...] = (
            "PROFILE",
            "ROLE ARN",
            "EXPIRES",
            "LEFT",
            "RENEWS IN",
            "SOURCE",
            "KEYS FROM",
            "LAST ERROR",
        )
    else:
        header = ("PROFILE", "ROLE", "EXPIRES", "LEFT", "RENEWS IN", "LAST ERROR")
    if every:
        header = (header[0], "ENV", *header[1:])
    cells: list[tuple[str, ...]] = [header]
    for p in shown:
        error = p.get("last_error") or ""
        if p.get("mfa_needed") is True and not error:
            error = "MFA needed: run 'credhelper login " + str(p.get("profile")) + "'"
        first = [
            str(p.get("profile") or "-"),
            *([str(p.get("environment") or "-")] if every else []),
            str(p.get("role_arn") or "-") if wide else role_name(p.get("role_arn")),
            local_time(p.get("expiration")),
            duration(p.get("seconds_left")),
            duration(p.get("renews_in")),
        ]
        if wide:
            first += [str(p.get("source") or "-"), str(p.get("keys_from") or "-")]
        arn = p.get("role_arn")
        if not wide and isinstance(arn, str) and str(error).startswith(f"AssumeRole on {arn} "):
            # the ROLE column names it already: "AssumeRole failed: InvalidClientTokenId: ..."
            error = "AssumeRole " + str(error)[len(f"AssumeRole on {arn} ") :]
        cells.append((*first, str(error)))
    if len(cells) == 1:
        if not reply.get("profiles"):
            lines.append("no profiles served yet")
        return "\n".join(lines)
    lines.extend(table_lines(cells, width=None if wide else WIDTH))
    return "\n".join(lines)


def environments(daemon: dict[str, Any]) -> list[dict[str, Any]]:
    """The environments a daemon reports (none: an older daemon, serving one)."""
    envs = daemon.get("environments") if isinstance(daemon, dict) else None
    return [e for e in envs if isinstance(e, dict)] if isinstance(envs, list) else []


def _context_text(env: dict[str, Any]) -> str:
    context = env.get("context")
    if not isinstance(context, dict) or not context:
        return "no AWS variables"
    return ", ".join(f"{k}={v}" for k, v in sorted(context.items()))


def environment_lines(daemon: dict[str, Any], every: bool) -> list[str]:
    """What to say of the daemon's environments: nothing while it serves only this shell's;
    else which one is this shell's and how to see the others (``every``: one line each)."""
    envs = environments(daemon)
    yours = daemon.get("yours")
    if not envs or (len(envs) == 1 and yours == envs[0].get("id")):
        return []
    lines = []
    if yours is None:
        lines.append(
            "this shell's AWS environment is not served yet: its first 'credhelper process' "
            "call adds it"
        )
    if every:
        for env in envs:
            marks = [m for m, on in (("this shell's", env.get("id") == yours),
                                     ("the daemon's own", env.get("home") is True)) if on]
            mark = f" ({', '.join(marks)})" if marks else ""
            lines.append(
                f"env {env.get('id')}{mark}: {plural(int(env.get('profiles') or 0), 'profile')}; "
                f"{_context_text(env)}"
            )
    else:
        others = [e for e in envs if e.get("id") != yours]
        held = sum(int(e.get("profiles") or 0) for e in others)
        lines.append(
            f"also serving {plural(len(others), 'other AWS environment')} "
            f"({plural(held, 'profile')}): 'credhelper status --all' shows them"
        )
    return lines


def in_scope(reply: dict[str, Any], every: bool) -> list[dict[str, Any]]:
    """The rows of this shell's environment (``every``: of all of them); all rows from a
    daemon that names no environments (an older one)."""
    rows = [r for r in reply.get("profiles", []) if isinstance(r, dict)]
    daemon = reply.get("daemon")
    if every or not isinstance(daemon, dict) or not environments(daemon):
        return rows
    yours = daemon.get("yours")
    return [r for r in rows if yours is not None and r.get("environment") == yours]


class NoDaemon(CredhelperError):
    """No daemon is running: ``status --json`` still prints its document (exit code 3)."""


#: ``status --json``'s exit code when no daemon runs (its document says ``"daemon": null``).
NO_DAEMON_EXIT = 3


def ask_daemon() -> dict[str, Any]:
    """The daemon's status reply; CredhelperError with one clear line otherwise."""
    try:
        # (with our AWS environment, so that the daemon says which of its environments it is)
        reply = transport.call(
            {"op": "status", "context": protocol.context()}, timeout=TIMEOUT, max_reply=MAX_REPLY
        )
        if not reply.get("ok") and "max_reply" in str(reply.get("error")):
            # A daemon older than this client, which knows no max_reply: ask it as it expects.
            reply = transport.call({"op": "status"}, timeout=TIMEOUT)
    except transport.Untrusted as exc:
        raise CredhelperError(
            f"not asking the daemon: {exc}", "see 'Trust' in docs/security.md"
        ) from None
    except transport.DaemonTimedOut as exc:
        raise CredhelperError(
            f"the daemon did not answer ({exc})", "see its log, or restart it"
        ) from None
    except transport.ReplyTooLarge as exc:
        raise CredhelperError(
            f"the daemon's status is over {exc.limit} bytes, more than credhelper reads",
            "see its log",
        ) from None
    except transport.BadReply as exc:
        raise CredhelperError(
            f"the daemon answered something this credhelper cannot read ({exc})",
            "it may be of another version: run 'credhelper daemon stop', and the next call "
            "starts this one",
        ) from None
    except transport.DaemonUnavailable:
        raise NoDaemon(
            "no credhelper daemon is running",
            "it starts on the first 'credhelper process' call, or run 'credhelper daemon'",
        ) from None
    if not reply.get("ok"):
        error = reply.get("error")
        if "too large" in str(error):
            raise CredhelperError(
                f"the daemon answered: {error}",
                "it is older than this credhelper: run 'credhelper daemon stop', and the next "
                "call starts this one",
            )
        raise CredhelperError(f"the daemon answered: {error}", "see its log")
    if not isinstance(reply.get("profiles", []), list):
        raise CredhelperError(
            "the daemon answered something this credhelper cannot read (no list of profiles)",
            "it may be of another version: run 'credhelper daemon stop'",
        )
    return reply


def select(
    rows: list[dict[str, Any]], patterns: list[str], only_problems: bool, soon: float
) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows to show, and the patterns that matched none of the daemon's profiles."""
    unmatched = []
    if patterns:
        names = [str(r.get("profile")) for r in rows]
        unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(n, p) for n in names)]
        rows = [r for r, n in zip(rows, names) if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
    if only_problems:
        rows = [r for r in rows if problems(r, soon)]
    return rows, unmatched


def run(args: argparse.Namespace, ctx: Context) -> int:
    try:
        reply = ask_daemon()
    except NoDaemon as exc:
        if not args.json:
            raise
        # JSON always: the same document, with no daemon and nothing held.
        summary = summarize([], 0, ctx.settings.min_ttl)
        doc: dict[str, Any] = {
            "daemon": None,
            "profiles": [],
            "clock_skew_seconds": None,
            "summary": summary,
        }
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        sys.stdout.flush()
        print(exc.line(), file=sys.stderr)
        return NO_DAEMON_EXIT
    patterns: list[str] = list(getattr(args, "profiles", None) or [])
    only_problems = bool(getattr(args, "problems", False))
    soon = ctx.settings.min_ttl
    every = bool(getattr(args, "all", False))
    everything = in_scope(reply, every)
    rows, unmatched = select(everything, patterns, only_problems, soon)
    summary = summarize(rows, len(everything), soon)
    if args.json:
        doc = {
            "daemon": reply.get("daemon"),
            "profiles": rows,
            "clock_skew_seconds": reply.get("clock_skew_seconds"),
            "summary": summary,
        }
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    else:
        head = summary_line(summary, patterns, only_problems)
        if getattr(args, "summary", False):
            rows = []
        wide = bool(getattr(args, "wide", False))
        sys.stdout.write(table(reply, rows, head, wide=wide, every=every) + "\n")
    if unmatched:
        sys.stdout.flush()
        names = ", ".join(repr(p) for p in unmatched)
        print(f"credhelper: the daemon holds no profile matching {names}", file=sys.stderr)
        return 1
    return 0
