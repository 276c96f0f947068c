"""``credhelper login PROFILE``: enter the MFA code ahead of time, from a terminal.

After it, every role assumed from that MFA session (by any process, or the daemon) needs no
code until the MFA session ends, so scripts and IDEs that have no terminal just work.
"""

from __future__ import annotations

import argparse

from credhelper.chain import build_chain
from credhelper.context import Context
from credhelper.credentials import Credentials, format_time
from credhelper.present import duration, local_time


def _until(creds: Credentials) -> str:
    """When ``creds`` end, for a person: local time with its zone (as ``list`` shows it)."""
    if creds.expiration is None:
        return "never"
    return f"{local_time(format_time(creds.expiration))} ({duration(creds.seconds_left())} left)"


def run(args: argparse.Namespace, ctx: Context) -> int:
    profile: str = args.profile
    chain = build_chain(profile, ctx)
    if chain.mfa is not None:
        if args.force:
            chain.mfa.forget()
        session = chain.mfa.fetch().credentials
        print(f"MFA session for {chain.mfa_serial} valid until {_until(session)}")
    creds = chain.fetch().credentials
    print(f"profile '{profile}' ready until {_until(creds)}")
    from credhelper.daemon import client

    client.forget([profile])  # a daemon that reported "MFA needed" picks the new session up now
    return 0
