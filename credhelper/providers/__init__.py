"""Credential providers that compose: a cache wraps a role session, which wraps a source.

Each provider has ``fetch()`` (credentials) and ``identity()`` (the settings that shape what
it returns, hashed into cache keys so that editing a profile invalidates exactly its cache).
"""

from __future__ import annotations

from typing import Any, Protocol

from credhelper.credentials import Credentials


class Provider(Protocol):
    #: The profile this provider stands for, named in errors and logs.
    profile: str

    def fetch(self) -> Credentials: ...

    def identity(self) -> dict[str, Any]: ...
