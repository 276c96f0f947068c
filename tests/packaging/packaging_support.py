"""What the packaging tests share (conftest.py builds; the tests import from here)."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Dists:
    sdist: Path
    wheel: Path


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a pytest or build run inside this one: none of this session's
    pytest or xdist variables, nor its PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "PYTHONPATH"}
    env.update(extra)
    return env


def commands() -> list[str]:
    """The subcommands, in the parser's order."""
    from credhelper.cli import _parser

    parser = _parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return list(sub.choices)
