"""A role session: AssumeRole with credentials from the provider it wraps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from credhelper import sts
from credhelper.credentials import Credentials
from credhelper.profiles import RoleStep
from credhelper.prompt import CodeRequest
from credhelper.providers import StsSession


@dataclass
class RoleSessionProvider(StsSession):
    KIND = "role"

    step: RoleStep

    def identity(self) -> dict[str, Any]:
        return {"role": self.step.identity(), "source": self.source.identity()}

    def fetch(self) -> Credentials:
        source = self.source.fetch()
        code = None
        if self.step.mfa_serial:  # no MFA session carries the context: a code per session
            request = CodeRequest(
                self.requested or self.profile, self.step.mfa_serial, self.step.mfa_process
            )
            code = self.ask_code(request)
        return sts.assume_role(
            self.step, source, token_code=code, fallback_region=self.fallback_region
        )
