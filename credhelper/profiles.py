"""Turn a profile name into the chain of steps that produces its credentials.

The AWS files are read once per command (:mod:`credhelper.awsfiles`); this module only
interprets the role-related keys of that snapshot and validates them, so that a mistake is
reported before any network call. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import getpass
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from credhelper.errors import CredhelperError
from credhelper.sources import Source
from credhelper.sources.botocore_profile import BotocoreProfile
from credhelper.sources.credential_source import PROVIDERS as _CREDENTIAL_SOURCE_PROVIDERS
from credhelper.sources.credential_source import CredentialSource
from credhelper.sources.keyring_keys import KeyringKeys
from credhelper.sources.static_keys import StaticKeys

ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
CREDENTIAL_SOURCES = tuple(_CREDENTIAL_SOURCE_PROVIDERS)
#: Keys never folded into a cache key (they are secrets; the key id stands for them).
SECRET_KEYS = ("aws_secret_access_key", "aws_session_token", "aws_security_token")


@dataclass(frozen=True)
class RoleStep:
    """One ``AssumeRole`` call, with everything that shapes the session it returns."""

    profile: str
    role_arn: str
    role_session_name: str
    external_id: str | None = None
    duration_seconds: int | None = None
    #: Sent with AssumeRole only when no MFA session (below) already carries the MFA context.
    mfa_serial: str | None = None
    #: How to get a code (``mfa_process``); not part of what the session is.
    mfa_process: str | None = None

    def cache_key_material(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "role_arn": self.role_arn,
            "role_session_name": self.role_session_name,
            "external_id": self.external_id,
            "duration_seconds": self.duration_seconds,
            "mfa_serial": self.mfa_serial,
        }





@dataclass(frozen=True)
class MfaStep:
    """``GetSessionToken`` with an MFA code: one session for hours, shared by every role
    assumed from the same source and device, so a code is asked once per MFA session."""

    profile: str  # the profile that names the device
    serial: str
    duration_seconds: int
    mfa_process: str | None = None

    def cache_key_material(self) -> dict[str, Any]:
        return {"mfa_serial": self.serial, "duration_seconds": self.duration_seconds}




DEFAULT_MFA_SESSION = 12 * 3600
MFA_SESSION_RANGE = (900, 36 * 3600)


@dataclass(frozen=True)
class Chain:
    """``source`` first, then the MFA session if any, then each role in the order it is
    assumed; the last role is the profile's."""

    profile: str
    source: Source
    roles: tuple[RoleStep, ...]
    mfa: MfaStep | None = None


def default_session_name() -> str:
    """``credhelper-<user>``: says in CloudTrail who asked, and through what."""
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry, e.g. in a container
        user = "user"
    name = "credhelper-" + re.sub(r"[^\w+=,.@-]", "-", user)
    return name[:64]


def _text(profile: str, values: Mapping[str, Any], key: str) -> str | None:
    value = values.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise CredhelperError(
            f"'{key}' must be a single value, not a nested section",
            "fix the AWS config",
            profile=profile,
        )
    value = value.strip()
    return value or None


def _digits(text: str) -> bool:
    """ASCII digits only: ``"²".isdigit()`` is true, and ``int("²")`` raises."""
    return text.isascii() and text.isdigit()


def _role_step(name: str, values: Mapping[str, Any]) -> RoleStep:
    role_arn = _text(name, values, "role_arn") or ""
    if not ROLE_ARN.match(role_arn):
        raise CredhelperError(
            f"role_arn {role_arn!r} is not an IAM role ARN",
            "expected arn:aws:iam::<12-digit account>:role/<name>; fix the AWS config",
            profile=name,
        )
    session_name = _text(name, values, "role_session_name") or default_session_name()
    if not SESSION_NAME.match(session_name):
        raise CredhelperError(
            f"role_session_name {session_name!r} is invalid",
            "use 2 to 64 characters of letters, digits and +=,.@_-",
            profile=name,
        )
    duration = _text(name, values, "duration_seconds")
    seconds: int | None = None
    if duration is not None:
        if not _digits(duration) or not 900 <= int(duration) <= 43200:
            raise CredhelperError(
                f"duration_seconds {duration!r} is not a number of seconds from 900 to 43200",
                "fix the AWS config",
                profile=name,
            )
        seconds = int(duration)
    return RoleStep(
        profile=name,
        role_arn=role_arn,
        role_session_name=session_name,
        external_id=_text(name, values, "external_id"),
        duration_seconds=seconds,
        mfa_serial=_text(name, values, "mfa_serial"),
        mfa_process=_text(name, values, "mfa_process"),
    )


def _fingerprint(values: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, str(v)) for k, v in values.items() if k not in SECRET_KEYS))


