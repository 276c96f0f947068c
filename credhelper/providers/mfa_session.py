"""An MFA session (GetSessionToken): asked for once, then every role is assumed from it.

botocore cannot refresh MFA-protected role sessions (RefreshWithMFAUnsupportedError); with
this session cached for hours, credhelper renews them without asking for another code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from credhelper import sts
from credhelper.profiles import MfaStep
from credhelper.prompt import CodeRequest
from credhelper.providers import Fetched, StsSession


@dataclass
class MfaSessionProvider(StsSession[MfaStep]):
    @property
    def profile(self) -> str:
        return self.step.profile

    def cache_key_material(self) -> dict[str, Any]:
        # Shared by every profile with the same source and device: it names neither role.
        return {"mfa": self.step.cache_key_material(), "source": self.source.cache_key_material()}

    def fetch(self) -> Fetched:
        source = self.source.fetch().credentials
        code = self.ask_code(
            CodeRequest(self.requested or self.profile, self.step.serial, self.step.mfa_process)
        )
        return Fetched(
            sts.get_session_token(
                self.step.profile,
                self.step.serial,
                code,
                self.step.duration_seconds,
                source,
                self.files,
                fallback_region=self.fallback_region,
            )
        )
