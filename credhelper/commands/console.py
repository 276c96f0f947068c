"""``credhelper console PROFILE``: the AWS console, signed in as the profile's role session.

AWS's federation endpoint, as "Enable custom identity broker access to the AWS console"
documents it: the session's three values, as JSON, buy a sign-in token
(``Action=getSigninToken``); a URL with that token (``Action=login``) signs the browser in.
The URL is a bearer credential for 15 minutes: it goes to the browser, or to stdout when
asked (``--print``), never to a log; nor do the session and the token.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping
from urllib.parse import urlencode

from credhelper.errors import CredhelperError

if TYPE_CHECKING:
    from credhelper.context import Context
    from credhelper.credentials import Credentials
    from credhelper.profiles import Chain

log = logging.getLogger(__name__)

#: What the sign-in page shows as where the session came from (aws-vault sends its name too).
ISSUER = "credhelper"
#: SessionDuration, as AWS takes it for a role session (seconds).
DURATION_RANGE = (900, 43200)
#: A sign-in token reply is a few hundred bytes; anything longer is not one.
MAX_REPLY = 64 * 1024
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")


@dataclass(frozen=True)
class Partition:
    signin: str
    console: str


#: The public sign-in endpoint and console of each partition with a console credhelper knows.
PARTITIONS = {
    "aws": Partition("https://signin.aws.amazon.com", "https://console.aws.amazon.com"),
    "aws-cn": Partition("https://signin.amazonaws.cn", "https://console.amazonaws.cn"),
    "aws-us-gov": Partition(
        "https://signin.amazonaws-us-gov.com", "https://console.amazonaws-us-gov.com"
    ),
}


def run(args: argparse.Namespace, ctx: Context) -> int:
    profile: str = args.profile
    duration: int | None = args.duration
    low, high = DURATION_RANGE
    if duration is not None and not low <= duration <= high:
        raise CredhelperError(
            f"--duration {duration} is out of range: AWS takes a console session of "
            f"{low} to {high} seconds (15 minutes to 12 hours)",
            f"pass --duration between {low} and {high}",
            exit_code=2,
        )
    endpoint = ctx.settings.federation_base()  # a bad value: exit 2 before any STS call
    spec = _chain(profile, ctx)
    role_arn = spec.roles[-1].role_arn
    partition_name = role_arn.split(":")[1]
    partition = PARTITIONS.get(partition_name)
    if partition is None:
        raise CredhelperError(
            f"credhelper knows no AWS console for partition '{partition_name}' "
            f"(of {role_arn})",
            "sign in through your partition's own console; credhelper knows "
            + ", ".join(PARTITIONS),
        )
    region = _region(args.region, spec, ctx, partition_name)
    chained = _chaining(spec, ctx.files.profiles)
    if chained is not None and duration is not None:
        raise CredhelperError(
            f"--duration cannot be used: {chained}, which AWS counts as role chaining, and "
            "its sign-in endpoint refuses a SessionDuration for such a session",
            "drop --duration: the console session then lasts as long as the role session",
            exit_code=2,
        )
    from credhelper import obtain

    creds = obtain.credentials(profile, ctx)
    if not creds.session_token:  # what the chain says should rule this out; AWS would refuse
        raise _long_term_keys()
    base = endpoint or partition.signin
    token = signin_token(
        base,
        creds,
        duration,
        timeout=ctx.settings.timeout,
        profile=profile,
        ca_bundle=_ca_bundle(spec, ctx),
    )
    url = login_url(base, destination(partition, region), token)
    if chained is not None:
        log.warning(
            "note: no SessionDuration sent (%s: AWS refuses it for role chaining); the console "
            "session lasts as long as the role session, %s",
            chained,
            _until(creds),
        )
    if args.print:
        _emit(url)
        return 0
    if open_in_browser(url):
        return 0
    log.warning(
        "note: no browser could be opened (BROWSER chooses one); the sign-in URL is on "
        "stdout. It signs anyone in for 15 minutes: paste it into your browser, share it "
        "with no one"
    )
    _emit(url)
    return 0


def _chain(profile: str, ctx: Context) -> Chain:
    """The profile's chain, read from the files (no network): a console needs a role."""
    from credhelper import profiles

    files = ctx.files
    has_keys = set(ctx.stores.keys.profiles())
    spec = profiles.resolve(profile, files.profiles, has_keys=has_keys.__contains__)
    if spec.roles:
        return spec
    if spec.mfa is not None:
        raise CredhelperError(
            "an MFA session (GetSessionToken) cannot sign in to the AWS console: AWS's "
            "federation endpoint takes a role's session only",
            "run console for a role profile (role_arn) assumed from this one",
        )
    raise _long_term_keys()


