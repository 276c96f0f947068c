"""STS calls, through botocore, with its errors turned into lines a user can act on.

The client is built from a botocore session bound to the role's own profile, so botocore
applies that profile's ``region``, ``sts_regional_endpoints``, ``endpoint_url`` (and
``AWS_ENDPOINT_URL_STS`` / ``AWS_ENDPOINT_URL``) and ``ca_bundle`` exactly as the AWS CLI would.
"""

from __future__ import annotations

import logging
from typing import Any

from credhelper.credentials import Credentials, utcnow
from credhelper.errors import CredhelperError
from credhelper.profiles import RoleStep

log = logging.getLogger(__name__)

DEFAULT_REGION = "us-east-1"

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


def client(profile: str | None, source: Credentials, fallback_region: str | None) -> Any:
    """An STS client configured by ``profile``'s settings (the defaults for a profile that is
    not in the files, e.g. one whose keys live only in the keyring), signing with ``source``."""
    import botocore.config
    import botocore.session

    session = botocore.session.Session()
    if profile is not None and profile in session.available_profiles:
        session = botocore.session.Session(profile=profile)
    region = session.get_config_variable("region") or fallback_region or DEFAULT_REGION
    config = botocore.config.Config(
        connect_timeout=5,
        read_timeout=30,
        retries={"mode": "standard", "total_max_attempts": 3},
        user_agent_extra="credhelper",
    )
    return session.create_client(
        "sts",
        region_name=region,
        aws_access_key_id=source.access_key_id,
        aws_secret_access_key=source.secret_access_key,
        aws_session_token=source.session_token,
        config=config,
    )


def assume_role(
    step: RoleStep,
    source: Credentials,
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
        sts = client(step.profile, source, fallback_region)
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
    fallback_region: str | None = None,
) -> Credentials:
    """An MFA session: GetSessionToken with the device's code."""
    issued = utcnow()
    with translated_errors(f"GetSessionToken with MFA device {serial}"):
        sts = client(profile, source, fallback_region)
        response = sts.get_session_token(
            DurationSeconds=duration, SerialNumber=serial, TokenCode=code
        )
    creds = _session(response, issued)
    log.info("MFA session %s for %s", creds.describe(), serial)
    return creds


def _session(response: dict[str, Any], issued: Any) -> Credentials:
    c = response["Credentials"]
    return Credentials(
        access_key_id=c["AccessKeyId"],
        secret_access_key=c["SecretAccessKey"],
        session_token=c["SessionToken"],
        expiration=c["Expiration"],
        issued=issued,
    )


class translated_errors:
    """Context manager: botocore exceptions in, CredhelperError out."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None or isinstance(exc, CredhelperError):
            return False
        error = translate(exc, self.what)
        if error is None:
            return False
        raise error from exc


def translate(exc: BaseException, what: str) -> CredhelperError | None:
    """Map a botocore exception to a user-facing error, or None if it is not botocore's."""
    import botocore.exceptions as bx

    if isinstance(exc, bx.ClientError):
        err = exc.response.get("Error", {})
        code = err.get("Code", "Unknown")
        message = err.get("Message") or str(exc)
        hint = _HINTS.get(code, "see the message from AWS")
        if code.startswith("Throttl") or code in ("RequestLimitExceeded", "ServiceUnavailable"):
            hint = "STS is busy; retry in a moment"
        return CredhelperError(f"{what} failed: {code}: {message}", hint)
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ReadTimeoutError)):
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
