"""Turn a profile name into the chain of steps that produces its credentials.

The AWS config and credentials files are read by botocore's own loader (which honours
``AWS_CONFIG_FILE`` and ``AWS_SHARED_CREDENTIALS_FILE``); this module only interprets the
role-related keys and validates them, so a mistake is reported before any network call.
"""

from __future__ import annotations

import getpass
import re
from dataclasses import dataclass
from typing import Any, Mapping, Union

from credhelper.errors import CredhelperError

ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
CREDENTIAL_SOURCES = ("Environment", "Ec2InstanceMetadata", "EcsContainer")
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
    mfa_serial: str | None = None


@dataclass(frozen=True)
class StaticKeys:
    """Long-term (or fixed session) keys written in a profile that also names itself as source."""

    profile: str
    key_id: str


@dataclass(frozen=True)
class BotocoreProfile:
    """A non-role profile: botocore's provider chain resolves it (keys, SSO, process, ...)."""

    profile: str
    fingerprint: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class CredentialSource:
    """``credential_source``: credentials from the environment, EC2 or ECS."""

    profile: str
    source: str


Source = Union[StaticKeys, BotocoreProfile, CredentialSource]


@dataclass(frozen=True)
class Chain:
    """``source`` first, then each role in the order it is assumed; the last is the profile's."""

    profile: str
    source: Source
    roles: tuple[RoleStep, ...]


def load_profiles() -> dict[str, dict[str, Any]]:
    """All profiles of the config and credentials files, merged the way botocore merges them."""
    import botocore.exceptions
    import botocore.session

    session = botocore.session.Session()
    try:
        return session.full_config.get("profiles", {})
    except botocore.exceptions.ConfigParseError as exc:
        raise CredhelperError(
            f"cannot parse the AWS config: {exc}", "fix the file's syntax"
        ) from exc


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
        if not duration.isdigit() or not 900 <= int(duration) <= 43200:
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
    )


def _fingerprint(values: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, str(v)) for k, v in values.items() if k not in SECRET_KEYS))


def resolve(profile: str, profiles: Mapping[str, Mapping[str, Any]] | None = None) -> Chain:
    """Walk ``source_profile`` links from ``profile`` down to a source of credentials."""
    profiles = load_profiles() if profiles is None else profiles
    roles: list[RoleStep] = []
    seen: list[str] = []
    name = profile
    while True:
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
            source: Source = BotocoreProfile(profile=name, fingerprint=_fingerprint(values))
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
    return Chain(profile=profile, source=source, roles=tuple(roles))


def chain_region(chain: Chain, profiles: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The first ``region`` met walking from the profile down to its source."""
    names = [step.profile for step in reversed(chain.roles)] + [chain.source.profile]
    for name in names:
        region = profiles.get(name, {}).get("region")
        if isinstance(region, str) and region.strip():
            return region.strip()
    return None
