"""A Secret Service keyring that refuses long values, like Windows Credential Manager.

Why: the split-across-entries code only runs against a backend with a size limit, and the one
that has it (WinVaultKeyring) is not here. This is the real Secret Service with a limit on top.
Select it in a child process with ``PYTHON_KEYRING_BACKEND=harness.limited_keyring.
LimitedKeyring`` and ``PYTHONPATH=<tests>``.
"""

from __future__ import annotations

from keyring.backends import SecretService
from keyring.errors import PasswordSetError

LIMIT = 600


class LimitedKeyring(SecretService.Keyring):
    """Values of more than ``max_value_length`` characters are refused, as on Windows."""

    max_value_length = LIMIT

    def set_password(self, service: str, username: str, password: str) -> None:
        if len(password) > self.max_value_length:
            raise PasswordSetError(
                f"value of {len(password)} characters is over this keyring's limit of "
                f"{self.max_value_length}"
            )
        super().set_password(service, username, password)
