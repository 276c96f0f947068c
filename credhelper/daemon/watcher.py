"""Watch the AWS config and credentials files and report edits, debounced.

Editors replace files atomically (temp file + rename), so the parent folder is watched and
an event counts when its source or destination is one of the files. Reads (the daemon's
own included) produce open / close-without-write events on Linux: those are ignored.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any, Callable, Iterable

from credhelper.awsfiles import paths

log = logging.getLogger(__name__)

SETTLE = 0.15
_IGNORED = {"opened", "closed_no_write"}


class ConfigWatcher:
    """Calls ``on_change`` on the event loop ~150 ms after the last relevant event."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_change: Callable[[], None],
        files: Iterable[Path] | None = None,
    ) -> None:
        self._loop = loop
        self._on_change = on_change
        self.files = {str(p) for p in (files or paths())}
        self._timer: asyncio.TimerHandle | None = None
        self._observer: Any = None

    def start(self) -> None:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                if event.event_type in _IGNORED or event.is_directory:
                    return
                paths = {os.fsdecode(event.src_path), os.fsdecode(getattr(event, "dest_path", ""))}
                if paths & watcher.files:
                    watcher._loop.call_soon_threadsafe(watcher._poke)

        self._observer = Observer()
        for folder in sorted({self._existing_folder(Path(f).parent) for f in self.files}):
            self._observer.schedule(Handler(), folder, recursive=False)
            log.info("watching %s for AWS config changes", folder)
        self._observer.daemon = True
        self._observer.start()

    @staticmethod
    def _existing_folder(folder: Path) -> str:
        # A missing ~/.aws: watch the nearest folder that exists, so its creation is seen.
        while not folder.is_dir() and folder != folder.parent:
            folder = folder.parent
        return str(folder)

    def _poke(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_later(SETTLE, self._fire)

    def _fire(self) -> None:
        self._timer = None
        log.info("AWS config changed")
        self._on_change()

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=2)