def resolve(
    profile: str,
    profiles: Mapping[str, Mapping[str, Any]],
    has_keys: Callable[[str], bool] | None = None,
) -> Chain:
    """Walk ``source_profile`` links from ``profile`` down to a source of credentials.

    ``has_keys(name)`` tells whether the keyring holds keys for a profile; such keys take
    precedence over the files, and such a profile need not exist in them at all.
    """
    has_keys = has_keys or (lambda name: False)
    roles: list[RoleStep] = []
    seen: list[str] = []
    name = profile
    while True:
        values = profiles.get(name, {})
        if _text(name, values, "role_arn") is None and name not in seen and has_keys(name):
            seen.append(name)
            source: Source = KeyringKeys(profile=name)
            break
        if name not in profiles:
            if name == profile:
                raise CredhelperError(
                    "no such profile in the AWS config or credentials file",
                    "check the name, or AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE",
                    profile=profile,
                )
            raise CredhelperError(
                f"source_profile '{name}' (named by '{seen[-1]}') does not exist",
                "fix source_profile in the AWS config",
                profile=profile,
            )
        values = profiles[name]
        if name in seen:
            cycle = " -> ".join([*seen[seen.index(name) :], name])
            raise CredhelperError(
                f"source_profile cycle: {cycle}",
                "make the chain end in a profile with keys or credential_source",
                profile=profile,
            )
        seen.append(name)
        if _text(name, values, "role_arn") is None:
            source = BotocoreProfile(profile=name, fingerprint=_fingerprint(values))
            break
        roles.append(_role_step(name, values))
        source_profile = _text(name, values, "source_profile")
        credential_source = _text(name, values, "credential_source")
        if source_profile and credential_source:
            raise CredhelperError(
                f"profile '{name}' has both source_profile and credential_source",
                "keep only one of them",
                profile=profile,
            )
        if credential_source:
            if credential_source not in CREDENTIAL_SOURCES:
                raise CredhelperError(
                    f"credential_source {credential_source!r} of profile '{name}' is not one of "
                    + ", ".join(CREDENTIAL_SOURCES),
                    "fix the AWS config",
                    profile=profile,
                )
            source = CredentialSource(profile=name, source=credential_source)
            break
        if not source_profile:
            raise CredhelperError(
                f"role profile '{name}' has neither source_profile nor credential_source",
                "add one of them, naming where the credentials to assume the role come from",
                profile=profile,
            )
        if source_profile == name:
            # botocore's convention: a role profile may hold its own source keys.
            key_id = _text(name, values, "aws_access_key_id")
            if not key_id or not _text(name, values, "aws_secret_access_key"):
                raise CredhelperError(
                    f"profile '{name}' names itself as source_profile but holds no keys",
                    "add aws_access_key_id and aws_secret_access_key, or name another profile",
                    profile=profile,
                )
            source = StaticKeys(profile=name, key_id=key_id)
            break
        name = source_profile
    roles.reverse()
    return _with_mfa_session(Chain(profile=profile, source=source, roles=tuple(roles)), profiles)


def _with_mfa_session(chain: Chain, profiles: Mapping[str, Mapping[str, Any]]) -> Chain:
    """Put an MFA session between a long-term source and the first role that wants MFA
    (or the source profile's own ``mfa_serial``); that role then needs no code itself."""
    # Only long-term keys may call GetSessionToken (STS refuses session credentials).
    if not chain.source.long_term(profiles.get(chain.source.profile, {})):
        return chain
    name, serial = (
        chain.source.profile,
        _text(chain.source.profile, profiles.get(chain.source.profile, {}), "mfa_serial"),
    )
    first_mfa = next((r for r in chain.roles if r.mfa_serial), None)
    if serial is None and first_mfa is not None and first_mfa is chain.roles[0]:
        name, serial = first_mfa.profile, first_mfa.mfa_serial
    if serial is None:
        return chain
    values = profiles.get(name, {})
    raw = _text(name, values, "mfa_session_duration")
    duration = DEFAULT_MFA_SESSION
    if raw is not None:
        low, high = MFA_SESSION_RANGE
        if not _digits(raw) or not low <= int(raw) <= high:
            raise CredhelperError(
                f"mfa_session_duration {raw!r} is not a number of seconds from {low} to {high}",
                "fix the AWS config",
                profile=chain.profile,
            )
        duration = int(raw)
    command = next(
        (
            _text(p, profiles.get(p, {}), "mfa_process")
            for p in [chain.profile, name]
            if _text(p, profiles.get(p, {}), "mfa_process")
        ),
        None,
    )
    mfa = MfaStep(profile=name, serial=serial, duration_seconds=duration, mfa_process=command)
    roles = list(chain.roles)
    if roles and roles[0].mfa_serial == serial:
        roles[0] = dataclasses.replace(roles[0], mfa_serial=None)
    return dataclasses.replace(chain, roles=tuple(roles), mfa=mfa)


def chain_region(chain: Chain, profiles: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The first ``region`` met walking from the profile down to its source."""
    names = [step.profile for step in reversed(chain.roles)] + [chain.source.profile]
    for name in names:
        region = profiles.get(name, {}).get("region")
        if isinstance(region, str) and region.strip():
            return region.strip()
    return None
