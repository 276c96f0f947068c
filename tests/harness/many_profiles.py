"""A daemon that holds thousands of profiles, without thousands of STS calls.

Why: ``credhelper status`` must work with 5,000 profiles, and warming them through STS would
take minutes. So sessions are put in the keyring ahead of time, with the daemon's index
listing their profiles, and a real ``credhelper daemon`` reloads them at start, as after a
restart. One stand-in, for speed alone:

* :class:`FileKeyring`, a keyring backend over one JSON file, selected in the child processes
  with ``PYTHON_KEYRING_BACKEND`` (as ``limited_keyring`` is). gnome-keyring takes 20 to 30 ms
  per item over D-Bus: 5,000 sessions would take minutes to write and again to read.

Run as ``python -m harness.many_profiles seed LIFE [PROFILE=LIFE ...]`` (sessions for every
role profile of the config, LIFE seconds long and left, some profiles less left), with
PYTHONPATH naming the tests folder and :data:`FILE_VAR` the keyring file; then a plain
``credhelper daemon`` with the same variables reloads them (it parses the AWS files once).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from datetime import datetime, timedelta, timezone

from keyring.backend import KeyringBackend

#: The JSON file the keyring is kept in (service -> name -> value).
FILE_VAR = "HARNESS_KEYRING_FILE"
BACKEND = "harness.many_profiles.FileKeyring"


class FileKeyring(KeyringBackend):
    """Every entry in memory, the file rewritten on each change (or on :meth:`save`)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self, autosave: bool = True) -> None:
        super().__init__()
        self.path = os.environ[FILE_VAR]
        self.autosave = autosave
        self._lock = threading.Lock()
        try:
            with open(self.path) as f:
                self.data: dict[str, dict[str, str]] = json.load(f)
        except FileNotFoundError:
            self.data = {}

    def save(self) -> None:
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f)
        os.replace(tmp, self.path)

    def get_password(self, service: str, username: str) -> str | None:
        with self._lock:
            return self.data.get(service, {}).get(username)

    def set_password(self, service: str, username: str, password: str) -> None:
        with self._lock:
            self.data.setdefault(service, {})[username] = password
            if self.autosave:
                self.save()

    def delete_password(self, service: str, username: str) -> None:
        import keyring.errors

        with self._lock:
            if self.data.get(service, {}).pop(username, None) is None:
                raise keyring.errors.PasswordDeleteError(username)
            if self.autosave:
                self.save()


def seed(life: float, lives: dict[str, float]) -> None:
    """Sessions in the keyring for every role profile of the config, and the daemon's index
    listing them: written by credhelper's own stores, under the cache keys its own chains
    compute."""
    from credhelper.chain import build_chain
    from credhelper.context import Context
    from credhelper.credentials import Credentials
    from credhelper.settings import Settings
    from credhelper.store.backend import KeyringBackend as Backend

    ring = FileKeyring(autosave=False)
    ctx = Context(Settings.from_env(), backend=Backend(ring=ring))
    names = sorted(n for n, v in ctx.files.profiles.items() if v.get("role_arn"))
    now = datetime.now(timezone.utc).replace(microsecond=0)
    for i, name in enumerate(names):
        chain = build_chain(name, ctx, with_keys=set())
        end = now + timedelta(seconds=lives.get(name, life))
        creds = Credentials(
            access_key_id=f"ASIASEED{i:012d}",
            secret_access_key=f"seeded-secret-{i}",
            session_token=f"seeded-token-{i}",
            expiration=end,
            issued=min(now, end - timedelta(seconds=life)),  # sessions of ``life`` seconds
        )
        ctx.stores.sessions.put(chain.cache_key, creds, name)
    ctx.stores.daemon_index.save(names)
    ring.save()
    print(len(names))


def main(argv: list[str]) -> int:
    if argv[0] == "seed":
        lives = {k: float(v) for k, v in (a.split("=", 1) for a in argv[2:])}
        seed(float(argv[1]), lives)
        return 0
    raise SystemExit(f"unknown command {argv[0]!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
