"""One duration format, one time format, tables within 100 columns."""

from __future__ import annotations

import os
import time

import pytest

from credhelper import present


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0m00s"), (59, "0m59s"), (3578, "59m38s"), (3600, "1h00m"), (3720, "1h02m"),
     (-61, "-1m01s"), (None, "-"), ("x", "-")],
)  # fmt: skip
def test_duration(seconds, text):
    assert present.duration(seconds) == text


@pytest.fixture
def tokyo():
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def test_local_time_names_the_zone(tokyo):
    assert present.local_time("2026-11-28T14:03:51Z") == "Nov 28 23:03 JST"
    assert present.local_time("2026-11-28T20:00:00+00:00") == "Nov 29 05:00 JST"
    assert present.local_time(None) == "-" and present.local_time("") == "-"
    assert present.local_time("not a time") == "not a time"


def test_role_name():
    assert present.role_name("arn:aws:iam::123456789012:role/admin") == "admin"
    assert present.role_name("arn:aws:iam::123456789012:role/team/ops/admin") == "admin"
    assert present.role_name(None) == "-"


def test_table_shortens_the_last_column_at_a_word():
    rows = [("NAME", "NOTE"), ("a", "one two three four five six seven eight nine ten")]
    lines = present.table(rows, width=30)
    assert lines[1] == "a     one two three four..."
    assert all(len(line) <= 30 for line in lines)
    assert present.table(rows)[1].endswith("nine ten")  # no width: whole
    # too little room left for the last column: whole rather than unreadable
    assert present.table(rows, width=16)[1].endswith("nine ten")


def test_login_says_until_when_in_local_time(tokyo):
    from datetime import datetime, timedelta, timezone

    from credhelper.commands import login
    from credhelper.credentials import Credentials

    end = datetime(2026, 11, 28, 14, 3, 51, tzinfo=timezone.utc)
    creds = Credentials("ASIAEXAMPLEEXAMPLE12", "s" * 40, "t", end, end - timedelta(hours=1))
    assert login._until(creds).startswith("Nov 28 23:03 JST (")
    assert "Z" not in login._until(creds)
    long_term = Credentials("AKIAEXAMPLEEXAMPLE12", "s" * 40)
    assert login._until(long_term) == "never"
