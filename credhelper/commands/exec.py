"""``credhelper exec PROFILE [--] COMMAND...``: run a command with a role's credentials.

By default the command gets a container-credentials endpoint served by the daemon
(``AWS_CONTAINER_CREDENTIALS_FULL_URI`` and a token of its own), so that it, and everything
it starts, asks again before a session ends and is handed the renewed one: a command may run
for days. ``--env`` gives plain variables instead (one session, with its expiry), for tools
that read nothing else. Either way the AWS variables that would name other credentials are
removed, ``AWS_REGION`` comes from the profile, and the exit status (or the signal) is the
command's.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import subprocess
import sys
from typing import Any, Mapping

from credhelper.context import Context
from credhelper.errors import CredhelperError

log = logging.getLogger(__name__)

#: Set in the command's environment: which profile it runs as (nesting is checked by it).
EXEC_VAR = "CREDHELPER_EXEC_PROFILE"
FULL_URI = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
TOKEN = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
#: Variables that would give the command other credentials than the profile's (SDKs read
#: them before the endpoint), or another profile.
REMOVED = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_ACCOUNT_ID",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    FULL_URI,
    TOKEN,
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
)
#: Settings of the default profile that SDKs take credentials from before the endpoint.
_DEFAULT_CREDENTIALS = (
    "aws_access_key_id",
    "credential_process",
    "role_arn",
    "sso_session",
    "sso_start_url",
    "web_identity_token_file",
)
#: Passed on to the command. SIGINT and SIGQUIT are not: a terminal sends them to the whole
#: foreground group, the command included, and a second one would cut its clean-up short.
FORWARDED = (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
IGNORED_WHILE_RUNNING = (signal.SIGINT, signal.SIGQUIT)


def child_environment(
    environ: Mapping[str, str], profile: str, region: str | None
) -> dict[str, str]:
    """The command's environment: ours without what names other credentials, with the
    profile's region and the mark of the profile it runs as."""
    env = {k: v for k, v in environ.items() if k not in REMOVED}
    env[EXEC_VAR] = profile
    if region:
        env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = region
    return env


def check_nesting(profile: str, nest: bool, environ: Mapping[str, str]) -> None:
    current = environ.get(EXEC_VAR)
    if current and current != profile and not nest:
        raise CredhelperError(
            f"already inside 'credhelper exec {current}'",
            f"exit it first, or pass --nest to run {profile}'s role inside it",
            profile=profile,
        )


def run(args: argparse.Namespace, ctx: Context) -> int:
    profile: str = args.profile
    command: list[str] = list(args.argv)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise CredhelperError(
            "no command to run", "e.g. credhelper exec PROFILE -- aws s3 ls", exit_code=2
        )
    check_nesting(profile, args.nest, os.environ)
    from credhelper import profiles
    from credhelper.chain import build_chain

    chain = build_chain(profile, ctx)  # the whole chain checked now, not in the command
    region = profiles.chain_region(chain.spec, ctx.files.profiles)
    env = child_environment(os.environ, profile, region)
    if args.env:
        from credhelper import obtain
        from credhelper.commands.export import variables

        env.update(variables(obtain.credentials(profile, ctx), None))  # (region: set above)
        return _replace_with(command, env)
    _warn_default_profile(ctx, profile)
    from credhelper.endpoint_client import open_endpoint

    grant = open_endpoint(profile, ctx)
    try:
        env[FULL_URI] = grant.url
        env[TOKEN] = grant.token
        return supervise(command, env)
    finally:
        grant.close()  # the token stops working


def _warn_default_profile(ctx: Context, profile: str) -> None:
    default = ctx.files.profiles.get("default", {})
    found = [k for k in _DEFAULT_CREDENTIALS if default.get(k)]
    if found:
        log.warning(
            "warning: profile 'default' has %s, which SDKs use before the endpoint: the "
            "command may not run as '%s'; use --env, or move those settings out of 'default'",
            found[0],
            profile,
        )


def _replace_with(command: list[str], env: dict[str, str]) -> int:
    """Become the command (no endpoint to keep: nothing left for us to do)."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command[0], command, env)
    except OSError as exc:
        raise cannot_run(command[0], exc) from None
    return 0  # not reached


def cannot_run(name: str, exc: OSError) -> CredhelperError:
    """Exit codes as a shell's: 127 not found, 126 found but not runnable."""
    if isinstance(exc, FileNotFoundError):
        return CredhelperError(f"command not found: {name}", exit_code=127)
    return CredhelperError(f"cannot run {name}: {exc.strerror or exc}", exit_code=126)


def _ignore(signum: int, frame: Any) -> None:
    """Not SIG_IGN: a caught signal is back to its default in the command (execve resets
    it), an ignored one would stay ignored there."""


def supervise(command: list[str], env: dict[str, str]) -> int:
    """Run the command, passing signals on, until it ends; its exit status. A command killed
    by a signal kills us with the same signal, so that the shell sees what it would have."""
    # Handlers first: a signal sent as soon as the command runs must reach it too.
    children: list[subprocess.Popen[bytes]] = []
    pending: list[int] = []

    def forward(signum: int, frame: Any) -> None:
        if not children:
            pending.append(signum)
            return
        with contextlib.suppress(ProcessLookupError):
            children[0].send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    previous.update({sig: signal.signal(sig, _ignore) for sig in IGNORED_WHILE_RUNNING})
    try:
        try:
            child = subprocess.Popen(command, env=env)
        except OSError as exc:
            raise cannot_run(command[0], exc) from None
        children.append(child)
        for signum in pending:
            forward(signum, None)
        code = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if code < 0:
        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        return 128 - code  # a signal that does not end a process (none we pass on)
    return code
