"""botocore's credentials objects turned into ours, and its failures into lines a user acts on."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from credhelper.credentials import Credentials, utcnow
from credhelper.errors import CredhelperError

#: Longer than any credentials live (36 h for an MFA session; IMDS ~6 h).
_LONGEST = 1 << 22


def seconds_left(creds: Any) -> float | None:
    """Seconds until botocore's credentials expire (None: they do not), found with the public
    ``refresh_needed(refresh_in)`` (whether fewer than that many seconds are left): botocore
    exposes no expiry time, and its private ``_expiry_time`` may change under us."""
    needed = getattr(creds, "refresh_needed", None)
    if needed is None or not needed(_LONGEST):
        return None  # static keys, or no expiry
    low, high = 0, _LONGEST  # needed(low) is false or low is 0; needed(high) is true
    if needed(0):
        return 0.0
    while high - low > 1:
        mid = (low + high) // 2
        if needed(mid):
            high = mid
        else:
            low = mid
    return float(low)


def from_botocore(creds: Any) -> Credentials:
    frozen = creds.get_frozen_credentials()
    left = seconds_left(creds)
    return Credentials(
        access_key_id=frozen.access_key,
        secret_access_key=frozen.secret_key,
        session_token=frozen.token,
        expiration=(utcnow() + timedelta(seconds=left)).replace(microsecond=0)
        if left is not None
        else None,
    )


def source_failed(profile: str, exc: Exception) -> CredhelperError:
    if isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError, AttributeError)):
        return CredhelperError(
            f"the credential_process of source profile '{profile}' did not print a "
            f"credential_process JSON document ({type(exc).__name__}: {exc})",
            "run that command by hand to see what it prints",
        )
    return CredhelperError(
        f"resolving source profile '{profile}' failed ({type(exc).__name__}: {exc})",
        f"check profile '{profile}' in the AWS config; run its credential_process by hand",
    )


def missing(profile: str, detail: str) -> CredhelperError:
    return CredhelperError(
        f"no source credentials: {detail}",
        f"add keys for profile '{profile}' (aws configure --profile {profile}), "
        "or fix source_profile",
    )