def _long_term_keys() -> CredhelperError:
    return CredhelperError(
        "long-term access keys cannot sign in to the AWS console through its federation "
        "endpoint: AWS needs a role's temporary credentials (with a session token)",
        "run console for a role profile (role_arn, with source_profile naming this one)",
    )


def _chaining(spec: Chain, values: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Why AWS would take the profile's role session for role chaining, if it would: it then
    refuses a SessionDuration. A session assumed directly with an IAM user's long-term keys is
    the only kind credhelper sends one for (with a source it cannot see into, such as SSO or a
    credential_process, it cannot tell: it takes the safe side)."""
    if len(spec.roles) > 1:
        return f"the role of '{spec.roles[-1].profile}' is assumed from another role's session"
    if spec.mfa is not None:
        return f"the role of '{spec.roles[-1].profile}' is assumed from an MFA session"
    source = spec.source
    if not source.long_term(values.get(source.profile, {})):
        return (
            f"the role of '{spec.roles[-1].profile}' is assumed with temporary credentials "
            f"(source profile '{source.profile}')"
        )
    return None


def _region(flag: str | None, spec: Chain, ctx: Context, partition: str) -> str | None:
    """The console's region: --region, else the SDKs' order (AWS_REGION, AWS_DEFAULT_REGION,
    then the profile's, down its chain); None: the console's own choice."""
    from credhelper import profiles

    region = (
        flag
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or profiles.chain_region(spec, ctx.files.profiles)
    )
    if region is None:
        return None
    code = 2 if flag else 1
    where = "--region" if flag else "the region"
    if not REGION.match(region):
        raise CredhelperError(
            f"{where} {region!r} is not an AWS region name", "e.g. eu-west-1", exit_code=code
        )
    if _partition_of(region) != partition:
        raise CredhelperError(
            f"{where} {region} is not in the role's partition ({partition})",
            "name a region of that partition",
            exit_code=code,
        )
    return region


def _partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _ca_bundle(spec: Chain, ctx: Context) -> str | None:
    """The CA bundle botocore would use (AWS_CA_BUNDLE, else the profile's ca_bundle): a
    network that intercepts TLS intercepts the sign-in endpoint too."""
    value = os.environ.get("AWS_CA_BUNDLE") or ctx.files.profiles.get(spec.profile, {}).get(
        "ca_bundle"
    )
    return value.strip() if isinstance(value, str) and value.strip() else None


def destination(partition: Partition, region: str | None) -> str:
    """The console page to land on: the region's home, or the console's own choice."""
    if region is None:
        return f"{partition.console}/"
    return f"{partition.console}/console/home?{urlencode({'region': region})}"


def login_url(base: str, destination: str, token: str) -> str:
    """The sign-in URL (``Action=login``): a bearer credential, valid 15 minutes."""
    query = {"Action": "login", "Issuer": ISSUER, "Destination": destination}
    return f"{base}/federation?{urlencode({**query, 'SigninToken': token})}"


def signin_token(
    base: str,
    creds: Credentials,
    duration: int | None,
    *,
    timeout: float,
    profile: str,
    ca_bundle: str | None = None,
) -> str:
    """A sign-in token for ``creds`` from ``base``/federation (``Action=getSigninToken``),
    within ``timeout`` in all; CredhelperError naming the status, or what did not answer."""
    session = {
        "sessionId": creds.access_key_id,
        "sessionKey": creds.secret_access_key,
        "sessionToken": creds.session_token,
    }
    query = {"Action": "getSigninToken"}
    if duration is not None:
        query["SessionDuration"] = str(duration)
    query["Session"] = json.dumps(session)
    request_url = f"{base}/federation?{urlencode(query)}"
    endpoint = f"{base}/federation"
    log.debug(
        "asking %s for a sign-in token (SessionDuration %s)",
        endpoint,
        duration if duration is not None else "omitted",
    )
    box: dict[str, Any] = {}

    def fetch() -> None:
        try:
            box["reply"] = _get(request_url, timeout, ca_bundle)
        except BaseException as exc:  # handed to the waiting thread
            box["error"] = exc

    started = time.monotonic()
    worker = threading.Thread(target=fetch, name="credhelper-federation", daemon=True)
    worker.start()
    worker.join(timeout)  # urllib's timeout is per socket operation; this bounds the whole
    if worker.is_alive():
        raise _no_answer(endpoint, timeout)
    error = box.get("error")
    if error is not None:
        raise _http_failure(error, endpoint, timeout, profile) from None
    log.debug("%s answered in %.2f s", endpoint, time.monotonic() - started)
    return _token(box["reply"], endpoint)


def _get(url: str, timeout: float, ca_bundle: str | None) -> bytes:
    """GET ``url`` over verified TLS (or http to this machine, which settings allow), no
    redirects: the request carries the session, and it goes to the endpoint named only."""
    import ssl
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None  # the 3xx is then an HTTPError, reported with its status

    context = ssl.create_default_context(cafile=ca_bundle)
    handlers: list[Any] = [NoRedirect(), urllib.request.HTTPSHandler(context=context)]
    if url.startswith("http:"):
        # Plain HTTP is allowed to this machine only (a stand-in): never through a proxy,
        # which would see the session's secret key and token in the query in clear.
        handlers.append(urllib.request.ProxyHandler({}))
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with opener.open(request, timeout=timeout) as reply:
        body: bytes = reply.read(MAX_REPLY + 1)
    return body


def _token(body: bytes, endpoint: str) -> str:
    try:
        document = json.loads(body) if len(body) <= MAX_REPLY else None
    except ValueError:
        document = None
    token = document.get("SigninToken") if isinstance(document, dict) else None
    if not isinstance(token, str) or not token or not token.isprintable():
        raise CredhelperError(
            f"{endpoint} answered without a SigninToken (not the AWS sign-in endpoint?)",
            "check CREDHELPER_FEDERATION_URL, or unset it for AWS's own endpoint",
        )
    return token


def _no_answer(endpoint: str, timeout: float) -> CredhelperError:
    return CredhelperError(
        f"the sign-in endpoint {endpoint} did not answer within {timeout:g} s",
        "check the network (and HTTPS_PROXY), or raise CREDHELPER_TIMEOUT",
    )


#: What to do about a refusal, by HTTP status (the endpoint says no more than its status).
_STATUS_HINTS = {
    400: "AWS refused this session: it takes a role's temporary credentials, and no "
    "SessionDuration for a role chained from another session; check "
    "'credhelper process {profile}', or try without --duration",
    401: "the role session was refused: get a new one with 'credhelper clear {profile}', "
    "then run console again",
    403: "the role session was refused: get a new one with 'credhelper clear {profile}', "
    "then run console again",
}


def _http_failure(
    error: BaseException, endpoint: str, timeout: float, profile: str
) -> CredhelperError:
    """One line for what went wrong on the way to the endpoint: its status, else why it was
    not reached. Never the request's URL: its query is the session."""
    import socket
    import ssl
    import urllib.error

    if isinstance(error, urllib.error.HTTPError):
        status = f"HTTP {error.code}" + (f" {error.reason}" if error.reason else "")
        hint = _STATUS_HINTS.get(error.code, "").format(profile=profile)
        if not hint:
            hint = (
                "AWS sign-in is failing: try again in a minute"
                if error.code >= 500
                else "check CREDHELPER_FEDERATION_URL, or unset it for AWS's own endpoint"
            )
        return CredhelperError(
            f"the sign-in endpoint {endpoint} refused the sign-in token request: {status}",
            hint,
        )
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, (TimeoutError, socket.timeout)):  # not one before Python 3.10
        return _no_answer(endpoint, timeout)
    if isinstance(reason, ssl.SSLCertVerificationError):
        return CredhelperError(
            f"the sign-in endpoint {endpoint} has a TLS certificate this machine does not "
            f"trust ({reason.verify_message})",
            "if your network inspects TLS, set AWS_CA_BUNDLE to its CA bundle",
        )
    if isinstance(reason, (OSError, ValueError)):
        text = str(reason).splitlines()[0] if str(reason) else type(reason).__name__
        return CredhelperError(
            f"the sign-in endpoint {endpoint} could not be reached: {text}",
            "check the network (and HTTPS_PROXY), or CREDHELPER_FEDERATION_URL",
        )
    return CredhelperError(
        f"the sign-in token request to {endpoint} failed: {type(error).__name__}",
        "rerun with --debug and report it",
    )


def open_in_browser(url: str) -> bool:
    """Open ``url`` in the desktop's browser (Python's webbrowser: BROWSER first); False
    when there is none. With no display on X11/Wayland systems and no BROWSER, none: the
    console needs a desktop browser, not lynx in this terminal. webbrowser hands the URL to
    the browser in its argv (see README)."""
    import webbrowser

    desktop = (
        sys.platform in ("darwin", "win32", "cygwin")
        or bool(os.environ.get("BROWSER"))
        or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    )
    if not desktop:
        log.debug("no display and no BROWSER: no desktop browser")
        return False
    try:
        browser = webbrowser.get()
    except webbrowser.Error as exc:
        log.debug("no browser: %s", exc)
        return False
    opened = bool(browser.open(url, new=2))
    log.debug("browser %s %s", getattr(browser, "name", "?"), "opened" if opened else "failed")
    return opened


def _emit(url: str) -> None:
    sys.stdout.write(url + "\n")
    sys.stdout.flush()


def _until(creds: Credentials) -> str:
    if creds.expiration is None:
        return "whose end is unknown"
    from credhelper.credentials import format_time
    from credhelper.present import duration, local_time

    return (
        f"until {local_time(format_time(creds.expiration))} "
        f"({duration(creds.seconds_left())} left)"
    )
