"""The profiles the daemon serves (``daemon:index``): a restarted daemon reloads their
sessions from the keyring. Kept there with the sessions, not in a file."""

from __future__ import annotations

from credhelper.store.entries import Entries

NAME = "daemon:index"


class DaemonIndex:
    def __init__(self, entries: Entries) -> None:
        self.entries = entries

    @property
    def usable(self) -> bool:
        """Whether the keyring works (while it does not, the index is left as it is)."""
        return self.entries.usable

    @property
    def recoveries(self) -> int:
        """How many times the keyring has worked again after failing."""
        return self.entries.recoveries

    def retry_in(self) -> float | None:
        """Seconds until a failed keyring is tried again; None while it works."""
        return self.entries.retry_in()

    def retry(self) -> bool:
        """Try a failed keyring if its try is due; whether it works."""
        return self.entries.retry()

    def load(self) -> list[str]:
        return self.entries.read_names(NAME)

    def save(self, profiles: list[str]) -> None:
        self.entries.write_names(NAME, profiles)
