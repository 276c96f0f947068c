"""credhelper.packaged: how credhelper runs itself again, as a single file or a package."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

from credhelper import config_edit, packaged


def test_an_installed_package_is_not_a_single_file(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    script = tmp_path / "credhelper"
    script.write_text("#!/usr/bin/python3\n")
    monkeypatch.setattr(sys, "argv", [str(script), "wire"])
    assert packaged.single_file() is None


def test_a_zipapp_runs_itself_with_the_same_python(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    pyz = tmp_path / "credhelper.pyz"
    with zipfile.ZipFile(pyz, "w") as zf:
        zf.writestr("__main__.py", "")
    monkeypatch.setattr(sys, "argv", [str(pyz), "wire"])
    expected = [sys.executable, "-I", "-S", str(pyz)]
    assert packaged.single_file() == expected
    assert config_edit.process_command("p") == [*expected, "process", "p"]
    assert config_edit.executable() == expected


def test_a_frozen_executable_is_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert packaged.single_file() == [sys.executable]
