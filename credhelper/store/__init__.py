"""Everything credhelper keeps, in the OS keyring, one store per kind of secret.

``backend.py`` is the seam (the keyring, or memory for tests); ``entries.py`` the versioned,
split-when-needed documents over it; ``sessions.py``, ``keys.py`` and ``daemon_index.py`` what
is kept. :func:`open_stores` builds them all over one :class:`Entries`, so that whether the
keyring is usable is decided once per command.
"""

from __future__ import annotations

from dataclasses import dataclass

from credhelper.errors import CredhelperError
from credhelper.settings import Settings
from credhelper.store.backend import Backend, KeyringBackend
from credhelper.store.daemon_index import DaemonIndex
from credhelper.store.entries import Entries
from credhelper.store.keys import LongTermKeys
from credhelper.store.sessions import SessionCache


@dataclass(frozen=True)
class Stores:
    entries: Entries
    sessions: SessionCache
    keys: LongTermKeys
    daemon_index: DaemonIndex

    def require_keyring(self, consequence: str, hint: str) -> None:
        """For the commands that exist to change the keyring (``add``, ``remove``): a
        CredhelperError saying so when it cannot be used, before anything is asked or done."""
        problem = self.entries.probe()
        if problem is not None:
            raise CredhelperError(f"the OS keyring is not usable ({problem}); {consequence}", hint)


def open_stores(settings: Settings, backend: Backend | None = None) -> Stores:
    """The stores of ``settings.keyring_service``, over ``backend`` (default: the OS keyring,
    split at ``settings.keyring_max_value`` when set). Nothing is read until first use."""
    if backend is None:
        backend = KeyringBackend(limit=settings.keyring_max_value)
    entries = Entries(settings.keyring_service, backend)
    return Stores(entries, SessionCache(entries), LongTermKeys(entries), DaemonIndex(entries))
