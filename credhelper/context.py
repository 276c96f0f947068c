"""The world a command runs in, built once per command and passed down.

Settings (every ``CREDHELPER_*`` variable, validated once), one snapshot of the AWS files
(one botocore session), the stores over one keyring backend, the way to ask for an MFA code,
and a clock. Commands are small functions of (arguments, context); tests build a context over
an in-memory keyring or a fake prompt instead of patching modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from credhelper import prompt
from credhelper.clock import Clock
from credhelper.prompt import Asker
from credhelper.settings import Settings

if TYPE_CHECKING:
    from credhelper.awsfiles import AwsFiles
    from credhelper.hotpath import Asked
    from credhelper.store import Stores
    from credhelper.store.backend import Backend


@dataclass
class Context:
    settings: Settings
    #: How an MFA code is asked for (the daemon's never asks: it says to run ``login``).
    ask: Asker = prompt.ask
    clock: Clock = field(default_factory=Clock)
    #: The keyring backend under the stores (None: the OS keyring through ``keyring``).
    backend: Backend | None = None
    #: What the hot path found when it asked the daemon first (None: it did not ask).
    asked: Asked | None = None
    _files: AwsFiles | None = field(default=None, repr=False)
    _stores: Stores | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, min_ttl: float | None = None, asked: Asked | None = None) -> Context:
        """The context of a command run from the shell: settings from the environment
        (CredhelperError, exit code 2, on a bad ``CREDHELPER_*`` value), the OS keyring, the
        person at the terminal."""
        return cls(Settings.from_env(min_ttl=min_ttl), asked=asked)

    @property
    def files(self) -> AwsFiles:
        """The AWS files, parsed on first use (commands that need none never read them)."""
        if self._files is None:
            from credhelper.awsfiles import AwsFiles

            self._files = AwsFiles.load()
        return self._files

    def reread_files(self) -> AwsFiles:
        """A new snapshot (the daemon, after the files changed)."""
        self._files = None
        return self.files

    @property
    def stores(self) -> Stores:
        if self._stores is None:
            from credhelper.store import open_stores

            self._stores = open_stores(self.settings, self.backend)
        return self._stores
