"""Credential providers that compose: a cache wraps a role session, which wraps a source.

Each provider has ``fetch()`` (credentials) and ``identity()`` (the settings that shape what
it returns, hashed into cache keys so that editing a profile invalidates exactly its cache).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from credhelper.credentials import Credentials
from credhelper.prompt import Asker


class Provider(Protocol):
    #: The profile this provider stands for, named in errors and logs (read-only: the
    #: implementations derive it from their settings).
    @property
    def profile(self) -> str: ...

    def fetch(self) -> Credentials: ...

    def identity(self) -> dict[str, Any]: ...


@dataclass
class StsSession:
    """What a session fetched from STS needs: the step's settings, the credentials to sign
    with, a way to ask for an MFA code, and where to send the call. Subclasses say which call."""

    step: Any  # RoleStep or MfaStep
    source: Provider
    ask_code: Asker
    #: The profile the user asked for: named when a code is asked.
    requested: str = ""
    fallback_region: str | None = None

    @property
    def profile(self) -> str:
        profile: str = self.step.profile
        return profile
