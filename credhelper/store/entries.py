"""Versioned JSON documents under one keyring service, over any :class:`Backend`.

Every entry is a versioned JSON document (``"format": 1``); one that cannot be read (corrupt,
unknown version, a missing piece) is treated as absent, logged, and replaced on the next write.
Values longer than the backend allows (Windows Credential Manager: ~1280 characters) are
split across entries and joined on read. A value is rewritten only when it changed (macOS
drops "Always Allow" on every write). When the backend fails, the entries say so once and
hold nothing while it does: a secret never falls back to a plain file. A failed backend is
tried again with backoff (the first call after 1 s, then 2 s, 4 s ... at most a minute apart);
when a call goes through again, ``recoveries`` counts it, so that the daemon writes through
what it held in memory meanwhile.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any, Callable

from credhelper.store.backend import Backend, BackendError, NullBackend, describe

log = logging.getLogger(__name__)

FORMAT = 1
#: The most pieces one value is split into (and the most a head is believed to name).
MAX_PIECES = 64
#: Seconds before a failed backend is tried again: doubled after each failed try, up to the most.
RETRY_FIRST = 1.0
RETRY_MOST = 60.0


class Entries:
    """Documents by name. A backend failure is decided here, once for all the stores built
    over these entries: until the next try is due (backoff), calls go to a
    :class:`NullBackend`, and ``problem`` says why. ``monotonic``: the clock of the backoff
    (injectable, for virtual time)."""

    def __init__(
        self,
        service: str,
        backend: Backend,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self._backend: Backend = backend
        self._original = backend
        self._monotonic = monotonic
        #: Why the backend is not usable (None while it is).
        self.problem: str | None = None
        #: How many times a failed backend has worked again.
        self.recoveries = 0
        self._delay = RETRY_FIRST
        self._retry_at = 0.0
        self._warned = False

    @property
    def usable(self) -> bool:
        return self.problem is None

    def retry_in(self) -> float | None:
        """Seconds until a failed backend is tried again (0: at the next call); None while
        it works."""
        if self.problem is None:
            return None
        return max(0.0, self._retry_at - self._monotonic())

    def _failed(self, exc: BackendError, warn: bool = True) -> None:
        retrying = self.problem is not None
        self._backend = NullBackend()
        self.problem = describe(exc.__cause__ or exc)
        self._retry_at = self._monotonic() + self._delay
        self._delay = min(self._delay * 2, RETRY_MOST) if retrying else RETRY_FIRST * 2
        if retrying:
            log.debug("the OS keyring is still not usable (%s)", self.problem)
        elif warn and not self._warned:
            self._warned = True
            log.warning(
                "warning: the OS keyring is not usable (%s); nothing is cached or stored (never in "
                "a plain file instead). To cache sessions, install or unlock a keyring (GNOME "
                "Keyring, KWallet, macOS Keychain, Windows Credential Manager); on a headless "
                "Linux machine, run under 'dbus-run-session' after 'gnome-keyring-daemon "
                "--unlock' reads the keyring's password on stdin (see README, Headless)",
                self.problem,
            )

    def _begin(self, force: bool = False) -> None:
        """Before a call: the real backend while it works, or when a try is due."""
        if self.problem is not None and (force or self._monotonic() >= self._retry_at):
            self._backend = self._original

    def _done(self) -> None:
        """After a call that went through: a failed backend that was tried works again."""
        if self.problem is not None and self._backend is self._original:
            log.info("the OS keyring works again (it failed with %s)", self.problem)
            self.problem = None
            self._delay = RETRY_FIRST
            self.recoveries += 1

    def backend_name(self) -> str | None:
        """What keyring is (or was, before it failed) underneath, for people."""
        return self._original.name()

    def probe(self) -> str | None:
        """Try the backend once now, without the warning (callers say it their own way);
        returns why it is not usable, or None."""
        try:
            self._begin(force=True)
            self._get("keys:index")
            self._done()
        except BackendError as exc:
            self._failed(exc, warn=False)
        return self.problem

    def retry(self) -> bool:
        """Try a failed backend if its try is due (the daemon's, while it has nothing else to
        ask the keyring); whether the backend works."""
        if self.problem is not None and self._monotonic() >= self._retry_at:
            self.probe()
        return self.usable

    # --- raw access --------------------------------------------------------------------

    def _get(self, name: str) -> str | None:
        text = self._backend.get(self.service, name)
        if text is not None and not isinstance(text, str):
            # A backend bug (or ours), not a locked keyring: never taken for "no keyring".
            raise TypeError(f"the keyring backend returned {type(text).__name__} for {name}")
        return text

    def _put(self, name: str, value: str) -> None:
        if self._get(name) != value:
            self._backend.set(self.service, name, value)

    # --- documents ---------------------------------------------------------------------

    def read(self, name: str) -> dict[str, Any] | None:
        """The document stored as ``name``, or None (absent, unreadable, or no keyring)."""
        try:
            self._begin()
            text = self._get(name)
            if text is not None:
                doc = parse(text)
                if doc is not None and "pieces" in doc:
                    text = self._join(name, doc)
                    doc = parse(text) if text is not None else None
            self._done()
            if text is None:
                return None
        except BackendError as exc:
            self._failed(exc)
            return None
        if doc is None or doc.get("format") != FORMAT:
            version = doc.get("format") if doc else None
            log.warning(
                "ignoring keyring entry %s (%s); it will be replaced",
                name,
                f"unknown format {version!r}" if doc else "unreadable",
            )
            return None
        return doc

    def _join(self, name: str, head: dict[str, Any]) -> str | None:
        names = piece_names(name, head)
        if not names:
            return None
        pieces = [self._get(piece) for piece in names]
        if any(p is None for p in pieces):
            log.warning("keyring entry %s is missing a piece", name)
            return None
        text = "".join(p for p in pieces if p is not None)
        if hashlib.sha256(text.encode()).hexdigest() != head.get("sha256"):
            log.warning("keyring entry %s does not match its checksum", name)
            return None
        return text

    def write(self, name: str, doc: dict[str, Any]) -> bool:
        """Store ``doc`` (format added); False when no keyring could take it."""
        text = json.dumps({"format": FORMAT, **doc}, separators=(",", ":"), sort_keys=True)
        try:
            self._begin()
            old = parse(self._get(name) or "")
            limit = self._backend.limit()
            new_pieces: list[str] = []
            if limit and len(text) > limit:
                # New pieces go under names of their own (tagged with their checksum), and the
                # head is switched to them last: a kill at any moment leaves the old entry or
                # the new one whole, never new pieces under the old head.
                digest = hashlib.sha256(text.encode()).hexdigest()
                chunks = [text[i : i + limit] for i in range(0, len(text), limit)]
                head = {
                    "format": FORMAT,
                    "pieces": len(chunks),
                    "sha256": digest,
                    "tag": digest[:12],
                }
                new_pieces = piece_names(name, head)
                for piece, chunk in zip(new_pieces, chunks):
                    self._put(piece, chunk)
                self._put(name, json.dumps(head, separators=(",", ":"), sort_keys=True))
            else:
                self._put(name, text)
            for piece in piece_names(name, old):
                if piece not in new_pieces:
                    self._backend.delete(self.service, piece)
            self._done()
        except BackendError as exc:
            self._failed(exc)
        return self.usable

    def delete(self, name: str) -> None:
        """Remove ``name`` and its pieces; one that is not there is no error."""
        try:
            self._begin()
            old = parse(self._get(name) or "")
            self._backend.delete(self.service, name)
            for piece in piece_names(name, old):
                self._backend.delete(self.service, piece)
            self._done()
        except BackendError as exc:
            self._failed(exc)

    # --- lists of profile names (the indexes) --------------------------------------------

    def read_names(self, name: str) -> list[str]:
        """The sorted profile names an index entry lists (none when absent or unreadable)."""
        doc = self.read(name)
        names = doc.get("profiles") if doc else None
        return sorted(n for n in names if isinstance(n, str)) if isinstance(names, list) else []

    def write_names(self, name: str, names: list[str]) -> None:
        self.write(name, {"profiles": sorted(set(names))})


def piece_names(name: str, head: dict[str, Any] | None) -> list[str]:
    """The entries a split value's head points at (none for a whole value).

    ``name#TAG.1 ...`` with the tag the head names; heads written before tags existed point
    at ``name#1 ...``.
    """
    count = head.get("pieces") if head else None
    if not isinstance(count, int) or not 0 < count <= MAX_PIECES:
        return []
    assert head is not None
    tag = head.get("tag")
    if isinstance(tag, str) and tag.isalnum() and len(tag) <= 64:
        return [f"{name}#{tag}.{i}" for i in range(1, count + 1)]
    return [f"{name}#{i}" for i in range(1, count + 1)]


def parse(text: str) -> dict[str, Any] | None:
    """A JSON object, or None for anything else."""
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None
