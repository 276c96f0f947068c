"""Shared fixtures: one moto server per session, a clean proxy and AWS world per test
(defined in tests/harness/fixtures.py, shared with tests/packaging).

A session is one pytest process: under pytest-xdist (scripts/test runs two workers) each
worker has a moto server and proxy of its own (free ports), a Secret Service of its own, and
its own temporary folders; no test shares anything with a test on the other worker.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `harness` lives beside this folder; make it importable whatever pytest's import mode.
_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from harness.fixtures import (  # noqa: E402, F401
    aws_env,
    daemon,
    moto_stack,
    proxy,
    secret_service_survives,
    seed_env,
    worker_secret_service,
)
