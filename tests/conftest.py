"""Shared by every tier: the moto world's fixtures (defined in tests/harness/fixtures.py).

Defined once, here, so that a pytest-xdist worker has one Secret Service, one moto server and
one proxy whichever folder its tests come from (tests/e2e, tests/packaging). Imported by two
folders' conftest files instead, each was a fixture of its own: a worker that ran tests of
both started a second Secret Service and pointed its environment at it, and when that one
died, the survival check (which watched the first) could not see it, and every later test of
the worker failed far from the cause. The worker Secret Service starts only under xdist.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `harness` lives in this folder; make it importable whatever pytest's import mode.
_TESTS = str(Path(__file__).resolve().parent)
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
