"""The sdist carries what its tests need: unpacked, its test suite collects exactly what the
repository's does, without an error, and its unit tier passes (run with this venv's Python,
the unpacked tree first on PYTHONPATH)."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from packaging_support import REPO, Dists, child_env


def collect(root: Path, **env: str) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q"],
        cwd=root,
        capture_output=True,
        text=True,
        env=child_env(**env),
        timeout=300,
    )
    tail = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    found = re.fullmatch(r"(\d+) tests? collected in [\d.]+s", tail)
    assert found, tail  # "N tests collected, M errors" fails here
    return int(found.group(1)), tail


@pytest.fixture(scope="module")
def unpacked(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("sdist")
    with tarfile.open(dists.sdist) as tar:
        tar.extractall(where)  # our own archive, just built
    (root,) = where.iterdir()
    return root


def test_sdist_holds_the_test_tree(unpacked: Path) -> None:
    for path in (
        "tests/unit/conftest.py",
        "tests/conftest.py",
        "tests/harness/moto_stack.py",
        "tests/js/package.json",
        "tests/js/list_buckets.mjs",
        "tests/packaging/conftest.py",
        "scripts/bootstrap",
        "scripts/test",
        "bench/hot_path.py",
        "docs/security.md",
        "service/credhelper.service",
        "packaging/cli_docs.py",
        "packaging/build",
    ):
        assert (unpacked / path).is_file(), path
    assert not (unpacked / "tests/js/node_modules").exists()
    assert not list(unpacked.rglob("__pycache__"))


def test_sdist_collects_the_same_tests_as_the_repository(unpacked: Path) -> None:
    imported = subprocess.run(
        [sys.executable, "-c", "import credhelper; print(credhelper.__file__)"],
        cwd=unpacked,
        capture_output=True,
        text=True,
        env=child_env(PYTHONPATH=str(unpacked)),
        timeout=60,
    )
    assert Path(imported.stdout.strip()).is_relative_to(unpacked), imported.stdout
    ours, _ = collect(REPO)
    theirs, _ = collect(unpacked, PYTHONPATH=str(unpacked))
    assert theirs == ours


def test_sdist_unit_tier_passes(unpacked: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "tests/unit"],
        cwd=unpacked,
        capture_output=True,
        text=True,
        env=child_env(PYTHONPATH=str(unpacked)),
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.search(r"\d+ passed", done.stdout), done.stdout[-500:]
