"""The one exception type the CLI turns into a single stderr line."""

from __future__ import annotations


class CredhelperError(Exception):
    """A failure the user can act on.

    ``message`` says what happened, ``hint`` what to do; the CLI prints both on one line,
    prefixed with the profile, and exits with ``exit_code`` (1, or 2 for usage errors).
    """

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        profile: str | None = None,
        exit_code: int = 1,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.profile = profile
        self.exit_code = exit_code

    def for_profile(self, profile: str) -> CredhelperError:
        """Name the profile the user asked for, unless a more precise one is already set."""
        if self.profile is None:
            self.profile = profile
        return self

    def line(self) -> str:
        """The single line shown on stderr: no newlines, secrets never included."""
        where = f"profile '{self.profile}': " if self.profile else ""
        text = f"credhelper: {where}{self.message.strip().rstrip('.')}"
        if self.hint:
            hint = self.hint.strip().rstrip(".")
            text += f". {hint[:1].upper()}{hint[1:]}"
        return " ".join((text + ".").split())


class CallerOnly(CredhelperError):
    """Something only the calling process can do: ask a person for an MFA code, read the AWS
    keys of its own environment. The daemon answers such a request with "fallback", and the
    caller resolves the profile itself."""
