"""A keyring backend with a bug: it hands back bytes where keyring promises text.

Why: a bug (in a backend, or in credhelper) must surface as one "unexpected error" line, the
traceback with --debug, and never be taken for a missing keyring that quietly turns caching
off. Select it in a child process with ``PYTHON_KEYRING_BACKEND=harness.broken_keyring.
BytesKeyring`` and ``PYTHONPATH=<tests>``.
"""

from __future__ import annotations

from keyring.backend import KeyringBackend


class BytesKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        return b'{"format": 1}'  # type: ignore[return-value]

    def set_password(self, service: str, username: str, password: str) -> None:
        raise AssertionError("nothing is written after a read went wrong")

    def delete_password(self, service: str, username: str) -> None:
        raise AssertionError("nothing is deleted after a read went wrong")
