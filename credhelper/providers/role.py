"""A role session: AssumeRole with credentials from the provider it wraps."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

from credhelper import sts
from credhelper.credentials import Credentials
from credhelper.profiles import RoleStep
from credhelper.providers import Provider

#: Asks for an MFA code: (profile, serial) -> code.
CodePrompt = Callable[[str, str], str]


@dataclass
class RoleSessionProvider:
    step: RoleStep
    source: Provider
    ask_code: CodePrompt
    fallback_region: str | None = None

    @property
    def profile(self) -> str:
        return self.step.profile

    def identity(self) -> dict[str, Any]:
        return {"role": dataclasses.asdict(self.step), "source": self.source.identity()}

    def fetch(self) -> Credentials:
        source = self.source.fetch()
        code = self.ask_code(self.profile, self.step.mfa_serial) if self.step.mfa_serial else None
        return sts.assume_role(
            self.step, source, token_code=code, fallback_region=self.fallback_region
        )
