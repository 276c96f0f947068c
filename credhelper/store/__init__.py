"""Everything credhelper keeps, in the OS keyring, one store per kind of secret.

``backend.py`` is the seam (the keyring, or memory for tests); ``entries.py`` the versioned,
split-when-needed documents over it; ``sessions.py``, ``keys.py`` and ``daemon_index.py`` what
is kept. :func:`open_stores` builds them all over one :class:`Entries`, so that whether the
keyring is usable is decided once per command.
"""

from __future__ import annotations

from dataclasses import dataclass

from credhelper.store.backend import Backend, KeyringBackend
from credhelper.store.daemon_index import DaemonIndex
from credhelper.store.entries import Entries
from credhelper.store.keys import LongTermKeys
from credhelper.store.sessions import SessionCache

TYPE_CHECKING = False
if TYPE_CHECKING:
    from credhelper.settings import Settings


@dataclass(frozen=True)
class Stores:
    entries: Entries
    sessions: SessionCache
    keys: LongTermKeys
    daemon_index: DaemonIndex


def open_stores(settings: Settings, backend: Backend | None = None) -> Stores:
    """The stores of ``settings.keyring_service``, over ``backend`` (default: the OS keyring,
    split at ``settings.keyring_max_value`` when set). Nothing is read until first use."""
    if backend is None:
        backend = KeyringBackend(limit=settings.keyring_max_value)
    entries = Entries(settings.keyring_service, backend)
    return Stores(entries, SessionCache(entries), LongTermKeys(entries), DaemonIndex(entries))
