"""The IAM calls of ``credhelper rotate`` (and the GetCallerIdentity checks around them), with
their errors turned into lines a user can act on.

Clients come from the command's snapshot of the AWS files, configured by the keys' own
profile as the AWS CLI would (``endpoint_url`` / ``AWS_ENDPOINT_URL_IAM`` /
``AWS_ENDPOINT_URL``, ``ca_bundle``, region), like the STS clients of :mod:`credhelper.sts`.
Each call is bounded by the deadline in scope (:mod:`credhelper.deadline`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from credhelper import deadline, sts
from credhelper.credentials import Credentials, abbreviate
from credhelper.errors import CredhelperError

if TYPE_CHECKING:
    from credhelper.awsfiles import AwsFiles

log = logging.getLogger(__name__)

T = TypeVar("T")

#: What IAM says when a user already has the most access keys it may have (2).
LIMIT_EXCEEDED = "LimitExceeded"
#: What AWS answers for a key it does not know (yet: new keys take seconds to propagate).
UNKNOWN_KEY = ("InvalidClientTokenId", "SignatureDoesNotMatch")
#: First pause between tries while a new key propagates; doubled each try, up to the most.
PROPAGATION_FIRST = 0.5
PROPAGATION_MOST = 4.0

_HINTS = {
    "AccessDenied": (
        "the user needs iam:CreateAccessKey, iam:DeleteAccessKey and iam:ListAccessKeys on "
        "itself (arn:aws:iam::ACCOUNT:user/${aws:username})"
    ),
    "InvalidClientTokenId": "AWS does not know this key id (deleted or deactivated?)",
    "SignatureDoesNotMatch": "the secret does not belong to this key id",
    "NoSuchEntity": "IAM does not know that user or key",
    LIMIT_EXCEEDED: "delete the key not in use in IAM, then retry",
}


@dataclass(frozen=True)
class AccessKey:
    """An access key as ListAccessKeys shows it (never its secret)."""

    access_key_id: str
    status: str


class IamError(CredhelperError):
    """An AWS call failed; ``code`` is AWS's error code, None when AWS did not answer (the
    network, a timeout): the call may then have been carried out anyway."""

    def __init__(self, message: str, hint: str | None, code: str | None) -> None:
        super().__init__(message, hint)
        self.code = code


def _config(retries: bool) -> Any:
    import botocore.config

    attempts, per_try = sts.timeouts(deadline.remaining())
    return botocore.config.Config(
        connect_timeout=min(5.0, per_try),
        read_timeout=per_try,
        retries={"mode": "standard", "total_max_attempts": attempts if retries else 1},
        user_agent_extra="credhelper",
    )


def _client(service: str, profile: str, keys: Credentials, files: AwsFiles, retries: bool) -> Any:
    return files.client(
        service,
        profile,
        fallback_region=sts.DEFAULT_REGION,
        aws_access_key_id=keys.access_key_id,
        aws_secret_access_key=keys.secret_access_key,
        aws_session_token=keys.session_token,
        config=_config(retries),
    )


def _call(what: str, call: Callable[[], T]) -> T:
    """``call()``; a botocore error becomes an :class:`IamError` saying ``what`` failed."""
    try:
        return call()
    except Exception as exc:
        import botocore.exceptions as bx

        if isinstance(exc, bx.ClientError):
            err = exc.response.get("Error", {})
            code = str(err.get("Code", "Unknown"))
            message = err.get("Message") or str(exc)
            hint = _HINTS.get(code, "see the message from AWS")
            raise IamError(f"{what} failed: {code}: {message}", hint, code) from exc
        if isinstance(exc, (bx.ConnectTimeoutError, bx.ReadTimeoutError)):
            endpoint = getattr(exc, "kwargs", {}).get("endpoint_url", "AWS")
            raise IamError(
                f"{what} failed: {endpoint} did not answer in time",
                "check the network, proxy settings or endpoint_url, or raise CREDHELPER_TIMEOUT",
                None,
            ) from exc
        error = sts.translate(exc, what)
        if error is None:
            raise
        raise IamError(error.message, error.hint, None) from exc


def caller_arn(profile: str, keys: Credentials, files: AwsFiles) -> str:
    """Who ``keys`` are (sts:GetCallerIdentity, allowed to every valid key)."""
    what = f"GetCallerIdentity with {abbreviate(keys.access_key_id)}"

    def call() -> str:
        client = sts.client(profile, keys, files, None)
        with deadline.step(f"{what} (STS at {client.meta.endpoint_url})"):
            return str(client.get_caller_identity()["Arn"])

    return _call(what, call)


def create_access_key(profile: str, keys: Credentials, files: AwsFiles) -> Credentials:
    """A new access key for the user ``keys`` belong to (no UserName: IAM acts on the caller).
    Tried once: a retry after an answer lost on the way would make a second key."""
    what = f"CreateAccessKey with {abbreviate(keys.access_key_id)}"

    def call() -> Credentials:
        client = _client("iam", profile, keys, files, retries=False)
        with deadline.step(f"{what} (IAM at {client.meta.endpoint_url})"):
            key = client.create_access_key()["AccessKey"]
        return Credentials(str(key["AccessKeyId"]), str(key["SecretAccessKey"]))

    created = _call(what, call)
    log.info("created access key %s", abbreviate(created.access_key_id))
    return created


def delete_access_key(profile: str, key_id: str, keys: Credentials, files: AwsFiles) -> None:
    """Delete the access key ``key_id`` of the user ``keys`` belong to."""
    what = f"DeleteAccessKey of {abbreviate(key_id)} with {abbreviate(keys.access_key_id)}"

    def call() -> None:
        client = _client("iam", profile, keys, files, retries=True)
        with deadline.step(f"{what} (IAM at {client.meta.endpoint_url})"):
            client.delete_access_key(AccessKeyId=key_id)

    _call(what, call)
    log.info("deleted access key %s", abbreviate(key_id))


def list_access_keys(profile: str, keys: Credentials, files: AwsFiles) -> list[AccessKey]:
    """The access keys of the user ``keys`` belong to."""
    what = f"ListAccessKeys with {abbreviate(keys.access_key_id)}"

    def call() -> list[AccessKey]:
        client = _client("iam", profile, keys, files, retries=True)
        with deadline.step(f"{what} (IAM at {client.meta.endpoint_url})"):
            found = client.list_access_keys()["AccessKeyMetadata"]
        return [AccessKey(str(k["AccessKeyId"]), str(k.get("Status", "?"))) for k in found]

    return _call(what, call)


def propagating(exc: IamError) -> bool:
    """Whether ``exc`` may be a new key not known everywhere yet, or no answer at all."""
    return exc.code in UNKNOWN_KEY or exc.code is None


def once_propagated(
    call: Callable[[], T],
    window: float,
    retry_on: Callable[[IamError], bool] = propagating,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> T:
    """``call()``, tried again with backoff for up to ``window`` seconds while it fails in a
    way ``retry_on`` takes for a new key not known everywhere yet (IAM keys take a few
    seconds to reach STS and IAM on AWS), or for no answer at all; the last error once the
    window is over. Each try runs under a deadline of what is left of the window (at least
    a second)."""
    end = monotonic() + window
    pause = PROPAGATION_FIRST
    tries = 0
    while True:
        tries += 1
        left = end - monotonic()
        try:
            with deadline.scope(deadline.Deadline(max(left, 1.0))):
                return call()
        except IamError as exc:
            left = end - monotonic()
            if not retry_on(exc) or left <= 0:
                log.debug("giving up after %d tries: %s", tries, exc.message)
                raise
            log.info("not yet (%s); trying again in %.1f s", exc.code or exc.message, pause)
            sleep(min(pause, left))
            pause = min(pause * 2, PROPAGATION_MOST)
