"""Warnings before an MFA session ends, in virtual time: when, how often, what they say.

The role sessions are short (renewed every two minutes or so), so that renewals, each
carrying the same MFA session, happen while the MFA session nears its end.
"""

from __future__ import annotations

import asyncio
import logging

from credhelper.credentials import format_time
from credhelper.daemon.mfa_warnings import MfaWarnings

from .fakes import make

WARN_BEFORE = 1800.0


def world():
    clock, sts, s = make(life=600)  # role sessions of 10 min: renewed every 120-150 s
    notes: list[tuple[str, str]] = []

    def notify(title: str, body: str) -> bool:
        notes.append((title, body))
        return True

    warnings = MfaWarnings(s, WARN_BEFORE, clock, notify=notify)
    return clock, sts, s, notes, warnings


def run(coro):
    return asyncio.run(coro)


def test_each_mfa_session_is_warned_about_once_when_its_end_comes_within_reach(caplog):
    async def main():
        clock, sts, s, notes, warnings = world()
        start = clock.t
        sts.mfa_end = start + WARN_BEFORE + 200  # the warning is due 200 s from now
        await s.get("p")
        await clock.advance(199)
        await warnings.check()
        assert notes == []
        assert len(sts.calls) == 2  # renewed meanwhile, from the same MFA session
        await clock.advance(2)
        await warnings.check()
        end = format_time(s.sessions["p"].mfa_expiration)
        assert notes == [
            (
                "credhelper",
                f"The MFA session behind profile 'p' ends at {end} (29 min). "
                "Run 'credhelper login p' to start a new one.",
            )
        ]
        # renewals from the same MFA session, to its end and past it: no second warning
        calls = len(sts.calls)
        sts.life = 1200  # (fewer renewals from here: the test stays fast)
        for _ in range(3):
            await clock.advance(700)
            await warnings.check()
        assert len(notes) == 1 and len(sts.calls) >= calls + 3
        # `credhelper login`: a new MFA session, picked up by the next renewal, is warned
        # about in its turn
        sts.mfa_end = clock.t + WARN_BEFORE + 400
        await clock.advance(200)
        await warnings.check()
        assert len(notes) == 1
        await clock.advance(201)
        await warnings.check()
        assert len(notes) == 2 and "(29 min)" in notes[1][1]
        await s.close()
        return notes

    caplog.set_level(logging.WARNING, "credhelper")
    notes = run(main())
    # each in the daemon's log too
    logged = [m for m in caplog.messages if m.startswith("The MFA session")]
    assert logged == [body for _, body in notes]


def test_a_profile_without_an_mfa_session_is_never_warned_about():
    async def main():
        clock, sts, s, notes, warnings = world()
        await s.get("p")
        await warnings.check()
        await clock.advance(600)
        await warnings.check()
        assert notes == [] and len(sts.calls) > 1
        await s.close()

    run(main())


def test_the_checks_are_paced_by_the_clock():
    async def main():
        clock, sts, s, notes, warnings = world()
        sts.mfa_end = clock.t + WARN_BEFORE + 12  # due 12 s from now
        await s.get("p")
        task = asyncio.ensure_future(warnings.run())
        await clock.advance(10)  # checks at 0, 5 and 10 s: not due yet
        assert notes == []
        await clock.advance(5)  # the check at 15 s
        assert len(notes) == 1
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await s.close()

    run(main())
