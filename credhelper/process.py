"""``credhelper process PROFILE``: print credential_process JSON for a profile.

The hot path: ask the daemon over its socket (standard library only), else resolve
in-process (botocore, keyring, STS) and start the daemon for next time.
"""

from __future__ import annotations

import json
import os
import sys

from credhelper import ipc
from credhelper.errors import CredhelperError
from credhelper.settings import Settings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from credhelper.credentials import Credentials

#: Set in our environment so that a source profile whose own credential_process runs
#: credhelper for the profile we are resolving cannot recurse forever.
DEPTH_VAR = "CREDHELPER_DEPTH"
MAX_DEPTH = 4
#: A cold fetch by the daemon is an STS round trip (with botocore's retries).
DAEMON_TIMEOUT = 45.0


def _enter() -> None:
    try:
        depth = int(os.environ.get(DEPTH_VAR, "0"))
    except ValueError:
        depth = 0
    if depth >= MAX_DEPTH:
        raise CredhelperError(
            f"credhelper is running itself {depth} levels deep",
            "a source profile's credential_process leads back to credhelper; fix source_profile",
        )
    os.environ[DEPTH_VAR] = str(depth + 1)


def resolve_credentials(profile: str, settings: Settings) -> Credentials:
    """The in-process path: config, keyring cache, STS."""
    from credhelper import prompt
    from credhelper.resolver import provider_for

    _enter()
    return provider_for(profile, settings, prompt.ask).fetch()[0]


def _emit(document: dict) -> None:
    sys.stdout.write(json.dumps(document) + "\n")
    sys.stdout.flush()


def _ask_daemon(profile: str, settings: Settings) -> tuple[dict | None, bool]:
    """(reply, daemon_running). A reply of None means: resolve in-process."""
    request = {
        "op": "get",
        "profile": profile,
        "min_ttl": settings.min_ttl,
        "context": ipc.context(),
    }
    try:
        reply = ipc.call(request, timeout=DAEMON_TIMEOUT)
    except ipc.DaemonUnavailable:
        return None, False
    if reply.get("ok") and isinstance(reply.get("credentials"), dict):
        return reply, True
    if reply.get("fallback") or not isinstance(reply.get("error"), str):
        return None, True
    return reply, True


#: Whether the fast path already asked the daemon: None (not asked), or whether one answered.
_daemon_running: bool | None = None


def from_daemon(profile: str, min_ttl: float | None = None) -> int | None:
    """The fast path: the daemon's answer printed, and an exit code; None to go in-process.

    Standard library only, by design: a test checks no third-party module is imported here.
    """
    global _daemon_running
    try:
        settings = Settings.from_env(min_ttl=min_ttl)
    except CredhelperError:
        return None  # the full path reports it
    if not settings.use_daemon or os.environ.get(DEPTH_VAR) is not None:
        return None
    reply, _daemon_running = _ask_daemon(profile, settings)
    if reply is None:
        return None
    if reply.get("ok"):
        _emit(reply["credentials"])
        return 0
    print(reply["error"], file=sys.stderr)
    code = reply.get("exit_code")
    return code if isinstance(code, int) and 0 < code < 128 else 1


def run(profile: str, min_ttl: float | None = None, use_daemon: bool = True) -> int:
    """Daemon first (unless disabled), else in-process; then start the daemon for next time."""
    try:
        settings = Settings.from_env(min_ttl=min_ttl)
        if use_daemon and _daemon_running is None:
            served = from_daemon(profile, min_ttl)
            if served is not None:
                return served
        creds = resolve_credentials(profile, settings)
    except CredhelperError as exc:
        raise exc.for_profile(profile) from exc.__cause__
    _emit(creds.process_output())
    if use_daemon and settings.use_daemon and settings.autostart and not _daemon_running:
        from credhelper.daemon.launch import start_in_background

        start_in_background()
    return 0
