"""A Secret Service keyring that refuses to store long-term keys (``keys:PROFILE`` entries)
and takes everything else.

Why: ``credhelper rotate`` must keep the old key, stored and working, when the keyring does
not take the new one (and delete the new key in IAM). Select it in a child process with
``PYTHON_KEYRING_BACKEND=harness.refusing_keyring.KeysRefusingKeyring`` and
``PYTHONPATH=<tests>``.
"""

from __future__ import annotations

from keyring.backends import SecretService
from keyring.errors import PasswordSetError


class KeysRefusingKeyring(SecretService.Keyring):
    """Writes of ``keys:`` entries (but the index) fail, as a full or read-only keyring's."""

    def set_password(self, service: str, username: str, password: str) -> None:
        if username.startswith("keys:") and username != "keys:index":
            raise PasswordSetError(f"this keyring refuses to store {username} (test)")
        super().set_password(service, username, password)
