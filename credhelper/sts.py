"""STS calls, through botocore, with its errors turned into lines a user can act on.

The client is built from the command's botocore session (:mod:`credhelper.awsfiles`) with the
role's own profile selected, so botocore applies that profile's ``region``,
``sts_regional_endpoints``, ``endpoint_url`` (and ``AWS_ENDPOINT_URL_STS`` /
``AWS_ENDPOINT_URL``) and ``ca_bundle`` exactly as the AWS CLI would.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from credhelper import deadline
from credhelper.credentials import Credentials, utcnow
from credhelper.errors import CredhelperError
from credhelper.profiles import RoleStep

if TYPE_CHECKING:
    from credhelper.awsfiles import AwsFiles

log = logging.getLogger(__name__)

DEFAULT_REGION = "us-east-1"
#: A difference from STS's clock beyond this is corrected in expiry times (the Date header has
#: one-second resolution, and round trips add their share).
SKEW_CORRECTED = 30.0
#: ... and beyond this, warned about: something is wrong with this machine's clock.
SKEW_WARNED = 300.0
#: The last difference seen between STS's clock and ours (seconds; positive: STS is ahead).
observed_skew: float | None = None

_HINTS = {
    "AccessDenied": (
        "check that the role's trust policy admits the source identity (and the external_id),"
        " and that the source may call sts:AssumeRole on it"
    ),
    "InvalidClientTokenId": "the source credentials are not valid: check or rotate the keys",
    "SignatureDoesNotMatch": "the source secret key is wrong: check or rotate the keys",
    "ExpiredToken": "the source credentials have expired: refresh them, then retry",
    "RegionDisabledException": "activate STS in that region, or set another region",
    "ValidationError": "check the role settings in the AWS config",
}


#: Connections a shared client keeps open to STS.
MAX_POOL = 32


def timeouts(left: float) -> tuple[int, float]:
    """(attempts, seconds per attempt) for a call with ``left`` seconds of its deadline, so
    that all attempts together end within it. Per attempt rounded down (to 0.25 s under 5 s,
    0.5 s under 10 s, 1 s under 30 s, 5 s above), so that calls made at slightly different
    moments of their deadlines share a client, never waiting longer than they may, and
    losing little of their time."""
    attempts = 3 if left >= 15 else 2 if left >= 6 else 1
    per_try = left * 0.9 / attempts
    step = 0.25 if per_try < 5 else 0.5 if per_try < 10 else 1.0 if per_try < 30 else 5.0
    return attempts, max(1.0, per_try // step * step)


def client(
    profile: str | None, source: Credentials, files: AwsFiles, fallback_region: str | None
) -> Any:
    """An STS client configured by ``profile``'s settings (the defaults for a profile that is
    not in the files, e.g. one whose keys live only in the keyring), signing with ``source``.

    Reused from the snapshot's clients when one has the same settings, credentials and
    timeouts: the timeouts come in a few classes (:func:`timeouts`) so that it often does."""
    import botocore.config

    attempts, per_try = timeouts(deadline.remaining())
    config = botocore.config.Config(
        connect_timeout=min(5.0, per_try),
        read_timeout=per_try,
        retries={"mode": "standard", "total_max_attempts": attempts},
        user_agent_extra="credhelper",
        # A client is shared by the concurrent fetches of profiles with the same settings.
        max_pool_connections=MAX_POOL,
    )
    return files.client(
        "sts",
        profile,
        fallback_region=fallback_region or DEFAULT_REGION,
        aws_access_key_id=source.access_key_id,
        aws_secret_access_key=source.secret_access_key,
        aws_session_token=source.session_token,
        config=config,
    )


def assume_role(
    step: RoleStep,
    source: Credentials,
    files: AwsFiles,
    *,
    token_code: str | None = None,
    fallback_region: str | None = None,
) -> Credentials:
    """One AssumeRole call; botocore errors become a CredhelperError naming the role."""
    params: dict[str, Any] = {
        "RoleArn": step.role_arn,
        "RoleSessionName": step.role_session_name,
    }
    if step.external_id:
        params["ExternalId"] = step.external_id
    if step.duration_seconds:
        params["DurationSeconds"] = step.duration_seconds
    if step.mfa_serial and token_code:
        params["SerialNumber"] = step.mfa_serial
        params["TokenCode"] = token_code
    issued = utcnow()
    with translated_errors(f"AssumeRole on {step.role_arn}"):
        sts = client(step.profile, source, files, fallback_region)
        with deadline.step(f"AssumeRole on {step.role_arn} (STS at {sts.meta.endpoint_url})"):
            response = sts.assume_role(**params)
    creds = _session(response, issued)
    log.info("assumed %s as %s", step.role_arn, creds.describe())
    return creds


def get_session_token(
    profile: str,
    serial: str,
    code: str,
    duration: int,
    source: Credentials,
    files: AwsFiles,
    fallback_region: str | None = None,
) -> Credentials:
    """An MFA session: GetSessionToken with the device's code."""
    issued = utcnow()
    with translated_errors(f"GetSessionToken with MFA device {serial}"):
        sts = client(profile, source, files, fallback_region)
        with deadline.step(f"GetSessionToken for {serial} (STS at {sts.meta.endpoint_url})"):
            response = sts.get_session_token(
                DurationSeconds=duration, SerialNumber=serial, TokenCode=code
            )
    creds = _session(response, issued)
    log.info("MFA session %s for %s", creds.describe(), serial)
    return creds


