"""What the packaging tests check, built once per session: the sdist and the wheel (as
packaging/build makes them: ``python -m build``) and the completions and man page
(packaging/cli_docs.py). The moto world the artifacts run in is tests/conftest.py's, the same
as tests/e2e's."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from filelock import FileLock
from packaging_support import REPO, Dists, child_env


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    out = tmp_path_factory.mktemp("dist")
    # One build at a time in the source tree (xdist workers each build their own): the sdist
    # step writes credhelper.egg-info there.
    with FileLock(os.path.join(tempfile.gettempdir(), "credhelper-packaging-tests.lock")):
        done = subprocess.run(
            [sys.executable, "-m", "build", "--outdir", str(out), str(REPO)],
            capture_output=True,
            text=True,
            env=child_env(),
            timeout=300,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    (sdist,) = out.glob("credhelper-*.tar.gz")
    (wheel,) = out.glob("credhelper-*.whl")
    return Dists(sdist, wheel)


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder packaging/cli_docs.py wrote (completions/, man/)."""
    out = tmp_path_factory.mktemp("cli_docs")
    subprocess.run(
        [sys.executable, str(REPO / "packaging" / "cli_docs.py"), str(out)],
        check=True,
        capture_output=True,
        env=child_env(SOURCE_DATE_EPOCH="0"),
        timeout=120,
    )
    return out
