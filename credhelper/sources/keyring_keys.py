"""Long-term keys stored with ``credhelper add``: in the keyring only, never in a file; they
take precedence over the files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from credhelper.credentials import Credentials
from credhelper.errors import CredhelperError
from credhelper.providers import Fetched

if TYPE_CHECKING:
    from credhelper.awsfiles import AwsFiles
    from credhelper.store import Stores


@dataclass(frozen=True)
class KeyringKeys:
    SERVED_ALONE: ClassVar[bool] = True

    profile: str

    def long_term(self, values: Mapping[str, Any]) -> bool:
        return True

    def origin(self, files: AwsFiles) -> str:
        return "keyring"

    def provider(self, files: AwsFiles, stores: Stores) -> KeyringKeysProvider:
        # Read once, here: the key id goes into the cache keys (sessions made with replaced
        # keys are not reused), and the keys sign the first call.
        return KeyringKeysProvider(self, stores.keys.get(self.profile))


@dataclass
class KeyringKeysProvider:
    source: KeyringKeys
    keys: Credentials | None

    @property
    def profile(self) -> str:
        return self.source.profile

    def cache_key_material(self) -> dict[str, Any]:
        key_id = self.keys.access_key_id if self.keys else None
        return {"profile": self.profile, "keyring_key_id": key_id}

    def fetch(self) -> Fetched:
        if self.keys is None:
            raise CredhelperError(
                f"the keyring holds no keys for profile '{self.profile}'",
                f"store them with 'credhelper add {self.profile}'",
            )
        return Fetched(self.keys)
