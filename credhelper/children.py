"""Programs credhelper runs for a source (a profile's own ``credential_process``).

botocore runs them with no time limit, so a source waiting for a browser, or hung, held its
caller (and a daemon thread) forever and was orphaned when the daemon stopped. Here each one
gets what is left of the call's deadline, is killed (with its process group, in the daemon)
when that runs out, and is killed when the daemon stops. Its environment says which session
locks we hold, so that a source leading back to credhelper for the same session fails at once
instead of waiting on a lock its own parent holds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from typing import Any

from credhelper import deadline, locking, recursion
from credhelper.errors import CredhelperError

#: In the daemon: children get their own session (no terminal to share) and are killed as a
#: group. In a caller's process they stay in its group, so that a source may use the terminal.
isolate = False

_live: set[Popen] = set()
_lock = threading.Lock()


class Popen(subprocess.Popen):  # type: ignore[type-arg]
    """``subprocess.Popen`` as botocore's ProcessProvider calls it, bounded by the deadline."""

    def __init__(self, args: Any, *, label: str = "a source's credential_process", **kw: Any):
        self.label = label
        #: The deadline of the fetch that started it: a superseded fetch's children are killed.
        self.deadline = deadline.current()
        env = dict(os.environ if kw.get("env") is None else kw["env"])
        env.update(recursion.child_marks(locking.held()))
        kw["env"] = env
        if isolate:
            kw["start_new_session"] = True
        super().__init__(args, **kw)
        with _lock:
            _live.add(self)

    def communicate(self, input: Any = None, timeout: float | None = None) -> Any:
        d = deadline.current()
        limit = d.remaining() if d is not None else timeout
        try:
            with deadline.step(self.label):
                try:
                    return super().communicate(input, timeout=limit)
                except subprocess.TimeoutExpired:
                    self.kill_tree()
                    with contextlib.suppress(subprocess.TimeoutExpired, OSError, ValueError):
                        super().communicate(timeout=2)
                    if d is not None:
                        raise d.error() from None
                    raise CredhelperError(f"{self.label} did not finish in time") from None
        finally:
            with _lock:
                _live.discard(self)

    def kill_tree(self) -> None:
        """SIGKILL the child (and, in the daemon, everything in its process group)."""
        with contextlib.suppress(OSError):
            if isolate:
                os.killpg(self.pid, signal.SIGKILL)
            else:
                self.kill()


def kill_all() -> int:
    """Kill every source program still running (the daemon is stopping); how many."""
    with _lock:
        live = list(_live)
        _live.clear()
    for child in live:
        if child.poll() is None:
            child.kill_tree()
    return len(live)


def kill_for(owner: deadline.Deadline) -> int:
    """Kill the source programs a given fetch started (it was superseded or timed out)."""
    with _lock:
        mine = [child for child in _live if child.deadline is owner]
        _live.difference_update(mine)
    for child in mine:
        if child.poll() is None:
            child.kill_tree()
    return len(mine)


def live() -> int:
    with _lock:
        return sum(1 for child in _live if child.poll() is None)
