"""The daemon's scheduler in virtual time: when it renews, how it backs off, when it lets go.

Fetches are a fake (fakes.FakeSts) that records the virtual time of each call; everything
else is the real scheduler (its single-flight, its thread per fetch, its serving rules).
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from credhelper.daemon import scheduler as sched
from credhelper.daemon.scheduler import BACKOFF_CAP, PromptNeeded, renew_threshold
from credhelper.errors import CredhelperError

from .fakes import HOUR, make
from .vclock import settle


def run(coro):
    return asyncio.run(coro)


def test_renewal_threshold_rules():
    assert renew_threshold(HOUR, 960) == 1500  # 25 min for an hour's session
    assert renew_threshold(12 * HOUR, 960) == 4 * HOUR  # a third of a long one
    # a short session: never at the floor, never at once
    assert renew_threshold(40, 960) == 30
    assert 0 < renew_threshold(900, 960) < 900


def test_an_hours_session_is_renewed_25_minutes_before_its_end_and_not_before():
    async def main():
        clock, sts, s = make()
        first = await s.get("p")
        start = clock.t
        await clock.advance(HOUR - 1500 - 61)  # before the earliest jittered moment
        assert len(sts.calls) == 1
        await clock.advance(62)
        assert len(sts.calls) == 2
        assert HOUR - 1500 - 60 <= sts.calls[1] - start <= HOUR - 1500
        second = await s.get("p")
        assert second.access_key_id != first.access_key_id
        await s.close()

    run(main())


def test_renewals_of_sessions_fetched_together_go_one_after_another_at_the_rate():
    """Many profiles warmed at once come due within a minute of each other: STS sees their
    renewals one every 1/rate seconds, not as a burst."""

    async def main():
        clock, sts, s = make(renew_rate=0.5)
        await asyncio.gather(*(s.get(f"p{i}") for i in range(6)))
        await clock.advance(HOUR - 1500 - 61)  # before the earliest jittered moment
        assert len(sts.calls) == 6
        await clock.advance(61 + 20)
        renewals = sts.calls[6:]
        assert len(renewals) == 6
        assert all(b - a >= 2.0 - 1e-6 for a, b in zip(renewals, renewals[1:]))
        assert all(s.sessions[f"p{i}"].creds.usable(960, clock.now()) for i in range(6))
        await s.close()

    run(main())


def test_a_renewal_that_cannot_wait_its_turn_goes_at_once():
    async def main():
        clock, sts, s = make(renew_rate=1 / 600)  # a turn every 10 min
        await asyncio.gather(*(s.get(f"p{i}") for i in range(3)))
        await clock.advance(HOUR - 1500 + 1)
        # Waiting 10 min would leave 900 s, under the 960 s floor: none waits.
        assert len(sts.calls) == 6
        await s.close()

    run(main())


def test_a_short_session_is_renewed_again_and_again_with_nobody_calling():
    """What tests/e2e/test_daemon.py once watched over several real renewals (30 s sessions),
    here over many, exactly; the e2e test now watches one."""

    async def main():
        life = 30.0
        clock, sts, s = make(life=life)
        await s.get("p")  # the only caller
        threshold = renew_threshold(life, 960)  # 22.5 s: renewed after about 7.5 s
        floor = life / 2  # a short session's hand-out floor (Credentials.usable)
        await clock.advance(10 * (life - threshold))
        gaps = [b - a for a, b in zip(sts.calls, sts.calls[1:])]
        assert len(gaps) >= 9
        for gap in gaps:
            # renewed when `threshold` (plus jitter, at most life/20) was left...
            assert life - threshold - life / 20 - 1e-6 <= gap <= life - threshold + 1e-6, gaps
            assert gap < life - floor  # ...never as late as the floor
        row = s.status()[0]
        assert (row["failures"], row["last_error"], row["source"]) == (0, None, "daemon")
        assert 0 < row["renews_in"] <= threshold
        await s.close()

    run(main())


def test_failed_renewals_back_off_and_the_held_session_is_served_meanwhile():
    async def main():
        clock, sts, s = make()
        held = await s.get("p")
        sts.fail_from = 2
        start = clock.t
        await clock.advance(HOUR - 1500 - 61)
        assert len(sts.calls) == 1
        await clock.advance(1061)  # the renewal fails, and so does every retry
        gaps = [b - a for a, b in zip(sts.calls[1:], sts.calls[2:])]
        assert len(gaps) >= 8
        for i, gap in enumerate(gaps[:7], start=1):
            ceiling = min(BACKOFF_CAP, 2.0 * 2 ** (i - 1))
            assert ceiling / 2 - 1e-6 <= gap <= ceiling + 1e-6, (i, gap)
        assert max(gaps) <= BACKOFF_CAP + 1e-6
        row = s.status()[0]
        assert row["failures"] == len(sts.calls) - 1 and "ServiceUnavailable" in row["last_error"]
        # under the floor now (500 s left) but valid: a caller is served it, STS failing
        assert (await s.get("p")).access_key_id == held.access_key_id
        # near the end, retries come before the session can no longer be handed out
        await clock.advance(HOUR - (clock.t - start) - 40)
        assert sts.calls[-1] - start >= HOUR - 40 - BACKOFF_CAP
        await s.close()

    run(main())


def test_a_profile_nobody_asks_for_is_dropped_at_its_next_renewal():
    async def main():
        clock, sts, s = make(idle=3000)
        await s.get("p")
        await clock.advance(HOUR - 1440)  # renewed once: not idle yet (about 2100 s)
        assert len(sts.calls) == 2 and "p" in s.sessions
        await clock.advance(HOUR)  # the next renewal finds it idle for over 3000 s
        assert "p" not in s.sessions
        assert len(sts.calls) == 2
        await s.close()

    run(main())


def test_many_callers_at_once_make_one_fetch():
    async def main():
        clock, sts, s = make()
        sts.real_delay = 0.05
        results = await asyncio.gather(*(s.get("p") for _ in range(50)))
        assert len(sts.calls) == 1
        assert len({c.access_key_id for c in results}) == 1
        await s.close()

    run(main())


def test_a_valid_session_is_served_while_its_renewal_is_slow(monkeypatch):
    monkeypatch.setattr(sched, "RENEW_GRACE", 0.05)

    async def main():
        clock, sts, s = make()
        held = await s.get("p")
        sts.gate = threading.Event()  # the renewal hangs
        await clock.advance(HOUR - 700)  # 700 s left: under the 960 s floor, still valid
        assert len(sts.calls) == 2
        t0 = time.monotonic()
        served = await s.get("p")
        assert served.access_key_id == held.access_key_id
        assert time.monotonic() - t0 < 1.0
        sts.gate.set()
        await settle()
        assert (await s.get("p")).access_key_id != held.access_key_id
        await s.close()

    run(main())


def test_with_nothing_held_a_caller_waits_at_most_its_time():
    async def main():
        clock, sts, s = make()
        sts.gate = threading.Event()
        t0 = time.monotonic()
        with pytest.raises(CredhelperError) as err:
            await s.get("p", timeout=0.2)
        assert time.monotonic() - t0 < 1.0
        assert "has not finished after" in err.value.message
        sts.gate.set()
        await settle()
        await s.close()

    run(main())


def test_mfa_needed_is_known_from_the_fetchs_exception_not_from_its_wording():
    async def main():
        clock, sts, s = make()
        await s.get("p")
        sts.fail_from = 2
        # worded unlike the daemon's own message: only the type says an MFA code is needed
        sts.error = lambda: PromptNeeded("a code for the device", "run 'credhelper login p'")
        await clock.advance(HOUR - 1500 + 1)  # the renewal is due, and stops at the code
        row = s.status()[0]
        assert row["mfa_needed"] is True and row["failures"] >= 1
        # another failure, worded like the daemon's message: not an MFA code this time
        sts.error = lambda: CredhelperError("MFA needed: but this is a network error")
        await clock.advance(BACKOFF_CAP + 1)  # one retry at least
        row = s.status()[0]
        assert row["mfa_needed"] is False and row["last_error"].startswith("MFA needed")
        sts.error = lambda: PromptNeeded("a code for the device")
        await clock.advance(BACKOFF_CAP + 1)  # one retry at least
        assert s.status()[0]["mfa_needed"] is True
        # after `credhelper login` the next fetch succeeds: no longer needed
        sts.fail_from = None
        await clock.advance(BACKOFF_CAP + 1)  # one retry at least
        row = s.status()[0]
        assert (row["mfa_needed"], row["last_error"], row["failures"]) == (False, None, 0)
        await s.close()

    run(main())
