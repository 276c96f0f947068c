"""What ``credhelper status`` counts and shows, from rows as the daemon sends them."""

from __future__ import annotations

from credhelper.commands import status


def row(profile: str, **fields) -> dict:
    return {
        "profile": profile,
        "seconds_left": 3000,
        "last_error": None,
        "mfa_needed": False,
        **fields,
    }


ROWS = [
    row("prod-a"),
    row("prod-b", last_error="AssumeRole failed", seconds_left=500),
    row("dev-a", mfa_needed=True, last_error="MFA needed: a code"),
    row("dev-b", seconds_left=None),  # nothing held (a first fetch failed)
    row("dev-c", seconds_left=-5),
    row("odd", seconds_left=True),  # a bool is not a number of seconds
]


def test_each_problem_is_counted_and_a_profile_may_have_several():
    summary = status.summarize(ROWS, held=10, soon=960)
    assert summary == {
        "held": 10,
        "shown": 6,
        "ok": 1,
        "errors": 2,
        "mfa_needed": 1,
        "expiring_soon": 1,
        "expired": 3,
        "expiring_within": 960,
    }
    line = status.summary_line(summary, [], False)
    assert line == (
        "10 profiles: 1 ok, 2 with errors, 1 MFA needed, 1 expiring within 16m00s, "
        "3 expired or empty"
    )


def test_patterns_are_shell_globs_matched_case_sensitively_and_unmatched_ones_named():
    rows, unmatched = status.select(ROWS, ["prod-*", "DEV-*", "odd"], False, 960)
    assert [r["profile"] for r in rows] == ["prod-a", "prod-b", "odd"]
    assert unmatched == ["DEV-*"]
    rows, _ = status.select(ROWS, ["prod-?"], True, 960)
    assert [r["profile"] for r in rows] == ["prod-b"]


def test_the_summary_line_says_what_was_selected():
    summary = status.summarize([ROWS[0]], held=5000, soon=960)
    assert status.summary_line(summary, ["prod-a"], True) == (
        "1 of 5000 profiles matching 'prod-a', with a problem: 1 ok"
    )
    assert status.summary_line(status.summarize([], 1, 960), [], False) == "1 profile: 0 ok"


def test_an_empty_daemon_says_so():
    text = status.table({"daemon": {"pid": 1}, "profiles": []}, [], "0 profiles: 0 ok")
    assert text.splitlines()[1:] == ["0 profiles: 0 ok", "no profiles served yet"]
