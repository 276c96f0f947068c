"""The Homebrew formula generated from a build (packaging/homebrew/generate.py DISTDIR): Ruby
accepts it, it pins every runtime dependency of pyproject.toml to an sdist with its sha256,
its version is the project's, and it installs the completions and the man page it makes with
the sdist's own packaging/cli_docs.py. The sdist is built once; dependency sdists are cached
for the session."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from packaging_support import Dists

ROOT = Path(__file__).resolve().parents[2]
GENERATE = ROOT / "packaging" / "homebrew" / "generate.py"
PYPROJECT = (ROOT / "pyproject.toml").read_text()


def _project_version() -> str:
    found = re.search(r'^version = "([^"]+)"$', PYPROJECT, re.M)
    assert found
    return found.group(1)


def _runtime_dependencies() -> list[str]:
    block = re.search(r"^dependencies = \[(.*?)^\]", PYPROJECT, re.M | re.S)
    assert block
    names = re.findall(r'"([A-Za-z0-9_.-]+)', block.group(1))
    return [re.sub(r"[-_.]+", "-", n).lower() for n in names]


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory, dists: Dists) -> Path:
    """A build's dist folder: the session's credhelper sdist (generate.py reads only that)."""
    out = tmp_path_factory.mktemp("homebrew")
    shutil.copy(dists.sdist, out)
    return out


@pytest.fixture(scope="session")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("homebrew-cache")


def generate(dist: Path, cache: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(GENERATE), str(dist), "--cache", str(cache), *args],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return (dist / "credhelper.rb").read_text()


def test_the_formula_pins_every_dependency_and_ruby_reads_it(dist: Path, cache: Path) -> None:
    text = generate(dist, cache, "--url-base", "https://example.invalid/releases")
    checked = subprocess.run(["ruby", "-c", str(dist / "credhelper.rb")],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
    assert "Syntax OK" in checked.stdout

    version = _project_version()
    assert re.search(rf'^  version "{re.escape(version)}"$', text, re.M)
    sdist = f"credhelper-{version}.tar.gz"
    assert f'  url "https://example.invalid/releases/{sdist}"\n' in text
    assert re.search(r'^  url .*\n  sha256 "[0-9a-f]{64}"$', text, re.M)

    resources = {name: url for name, url in re.findall(
        r'resource "([^"]+)" do\n\s+url "([^"]+)"\n\s+sha256 "[0-9a-f]{64}"\n', text)}
    for name in _runtime_dependencies():
        assert name in resources, f"no resource for {name}"
        assert resources[name].endswith(".tar.gz")
    assert text.count("resource ") == len(resources)  # every block has a url and a 64-hex sha

    assert "include Language::Python::Virtualenv" in text
    assert 'depends_on "python@3.12"' in text
    assert "def install\n    virtualenv_install_with_resources\n" in text
    assert 'run [opt_bin/"credhelper", "daemon"]' in text and "keep_alive true" in text
    assert 'system bin/"credhelper", "--version"' in text


def test_completions_and_man_page_made_at_install_time(dist: Path, cache: Path,
                                                      tmp_path: Path) -> None:
    """The formula runs the sdist's packaging/cli_docs.py with the Python it installed
    credhelper into; that step, done here the same way, gives the files it installs."""
    text = (dist / "credhelper.rb").read_text() if (dist / "credhelper.rb").exists() else (
        generate(dist, cache))
    made = 'system libexec/"bin/python", "packaging/cli_docs.py", buildpath/"cli-docs"'
    assert made in text
    files = ("completions/credhelper.bash", "completions/_credhelper",
             "completions/credhelper.fish", "man/credhelper.1")
    for name in files:
        assert f'buildpath/"cli-docs/{name}"' in text
    (sdist,) = dist.glob("credhelper-*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path)
    (unpacked,) = tmp_path.glob("credhelper-*")
    out = tmp_path / "cli-docs"
    subprocess.run([sys.executable, str(unpacked / "packaging" / "cli_docs.py"), str(out)],
                   check=True, capture_output=True, timeout=120, cwd=unpacked)
    assert all((out / name).stat().st_size > 1000 for name in files)
