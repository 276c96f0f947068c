"""Which runtime folders are trusted, on real folders (made here) but without other users:
tests/e2e/test_trust.py plays the same with a second uid, end to end."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from credhelper import rundir


@pytest.fixture
def base(tmp_path: Path) -> Path:
    os.chmod(tmp_path, 0o700)
    return tmp_path


def test_ensure_creates_private_folders_and_check_accepts_them(base, monkeypatch):
    monkeypatch.setenv(rundir.OVERRIDE_VAR, str(base / "rt"))
    path = rundir.ensure(str(base / "rt"))
    assert oct(os.stat(path).st_mode & 0o777) == "0o700"
    rundir.check(path)


def test_an_open_folder_of_ours_is_tightened_by_ensure_and_refused_by_check(base, monkeypatch):
    monkeypatch.setenv(rundir.OVERRIDE_VAR, str(base / "rt"))
    (base / "rt").mkdir(mode=0o755)
    os.chmod(base / "rt", 0o755)
    with pytest.raises(rundir.Untrusted, match="open to other users"):
        rundir.check(str(base / "rt"))
    rundir.ensure(str(base / "rt"))
    assert oct(os.stat(base / "rt").st_mode & 0o777) == "0o700"


def test_a_symlinked_folder_is_refused_even_to_a_private_target(base, monkeypatch):
    (base / "real").mkdir(mode=0o700)
    (base / "rt").symlink_to(base / "real")
    monkeypatch.setenv(rundir.OVERRIDE_VAR, str(base / "rt"))
    with pytest.raises(rundir.Untrusted, match="is a symlink"):
        rundir.ensure(str(base / "rt"))


def test_a_group_writable_folder_above_is_refused_unless_sticky(base, monkeypatch):
    above = base / "above"
    above.mkdir()
    os.chmod(above, 0o775)
    monkeypatch.setenv(rundir.OVERRIDE_VAR, str(above / "rt"))
    with pytest.raises(rundir.Untrusted, match="writable by other users"):
        rundir.ensure(str(above / "rt"))
    os.chmod(above, 0o1777)  # like /tmp
    rundir.ensure(str(above / "rt"))


def test_a_missing_folder_is_no_daemon_not_distrust(base, monkeypatch):
    monkeypatch.setenv(rundir.OVERRIDE_VAR, str(base / "none"))
    with pytest.raises(FileNotFoundError):
        rundir.check(str(base / "none"))


def test_a_non_private_xdg_runtime_dir_is_not_used_and_says_so(base, monkeypatch):
    monkeypatch.delenv(rundir.OVERRIDE_VAR, raising=False)
    xdg = base / "xdg"
    xdg.mkdir()
    os.chmod(xdg, 0o755)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(xdg))
    monkeypatch.setenv("TMPDIR", str(base))
    folder, warning = rundir.choose()
    assert not folder.startswith(str(xdg))
    assert warning and "is not a private folder" in warning
    os.chmod(xdg, 0o700)
    assert rundir.choose() == (str(xdg / "credhelper"), None)


def test_the_socket_must_be_a_socket_of_ours(base):
    plain = base / "daemon.sock"
    plain.write_text("")
    with pytest.raises(rundir.Untrusted, match="not a socket"):
        rundir.check_socket(str(plain))
