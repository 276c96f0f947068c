"""The ``credhelper`` command line. Subcommands are imported lazily to keep start-up fast."""

from __future__ import annotations

import sys

from credhelper import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:  # the hot path goes through main(): nothing but the standard library
    import argparse
    from typing import Sequence

    from credhelper.hotpath import Asked


def _parser() -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(
        prog="credhelper",
        description="Assumed-role AWS credentials for every SDK, cached in the OS keyring.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"credhelper {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="log every step to stderr, show tracebacks"
    )
    # --debug is accepted after the subcommand too; SUPPRESS keeps it from resetting the flag.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser(
        "process",
        parents=[common],
        help="print credential_process JSON for a role profile",
        description="Print credential_process JSON (Version 1) for PROFILE on stdout.",
    )
    p.add_argument("profile", metavar="PROFILE")
    p.add_argument(
        "--min-ttl",
        type=float,
        metavar="SECONDS",
        help="renew a cached session with less life left than this "
        "(default: CREDHELPER_MIN_TTL or 960)",
    )
    p.add_argument(
        "--no-daemon",
        action="store_true",
        help="neither ask nor start the background daemon (same as CREDHELPER_NO_DAEMON=1)",
    )

    x = sub.add_parser(
        "exec",
        parents=[common],
        help="run a command with a role's credentials, renewed for as long as it runs",
        description="Run COMMAND with PROFILE's role. By default it gets a container-credentials "
        "endpoint served by the daemon (AWS_CONTAINER_CREDENTIALS_FULL_URI and a token of its "
        "own, revoked when it ends), so every SDK in it asks again before a session ends; "
        "--env gives plain AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN variables "
        "instead. AWS_PROFILE and other credential variables are removed, AWS_REGION comes "
        "from the profile, and the exit status is the command's.",
    )
    x.add_argument("profile", metavar="PROFILE")
    x.add_argument(
        "--env",
        action="store_true",
        help="plain credential variables (one session, with AWS_CREDENTIAL_EXPIRATION)",
    )
    x.add_argument(
        "--nest",
        action="store_true",
        help="allow it inside another 'credhelper exec' of a different profile",
    )
    x.add_argument("argv", metavar="COMMAND", nargs=argparse.REMAINDER)

    sv = sub.add_parser(
        "serve",
        parents=[common],
        help="serve a role's credentials to containers and other programs over HTTP",
        description="Serve PROFILE's sessions as a container-credentials endpoint until "
        "interrupted, and print the two variables to give a program "
        "(AWS_CONTAINER_CREDENTIALS_FULL_URI, AWS_CONTAINER_AUTHORIZATION_TOKEN). Loopback "
        "only unless --bind names another address.",
    )
    sv.add_argument("profile", metavar="PROFILE")
    sv.add_argument(
        "--port", type=int, default=0, metavar="N", help="the port (default: any free one)"
    )
    sv.add_argument(
        "--bind", default="127.0.0.1", metavar="ADDR", help="the address (default 127.0.0.1)"
    )

    d = sub.add_parser(
        "daemon",
        parents=[common],
        help="run the background refresher in the foreground, or stop it",
        description="Run the refresher in the foreground (for systemd/launchd), logging to "
        "stderr; 'credhelper daemon stop' stops a running one.",
    )
    d.add_argument("action", nargs="?", choices=["run", "stop"], default="run")

    s = sub.add_parser(
        "status",
        parents=[common],
        help="what the daemon holds: profiles, expiries, renewals, errors",
        description="Show the profiles the daemon serves for this shell's AWS environment (--all: "
        "for every environment): a summary line, then one row each. Never prints a secret. "
        "Exit code 1 when a PROFILE matches nothing.",
    )
    s.add_argument(
        "profiles",
        metavar="PROFILE",
        nargs="*",
        help="only these profiles; shell patterns welcome (quote them: 'prod-*')",
    )
    s.add_argument(
        "--problems",
        action="store_true",
        help="only profiles with an error, waiting for MFA, expiring soon or expired",
    )
    s.add_argument("--summary", action="store_true", help="the summary line, no table")
    s.add_argument(
        "--json",
        action="store_true",
        help='stable JSON output (see README); with no daemon running: "daemon": null, exit 3',
    )
    s.add_argument("--wide", action="store_true", help="every column: role ARN, source, keys from")
    s.add_argument(
        "--all",
        action="store_true",
        help="the profiles of every AWS environment the daemon serves, not only this shell's "
        "(its config files, endpoints, keyring service)",
    )

    v = sub.add_parser(
        "service",
        parents=[common],
        help="install the daemon as a user service (systemd, launchd, Task Scheduler)",
        description="Install, uninstall or show the user service that runs 'credhelper daemon' "
        "at login: a systemd user unit on Linux, a launchd agent on macOS, a Task Scheduler "
        "task on Windows.",
    )
    v.add_argument("action", choices=["install", "uninstall", "status"])

    g = sub.add_parser(
        "login",
        parents=[common],
        help="enter the MFA code now, from a terminal, so that scripts and IDEs just work",
        description="Get (or show) the MFA session for PROFILE's chain, asking for the code on "
        "this terminal; then every role assumed from it, by any process or the daemon, needs "
        "no code until the MFA session ends.",
    )
    g.add_argument("profile", metavar="PROFILE")
    g.add_argument("--force", action="store_true", help="a new MFA session even if one is valid")

    o = sub.add_parser(
        "console",
        parents=[common],
        help="open the AWS console signed in as a profile's role session (or print its URL)",
        description="Sign in to the AWS console as PROFILE's role session, through AWS's "
        "federation endpoint (CREDHELPER_FEDERATION_URL), and open it in the desktop's browser "
        "(BROWSER chooses one). The sign-in URL is a credential for 15 minutes: --print puts it "
        "on stdout instead (so does a machine with no browser, with a note on stderr).",
    )
    o.add_argument("profile", metavar="PROFILE")
    o.add_argument("--print", action="store_true", help="print the sign-in URL, open nothing")
    o.add_argument(
        "--duration",
        type=int,
        metavar="SECONDS",
        help="console session length, 900 to 43200 (default: the role session's); not for a "
        "role chained from another session",
    )
    o.add_argument(
        "--region",
        metavar="REGION",
        help="the console's region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's)",
    )

    a = sub.add_parser(
        "add",
        parents=[common],
        help="store a profile's long-term access keys in the keyring",
        description="Store PROFILE's access key id and secret in the OS keyring (asked on the "
        "terminal, the secret hidden), after checking them with sts:GetCallerIdentity. Keys in "
        "the keyring take precedence over ~/.aws/credentials.",
    )
    a.add_argument("profile", metavar="PROFILE")
    a.add_argument(
        "--env",
        action="store_true",
        help="take them from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY instead of asking",
    )
    a.add_argument("--no-validate", action="store_true", help="skip the GetCallerIdentity check")

    r = sub.add_parser(
        "remove",
        parents=[common],
        help="delete a profile's keys and sessions from the keyring",
        description="Delete PROFILE's access keys from the OS keyring, with every cached "
        "session made from them (and tell a running daemon to forget them). The AWS files are "
        "not touched.",
    )
    r.add_argument("profile", metavar="PROFILE")

    rot = sub.add_parser(
        "rotate",
        parents=[common],
        help="replace a profile's keys in the keyring with a new access key (IAM)",
        description="Rotate the access key 'credhelper add' stored for PROFILE: create a new "
        "key for the same IAM user, check it, store it in the keyring, delete the old key in "
        "IAM, and drop the sessions made from the old key. If a step fails, one key stays "
        "stored and working, and one line says which and what is left to clean up.",
    )
    rot.add_argument("profile", metavar="PROFILE", help="the profile whose keys 'add' stored")

    ls = sub.add_parser(
        "list",
        parents=[common],
        help="profiles, what the keyring holds for them, session expiries (never a secret)",
        description="List every profile of the AWS files and of the keyring: whether it is a "
        "role, where its keys come from, its cached session's expiry. No secret, no network "
        "call, no prompt.",
    )
    ls.add_argument("--json", action="store_true", help="JSON output (see README)")
    ls.add_argument(
        "--wide", action="store_true", help="every column: role ARN, source profile, key id"
    )

    c = sub.add_parser(
        "clear",
        parents=[common],
        help="drop cached sessions (of one profile, or all); stored keys stay",
        description="Drop the cached sessions of PROFILE's chain (every hop, the MFA session "
        "too), or of every profile without PROFILE, from the keyring and from a running "
        "daemon. Stored keys stay; the next call fetches new sessions.",
    )
    c.add_argument("profile", metavar="PROFILE", nargs="?")

    w = sub.add_parser(
        "wire",
        parents=[common],
        help="add a profile to ~/.aws/config whose credential_process runs credhelper",
        description="Add (or update) a profile in the AWS config whose credential_process runs "
        "credhelper's launcher for PROFILE (python -I -S .../credhelper/launcher.py PROFILE: "
        "'credhelper process PROFILE' at the interpreter's floor). The rest of the file is left "
        "byte for byte.",
    )
    w.add_argument("profile", metavar="PROFILE", help="the role profile to serve")
    w.add_argument(
        "--as",
        dest="as_name",
        metavar="NAME",
        help="name of the new profile (default: PROFILE-credhelper)",
    )
    u = sub.add_parser(
        "unwire",
        parents=[common],
        help="remove a profile credhelper wire added to ~/.aws/config",
        description="Remove exactly what 'credhelper wire' added for NAME (its section and the "
        "comment above it) from the AWS config; the rest of the file is left byte for byte. "
        "A profile wire did not write is refused.",
    )
    u.add_argument("name", metavar="NAME", help="the profile wire wrote (e.g. PROFILE-credhelper)")

    from credhelper.commands.export import FORMATS

    x = sub.add_parser(
        "export",
        parents=[common],
        help="print a profile's session as shell variables, a dotenv file or JSON",
        description="Print PROFILE's session (the daemon's, else fetched as 'credhelper "
        "process' does) on stdout for a shell to evaluate or a program to read: "
        'eval "$(credhelper export PROFILE)". The output holds secrets; on a terminal a '
        "warning says so on stderr.",
    )
    x.add_argument("profile", metavar="PROFILE")
    x.add_argument(
        "--format",
        choices=FORMATS,
        default=FORMATS[0],
        help="env (sh/bash/zsh export lines, the default), fish, powershell, dotenv "
        "(docker --env-file), json (AccessKeyId, SecretAccessKey, SessionToken, Expiration), "
        "credential-process (what 'credhelper process' prints)",
    )
    return parser


