"""An MFA session (GetSessionToken): asked for once, then every role is assumed from it.

botocore cannot refresh MFA-protected role sessions (RefreshWithMFAUnsupportedError); with
this session cached for hours, credhelper renews them without asking for another code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from credhelper import sts
from credhelper.credentials import Credentials
from credhelper.profiles import MfaStep
from credhelper.prompt import CodeRequest
from credhelper.providers import StsSession


@dataclass
class MfaSessionProvider(StsSession):
    KIND = "mfa"

    step: MfaStep

    def identity(self) -> dict[str, Any]:
        # Shared by every profile with the same source and device: it names neither role.
        return {"mfa": self.step.identity(), "source": self.source.identity()}

    def fetch(self) -> Credentials:
        source = self.source.fetch()
        code = self.ask_code(
            CodeRequest(self.requested or self.profile, self.step.serial, self.step.mfa_process)
        )
        return sts.get_session_token(
            self.step.profile,
            self.step.serial,
            code,
            self.step.duration_seconds,
            source,
            fallback_region=self.fallback_region,
        )
