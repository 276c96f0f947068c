"""``credhelper login PROFILE``: enter the MFA code ahead of time, from a terminal.

After it, every role assumed from that MFA session (by any process, or the daemon) needs no
code until the MFA session ends, so scripts and IDEs that have no terminal just work.
"""

from __future__ import annotations

from credhelper import prompt
from credhelper.credentials import Credentials, format_time
from credhelper.present import duration
from credhelper.settings import Settings


def _until(creds: Credentials) -> str:
    if creds.expiration is None:
        return "never"
    return f"{format_time(creds.expiration)} ({duration(creds.seconds_left())} left)"


def run(profile: str, force: bool = False) -> int:
    from credhelper import ipc
    from credhelper.resolver import provider_for

    settings = Settings.from_env()
    resolved = provider_for(profile, settings, prompt.ask)
    if resolved.mfa is not None:
        mfa_key = resolved.mfa.key
        held = resolved.mfa.store.get(mfa_key)
        if force and held is not None:
            resolved.mfa.store.delete(mfa_key)
        session = resolved.mfa.fetch()
        serial = resolved.mfa.inner.step.serial  # type: ignore[attr-defined]
        print(f"MFA session for {serial} valid until {_until(session)}")
    creds, _ = resolved.fetch()
    print(f"profile '{profile}' ready until {_until(creds)}")
    try:  # a daemon that reported "MFA needed" picks the new session up now
        ipc.call({"op": "forget", "profile": profile}, timeout=5.0)
    except ipc.DaemonUnavailable:
        pass
    return 0