def _setup_logging(debug: bool, daemon: bool) -> None:
    import logging

    handler = logging.StreamHandler(sys.stderr)
    if daemon:
        fmt = "%(asctime)s credhelper[%(process)d] %(levelname)s %(message)s"
    elif debug:
        fmt = "credhelper: %(levelname)s %(name)s: %(message)s"
    else:
        fmt = "credhelper: %(message)s"
    handler.setFormatter(logging.Formatter(fmt))
    root = logging.getLogger("credhelper")
    root.handlers[:] = [handler]
    level = logging.INFO if daemon else logging.WARNING
    root.setLevel(logging.DEBUG if debug else level)
    root.propagate = False


def _dispatch(args: argparse.Namespace, asked: Asked | None) -> int:
    """Build the command's world once, then run the command's module in it."""
    import importlib

    from credhelper.context import Context

    ctx = Context.from_env(min_ttl=getattr(args, "min_ttl", None), asked=asked)
    command = importlib.import_module(f"credhelper.commands.{args.command}")
    code: int = command.run(args, ctx)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    asked = None
    if len(argv) == 2 and argv[0] == "process" and not argv[1].startswith("-"):
        # The hot path: `credhelper process PROFILE` answered by the daemon, with nothing
        # but the standard library imported (no argparse, no logging either).
        from credhelper import hotpath

        asked = hotpath.ask_daemon(argv[1])
        if asked.exit_code is not None:
            return asked.exit_code
    return _main(argv, asked)


def _main(argv: list[str], asked: Asked | None = None) -> int:
    import logging

    log = logging.getLogger("credhelper")
    parser = _parser()
    if not argv:  # as aws and argparse do: the usage on stderr, exit code 2
        parser.print_help(sys.stderr)
        return 2
    args = parser.parse_args(argv)
    _setup_logging(args.debug, daemon=args.command == "daemon" and args.action == "run")
    from credhelper.errors import CredhelperError

    profile = getattr(args, "profile", None)
    try:
        return _dispatch(args, asked)
    except CredhelperError as exc:
        if profile:
            exc.for_profile(profile)
        if args.debug:
            log.exception("failed")
        print(exc.line(), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("credhelper: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: still one line, unless --debug
        if args.debug:
            raise
        where = f"profile '{profile}': " if profile else ""
        print(
            f"credhelper: {where}unexpected error: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}. Rerun with --debug and report it.",
            file=sys.stderr,
        )
        return 1
