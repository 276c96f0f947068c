"""Warnings before an MFA session ends: in the daemon's log and on the desktop (``status``
shows the end time too, as ``mfa_expiration``).

Why: the daemon never prompts. Once the MFA session behind a profile is over, its roles
cannot be renewed until someone runs ``credhelper login``; warned ahead, the user does it
when it suits them, not when a script fails. Each MFA session is warned about once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable, Iterable

from credhelper.clock import Clock
from credhelper.credentials import format_time
from credhelper.daemon import threads
from credhelper.daemon.notify import notify as desktop_notification
from credhelper.daemon.scheduler import Scheduler, Session

log = logging.getLogger(__name__)

#: How often the sessions are looked at (an MFA session lasts hours).
CHECK_INTERVAL = 5.0


def due(sessions: Iterable[Session], now: float, within: float) -> list[Session]:
    """Sessions whose MFA session ends within ``within`` seconds of ``now`` and was not
    warned about yet; each is marked, so it is returned once per MFA session."""
    out = []
    for session in sessions:
        end = session.mfa_expiration
        if end is not None and end != session.mfa_warned and end.timestamp() - now < within:
            session.mfa_warned = end
            out.append(session)
    return out


def warning(session: Session, now: float) -> str:
    end = session.mfa_expiration
    assert end is not None
    minutes = max(0, int((end.timestamp() - now) // 60))
    return (
        f"The MFA session behind profile '{session.profile}' ends at "
        f"{format_time(end)} ({minutes} min). Run 'credhelper login "
        f"{session.profile}' to start a new one."
    )


class MfaWarnings:
    def __init__(
        self,
        scheduler: Scheduler,
        warn_before: float,
        clock: Clock | None = None,
        notify: Callable[[str, str], bool] = desktop_notification,
        interval: float = CHECK_INTERVAL,
    ) -> None:
        self.scheduler = scheduler
        self.warn_before = warn_before
        self.clock = clock or scheduler.clock
        self._notify = notify
        self.interval = interval

    async def run(self) -> None:
        """Look every ``interval`` seconds of the clock, until cancelled."""
        never = asyncio.Event()  # nothing cuts a wait short: the clock alone paces the checks
        while True:
            try:
                await self.check()
            except Exception:
                log.exception("checking MFA sessions failed")
            await self.clock.wait(never, self.interval)

    async def check(self) -> None:
        for session in due(self.scheduler.sessions.values(), self.clock.time(), self.warn_before):
            text = warning(session, self.clock.time())
            log.warning("%s", text)
            await threads.run(self._notify, "credhelper", text)
