"""Credential providers that compose: a cache wraps a role session, which wraps a source.

Each provider has ``fetch()`` (what it fetched, and whether that came from the cache) and
``cache_key_material()`` (the settings that shape what it returns, hashed into cache keys so
that editing a profile invalidates exactly its cache; no secret, no I/O).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from credhelper.credentials import Credentials
from credhelper.prompt import Asker

if TYPE_CHECKING:
    from credhelper.awsfiles import AwsFiles


@dataclass(frozen=True)
class Fetched:
    credentials: Credentials
    #: Answered from the keyring, no STS call made.
    from_cache: bool = False


class Provider(Protocol):
    #: The profile this provider stands for, named in errors and logs.
    @property
    def profile(self) -> str: ...

    def fetch(self) -> Fetched: ...

    def cache_key_material(self) -> dict[str, Any]: ...


Step = TypeVar("Step")


@dataclass
class StsSession(Generic[Step]):
    """What a session fetched from STS needs: the step's settings, the credentials to sign
    with, a way to ask for an MFA code, and the AWS files (the STS client is configured by
    the step's profile). Subclasses say which call."""

    step: Step
    source: Provider
    ask_code: Asker
    files: AwsFiles
    #: The profile the user asked for: named when a code is asked.
    requested: str = ""
    fallback_region: str | None = None
