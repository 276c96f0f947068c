"""The seam under every store: a string by (service, name) in some secret store.

Entries (entries.py) are written against the small :class:`Backend` protocol, so that the
unit tier runs them over :class:`MemoryBackend` and production over :class:`KeyringBackend`.
A backend reports that it cannot be used by raising :class:`BackendError`, and only that:
``KeyringBackend`` turns into one exactly what the keyring library and the system services
behind it raise from their own calls, so that a bug of ours is never mistaken for a keyring
that is locked or missing (and silently turned into "nothing is cached").
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Protocol, TypeVar

T = TypeVar("T")

#: Per-value limits (characters) of keyring backends that have one, by backend class name.
BACKEND_LIMITS = {"WinVaultKeyring": 1200}

#: Errors the system services raise through ``keyring`` without wrapping them, by module and
#: name. Looked up only in modules already imported: a backend that raised one has loaded it.
_FOREIGN_ERRORS = (
    ("secretstorage.exceptions", "SecretStorageException"),  # Secret Service
    ("jeepney.wrappers", "DBusErrorResponse"),  # Secret Service, D-Bus replies
    ("dbus.exceptions", "DBusException"),  # KWallet, through dbus-python
    ("pywintypes", "error"),  # Windows Credential Manager
)


class BackendError(Exception):
    """The secret store failed or refused a call: it is not usable."""


class PlainFileBackend(BackendError):
    """The configured keyring backend writes secrets to a plain file: refused."""


class Backend(Protocol):
    """Strings by (service, name); an absent name reads as None. Failures: BackendError."""

    def get(self, service: str, name: str) -> str | None: ...

    def set(self, service: str, name: str, value: str) -> None: ...

    def delete(self, service: str, name: str) -> None:
        """Remove ``name``; one that is not there is no error."""

    def name(self) -> str | None:
        """What it is, for people (``credhelper list``)."""
        ...

    def limit(self) -> int | None:
        """The longest value (characters) one entry takes, None when there is no limit."""


class KeyringBackend:
    """The OS keyring, through the ``keyring`` library (its configured backend unless one is
    given). A backend that keeps secrets in a plain file is refused (keyrings.alt's plaintext
    backends would leave sessions and keys readable on disk)."""

    def __init__(self, ring: Any = None, limit: int | None = None) -> None:
        """``limit``: the user's override (CREDHELPER_KEYRING_MAX_VALUE), for a backend that
        :data:`BACKEND_LIMITS` does not know."""
        self._ring = ring
        self._checked = False
        self._override = limit

    def _backend(self) -> Any:
        if self._ring is None:
            import keyring

            # Loading can fail as well: a backend named in PYTHON_KEYRING_BACKEND that does not
            # import, or whose service is not there (keyring raises RuntimeError for that).
            self._ring = _call(keyring.get_keyring, ImportError, RuntimeError)
        if not self._checked:
            name = type(self._ring).__name__
            if "plaintext" in name.lower():
                raise PlainFileBackend(f"{name} would keep secrets in a plain file")
            self._checked = True
        return self._ring

    def get(self, service: str, name: str) -> str | None:
        value: str | None = _call(lambda: self._backend().get_password(service, name))
        return value  # not checked here: Entries refuses a non-string, as a bug

    def set(self, service: str, name: str, value: str) -> None:
        _call(lambda: self._backend().set_password(service, name, value))

    def delete(self, service: str, name: str) -> None:
        import keyring.errors

        def delete() -> None:
            try:
                self._backend().delete_password(service, name)
            except keyring.errors.PasswordDeleteError:
                pass  # not there

        _call(delete)

    def name(self) -> str | None:
        """The keyring backend's class, for ``list`` (None when none loads)."""
        try:
            backend = type(self._backend())
        except BackendError:
            return None
        return f"{backend.__module__}.{backend.__qualname__}"

    def limit(self) -> int | None:
        if self._override is not None:
            return self._override
        return BACKEND_LIMITS.get(type(self._backend()).__name__)


class MemoryBackend:
    """Entries in a dict, lost with the process; with ``limit``, longer values are refused as
    a limited keyring refuses them. The unit tier's keyring (``open_stores(settings,
    MemoryBackend())``)."""

    def __init__(self, limit: int | None = None) -> None:
        self.items: dict[tuple[str, str], str] = {}
        self.max_value = limit

    def get(self, service: str, name: str) -> str | None:
        return self.items.get((service, name))

    def set(self, service: str, name: str, value: str) -> None:
        if self.max_value is not None and len(value) > self.max_value:
            raise BackendError(f"a value of {len(value)} characters is over {self.max_value}")
        self.items[(service, name)] = value

    def delete(self, service: str, name: str) -> None:
        self.items.pop((service, name), None)

    def name(self) -> str | None:
        return "memory"

    def limit(self) -> int | None:
        return self.max_value


class NullBackend:
    """What a failed backend is replaced with: holds nothing, takes nothing, fails no more."""

    def get(self, service: str, name: str) -> str | None:
        return None

    def set(self, service: str, name: str, value: str) -> None:
        pass

    def delete(self, service: str, name: str) -> None:
        pass

    def name(self) -> str | None:
        return None

    def limit(self) -> int | None:
        return None


def _call(call: Callable[[], T], *more: type[BaseException]) -> T:
    """``call()``, its failures as BackendError when they come from the secret store: the
    keyring library's own errors, the system services' (D-Bus, Secret Service, ...), the
    OS's (a socket gone) and ``more``. Anything else is a bug and goes on as it is."""
    import keyring.errors

    try:
        return call()
    except Exception as exc:
        theirs: tuple[type[BaseException], ...] = (
            keyring.errors.KeyringError,
            OSError,
            EOFError,
            *more,
            *_foreign_errors(),
        )
        if isinstance(exc, theirs):
            raise BackendError(describe(exc)) from exc
        raise


def _foreign_errors() -> tuple[type[BaseException], ...]:
    found = []
    for module, name in _FOREIGN_ERRORS:
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type) and issubclass(cls, BaseException):
            found.append(cls)
    return tuple(found)


#: The longest detail :func:`describe` keeps (characters, ``...`` included).
DETAIL_LIMIT = 100


def describe(exc: BaseException) -> str:
    """One short line naming an error and its first line of detail, cut at a word (the
    no-keyring warning quotes it: a word cut in half reads as a different word)."""
    from credhelper.present import shorten  # only on a failure: not on the hot path

    detail = (str(exc).splitlines() or ["no detail"])[0]
    return f"{type(exc).__name__}: {shorten(detail, DETAIL_LIMIT)}"