#: What a failed check of new keys means (not a role's source: keys being added).
_CHECK_HINTS = {
    "InvalidClientTokenId": "AWS does not know this key id (mistyped, deleted or deactivated)",
    "SignatureDoesNotMatch": "the secret does not belong to this key id; check it",
}


def check_keys(profile: str, keys: Credentials, files: AwsFiles) -> str:
    """The ARN the keys belong to, from one sts:GetCallerIdentity (allowed to every valid
    key), with the profile's STS settings; CredhelperError saying nothing was stored."""
    what = "checking the keys with sts:GetCallerIdentity"
    try:
        return str(client(profile, keys, files, None).get_caller_identity()["Arn"])
    except Exception as exc:
        error = translate(exc, what)
        if error is None:
            raise
        response = getattr(exc, "response", None)
        code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
        if code in _CHECK_HINTS:
            hint = _CHECK_HINTS[code]
        elif code:
            hint = error.hint or "see the message from AWS"
        else:  # not an answer from AWS: the network, the endpoint, TLS
            hint = f"{error.hint}, or store them unchecked with --no-validate"
        raise CredhelperError(f"{error.message.rstrip('.')}; nothing was stored", hint) from exc


def _session(response: dict[str, Any], issued: datetime) -> Credentials:
    """The session, its expiry put on our clock: STS says when it ends by its own clock, and
    a machine whose clock is off would otherwise hand out sessions already expired for AWS
    (ours behind) or renew them in a loop (ours ahead)."""
    c = response["Credentials"]
    expiration = c["Expiration"]
    skew = _skew(response, issued)
    if skew is not None and abs(skew) > SKEW_CORRECTED:
        expiration = expiration - timedelta(seconds=skew)
    return Credentials(
        access_key_id=c["AccessKeyId"],
        secret_access_key=c["SecretAccessKey"],
        session_token=c["SessionToken"],
        expiration=expiration,
        issued=issued,
    )


def _skew(response: dict[str, Any], issued: datetime) -> float | None:
    """STS's clock minus ours, from the response's Date header (None if it has none)."""
    global observed_skew
    from email.utils import parsedate_to_datetime

    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    try:
        server = parsedate_to_datetime(headers["date"])
    except (KeyError, TypeError, ValueError):
        return None
    if server.tzinfo is None:
        return None
    received = utcnow()
    ours = issued + (received - issued) / 2
    skew = (server - ours).total_seconds()
    if abs(skew) > SKEW_WARNED and (
        observed_skew is None or abs(observed_skew) <= SKEW_WARNED
    ):
        log.warning("warning: %s", skew_text(skew))
    observed_skew = skew
    return skew


def skew_text(skew: float) -> str:
    ahead = "behind" if skew > 0 else "ahead of"
    return (
        f"this machine's clock is {abs(skew):.0f} s {ahead} STS's; session expiry times are "
        "corrected, but fix the clock (NTP)"
    )


class translated_errors:
    """Context manager: botocore exceptions in, CredhelperError out."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        if exc is None or isinstance(exc, CredhelperError):
            return False
        error = translate(exc, self.what)
        if error is None:
            return False
        raise error from exc


def translate(exc: BaseException, what: str) -> CredhelperError | None:
    """Map a botocore exception to a user-facing error, or None if it is not botocore's."""
    import botocore.exceptions as bx
    from botocore.parsers import ResponseParserError

    if isinstance(exc, ResponseParserError):
        return CredhelperError(
            f"{what} failed: the endpoint's answer is not an STS response ({exc})",
            "check endpoint_url / AWS_ENDPOINT_URL and any proxy in between",
        )

    if isinstance(exc, bx.ClientError):
        err = exc.response.get("Error", {})
        code = err.get("Code", "Unknown")
        message = err.get("Message") or str(exc)
        hint = _HINTS.get(code, "see the message from AWS")
        if code.startswith("Throttl") or code in ("RequestLimitExceeded", "ServiceUnavailable"):
            hint = "STS is busy; retry in a moment"
        return CredhelperError(f"{what} failed: {code}: {message}", hint)
    if isinstance(exc, (bx.ConnectTimeoutError, bx.ReadTimeoutError)):
        endpoint = getattr(exc, "kwargs", {}).get("endpoint_url", "STS")
        d = deadline.current()
        if d is not None and d.remaining() < 1.0:
            return deadline.TimedOut(
                f"{what} failed: STS at {endpoint} did not answer within {d.seconds:g} s",
                "check the network, proxy settings or endpoint_url, or raise CREDHELPER_TIMEOUT",
            )
        return CredhelperError(
            f"{what} failed: STS at {endpoint} did not answer in time",
            "check the network, proxy settings, or endpoint_url",
        )
    if isinstance(exc, bx.EndpointConnectionError):
        return CredhelperError(
            f"{what} failed: cannot reach STS ({exc})",
            "check the network, proxy settings, or endpoint_url",
        )
    if isinstance(exc, bx.SSLError):
        return CredhelperError(
            f"{what} failed: TLS error ({exc})", "check ca_bundle / AWS_CA_BUNDLE"
        )
    if isinstance(exc, bx.ParamValidationError):
        return CredhelperError(f"{what} failed: {exc}", "check the role settings")
    if isinstance(exc, bx.NoRegionError):
        return CredhelperError(f"{what} failed: no region", "set region in the profile")
    if isinstance(exc, bx.BotoCoreError):
        return CredhelperError(f"{what} failed: {exc}", "check the AWS config")
    return None
