"""A Secret Service keyring that refuses long values, like Windows Credential Manager.

Why: the split-across-entries code only runs against a backend with a size limit, and the one
that has it (WinVaultKeyring) is not here. This is the real Secret Service with a limit on top.
Select it in a child process with ``PYTHON_KEYRING_BACKEND=harness.limited_keyring.
LimitedKeyring`` and ``PYTHONPATH=<tests>``, and tell credhelper the limit with
``CREDHELPER_KEYRING_MAX_VALUE=<LIMIT>``, as the user of a backend it does not know would.
"""

from __future__ import annotations

from keyring.backends import SecretService
from keyring.errors import PasswordSetError

LIMIT = 600


class LimitedKeyring(SecretService.Keyring):
    """Values of more than ``LIMIT`` characters are refused, as on Windows."""

    def set_password(self, service: str, username: str, password: str) -> None:
        if len(password) > LIMIT:
            raise PasswordSetError(
                f"value of {len(password)} characters is over this keyring's limit of {LIMIT}"
            )
        super().set_password(service, username, password)
