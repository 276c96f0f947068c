"""A role session: AssumeRole with credentials from the provider it wraps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from credhelper import sts
from credhelper.profiles import RoleStep
from credhelper.prompt import CodeRequest
from credhelper.providers import Fetched, StsSession


@dataclass
class RoleSessionProvider(StsSession[RoleStep]):
    @property
    def profile(self) -> str:
        return self.step.profile

    def cache_key_material(self) -> dict[str, Any]:
        return {"role": self.step.cache_key_material(), "source": self.source.cache_key_material()}

    def fetch(self) -> Fetched:
        source = self.source.fetch().credentials
        code = None
        if self.step.mfa_serial:  # no MFA session carries the context: a code per session
            request = CodeRequest(
                self.requested or self.profile, self.step.mfa_serial, self.step.mfa_process
            )
            code = self.ask_code(request)
        return Fetched(
            sts.assume_role(
                self.step,
                source,
                self.files,
                token_code=code,
                fallback_region=self.fallback_region,
            )
        )
