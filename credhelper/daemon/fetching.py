"""The daemon's one door to the chains (and to the session cache they key).

Every call the daemon makes to resolve a profile is here: fetching its session, its cache
key after a config edit, and what the keyring holds for it at start-up. Each reads the AWS
files afresh (they change while the daemon runs), over the daemon's one set of stores. All of
it is blocking (botocore, keyring): callers run it on a thread of its own.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

from credhelper.credentials import Credentials
from credhelper.daemon.scheduler import Fetched, PromptNeeded
from credhelper.prompt import CodeRequest

if TYPE_CHECKING:
    from credhelper.awsfiles import AwsFiles
    from credhelper.chain import BuiltChain
    from credhelper.context import Context

log = logging.getLogger(__name__)


def no_prompt(request: CodeRequest) -> str:
    """The daemon never prompts: the caller's process does, or ``credhelper login``."""
    raise PromptNeeded(
        f"MFA needed: a code for {request.serial}",
        f"run 'credhelper login {request.profile}' in a terminal",
    )


class Fetching:
    """Builds chains in one environment the daemon serves, never prompting: the AWS files
    found and resolved under ``environ`` (this process's by default, see
    :mod:`credhelper.daemon.environments`), over the stores of ``ctx``."""

    def __init__(
        self, ctx: Context, environ: Mapping[str, str] | None = None, caller_keys: bool = False
    ) -> None:
        self.ctx = ctx
        self.environ = environ
        self.caller_keys = caller_keys
        self._files: AwsFiles | None = None
        self._lock = threading.Lock()
        #: How many times the AWS files were parsed (the log says so each time).
        self.parses = 0

    def paths(self) -> tuple[Path, Path]:
        """The config and credentials files this environment reads (for its watcher)."""
        from credhelper.awsfiles import paths

        return paths(self.environ)

    def files(self, reparse: bool = False) -> AwsFiles:
        """The snapshot of the AWS files as they are now: the one held while the files have
        not changed, else (or if ``reparse``) a new one (CredhelperError if they cannot be
        parsed right now; the one held is kept). Shared read-only by the threads; one parse
        however many ask."""
        files = self._files
        if not reparse and files is not None and files.unchanged():
            return files
        from credhelper.awsfiles import AwsFiles

        with self._lock:
            files = self._files
            if reparse or files is None or not files.unchanged():
                files = AwsFiles.load(self.environ, self.caller_keys)
                self._files = files
                self.parses += 1
                log.info(
                    "read the AWS files (%d profiles; parse %d)", len(files.profiles), self.parses
                )
            return files

    def _chain(self, profile: str, min_ttl: float | None = None) -> BuiltChain:
        import dataclasses

        from credhelper.chain import build_chain

        current = dataclasses.replace(self.ctx, _files=self.files())
        return build_chain(profile, current, ask_code=no_prompt, min_ttl=min_ttl)

    def fetch(
        self,
        profile: str,
        min_ttl: float,
        avoid: str | None = None,
        on_key: Callable[[str], None] = lambda key: None,
    ) -> Fetched:
        """The scheduler's fetch (scheduler.FetchFn): a session with more than ``min_ttl``
        left, from the keyring or STS; ``on_key`` learns the cache key as soon as it is known,
        so that a config edit can tell a fetch made from the old config."""
        chain = self._chain(profile, min_ttl)
        key = chain.cache_key
        on_key(key)
        fetched = chain.fetch(avoid=avoid)
        mfa = fetched.mfa_session
        return Fetched(
            chain.role_arn or "",
            key,
            fetched.credentials,
            fetched.from_cache,
            mfa_expiration=mfa.expiration if mfa is not None else None,
            keys_from=chain.keys_from(),
        )

    def check_config(self) -> None:
        """CredhelperError when the AWS files cannot be read as a whole right now (a
        half-saved file, say): a config edit is then not acted on. Takes the new snapshot
        that the keys are then computed from: parsed again whatever the files' stat says (an
        edit within the file system's time resolution, of the same size, would not show)."""
        self.files(reparse=True)

    def key_of(self, profile: str) -> str:
        """The cache key ``profile`` resolves to now; CredhelperError if it no longer does."""
        return self._chain(profile).cache_key

    def kept(self, profile: str, worth: Callable[[Credentials], bool]) -> Fetched | None:
        """The session the keyring holds for ``profile`` if ``worth`` takes it (None: none
        it takes); CredhelperError if the profile no longer resolves."""
        chain = self._chain(profile)
        key = chain.cache_key
        creds = self.ctx.stores.sessions.get(key)
        if creds is None or not worth(creds):
            return None
        return Fetched(
            chain.role_arn or "",
            key,
            creds,
            from_keyring=True,
            keys_from=chain.keys_from(),
        )

    def keep(self, profile: str, key: str, creds: Credentials) -> None:
        """Put the session the daemon holds for ``profile`` in the keyring, unless the
        keyring's is as new (a keyring that worked again: what it missed meanwhile)."""
        sessions = self.ctx.stores.sessions
        stored = sessions.get(key)
        if stored is not None and (
            stored == creds
            or (stored.expiration and creds.expiration and stored.expiration >= creds.expiration)
        ):
            return
        sessions.put(key, creds, profile)

    def forget(self, key: str) -> None:
        """Delete the cached session of cache key ``key`` (its profile changed or left)."""
        self.ctx.stores.sessions.delete(key)
