"""``credhelper service``: the shipped definitions load in their service managers, and
install/uninstall/status put them where those managers look.

No real systemctl, launchctl or schtasks ever runs: PATH holds only the fakes a test writes.
"""

from __future__ import annotations

import os
import plistlib
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from credhelper import service
from credhelper.errors import CredhelperError

ROOT = Path(__file__).resolve().parents[2]
REAL_PATH = os.environ.get("PATH", os.defpath)
SYSTEMD_ANALYZE = shutil.which("systemd-analyze", path=REAL_PATH)
CREDHELPER = [str(Path(sys.executable).parent / "credhelper")]
TASK_NS = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HOME, and a PATH without any real service manager."""
    home = tmp_path / "home"
    home.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "xdg-config"))
    monkeypatch.setenv("PATH", str(bin_dir))
    # `install` runs the real `credhelper daemon stop`: it must not reach the user's daemon.
    monkeypatch.setenv("CREDHELPER_RUNTIME_DIR", str(tmp_path / "runtime"))
    for name in ("LOCALAPPDATA", "APPDATA", "USERDOMAIN", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    return home


def fake_tool(name: str, script: str = "") -> Path:
    """Put a ``name`` on PATH that logs ``name args`` to a shared log, then runs ``script``."""
    bin_dir = Path(os.environ["PATH"])
    log = bin_dir / "calls.log"
    tool = bin_dir / name
    tool.write_text(f"#!/bin/sh\necho {name} \"$*\" >> '{log}'\n{script}\nexit 0\n")
    tool.chmod(0o755)
    return tool


def calls(tool: str = "") -> list[str]:
    """The fakes' calls in order (only ``tool``'s, without its name, when given)."""
    log = Path(os.environ["PATH"]) / "calls.log"
    lines = log.read_text().splitlines() if log.exists() else []
    if not tool:
        return lines
    return [line[len(tool) + 1 :] for line in lines if line.startswith(f"{tool} ")]


def systemd_verify(unit_dir: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``systemd-analyze --user verify`` on both units, as the user manager would load them."""
    if SYSTEMD_ANALYZE is None:
        pytest.skip("systemd-analyze is not installed, so the units cannot be verified here")
    runtime = tmp_path / "runtime"
    runtime.mkdir(exist_ok=True)
    env = {**os.environ, "PATH": REAL_PATH, "XDG_RUNTIME_DIR": str(runtime)}
    units = [str(unit_dir / name) for name in service.SYSTEMD_UNITS]
    return subprocess.run(
        [SYSTEMD_ANALYZE, "--user", "--man=no", "verify", *units],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_verified(result: subprocess.CompletedProcess[str]) -> None:
    # Unknown keys are only warnings (exit 0): any line about our units is a failure.
    ours = [line for line in result.stderr.splitlines() if "credhelper" in line]
    assert result.returncode == 0 and not ours, result.stderr


def write_units(unit_dir: Path, command: list[str]) -> None:
    unit_dir.mkdir(parents=True, exist_ok=True)
    for name in service.SYSTEMD_UNITS:
        (unit_dir / name).write_text(service.render(name, command))


# --- the definitions themselves ---------------------------------------------------------------


def test_systemd_units_pass_systemd_analyze_verify(tmp_path):
    unit_dir = tmp_path / "units"
    write_units(unit_dir, CREDHELPER)
    assert_verified(systemd_verify(unit_dir, tmp_path))
    unit = (unit_dir / "credhelper.service").read_text()
    assert f"ExecStart={CREDHELPER[0]} daemon\n" in unit
    socket = (unit_dir / "credhelper.socket").read_text()
    assert "ListenStream=%t/credhelper/daemon.sock\n" in socket
    assert "SocketMode=0600\n" in socket and "WantedBy=sockets.target\n" in socket


def test_exec_start_finds_credhelper_under_a_path_with_spaces_percent_and_dollar(tmp_path):
    # systemd would read "%" as a specifier and split on the space: verify fails on
    # "Command ... is not executable" unless the path is quoted for systemd.
    odd = tmp_path / "My Tools %h $HOME"
    odd.mkdir()
    (odd / "credhelper").symlink_to(CREDHELPER[0])
    unit_dir = tmp_path / "units"
    write_units(unit_dir, [str(odd / "credhelper")])
    assert_verified(systemd_verify(unit_dir, tmp_path))


def test_systemd_unit_runs_python_dash_m_when_there_is_no_console_script(tmp_path):
    unit_dir = tmp_path / "units"
    write_units(unit_dir, [sys.executable, "-m", "credhelper"])
    assert_verified(systemd_verify(unit_dir, tmp_path))
    assert (
        f"ExecStart={sys.executable} -m credhelper daemon\n"
        in (unit_dir / "credhelper.service").read_text()
    )


def test_launchd_plist_runs_the_real_credhelper_and_logs_under_library(home):
    plist = plistlib.loads(service.render(service.LAUNCHD_PLIST, CREDHELPER, home=home).encode())
    assert plist["Label"] == "com.credhelper.daemon"
    assert plist["ProgramArguments"] == [*CREDHELPER, "daemon"]
    assert os.path.isabs(plist["ProgramArguments"][0])
    assert Path(plist["ProgramArguments"][0]).is_file()
    assert plist["RunAtLoad"] is True and plist["KeepAlive"]
    assert plist["StandardErrorPath"] == str(home / "Library/Logs/credhelper/daemon.log")


def test_launchd_plist_keeps_xml_special_characters_in_paths(home):
    odd = "/Users/R&D <team>/bin/credhelper"
    plist = plistlib.loads(service.render(service.LAUNCHD_PLIST, [odd], home=home).encode())
    assert plist["ProgramArguments"] == [odd, "daemon"]


def test_windows_task_starts_credhelper_daemon_at_the_users_logon():
    python = r"C:\Program Files\Python 3.12\python.exe"
    text = service.render(
        service.WINDOWS_TASK_XML, [python, "-m", "credhelper"], user="CORP\\alice"
    )
    task = ET.fromstring(text)
    assert task.findtext("t:Actions/t:Exec/t:Command", namespaces=TASK_NS) == python
    assert task.findtext("t:Actions/t:Exec/t:Arguments", namespaces=TASK_NS) == (
        "-m credhelper daemon"
    )
    trigger = task.find("t:Triggers/t:LogonTrigger", TASK_NS)
    assert trigger is not None
    assert trigger.findtext("t:UserId", namespaces=TASK_NS) == "CORP\\alice"
    principal = "t:Principals/t:Principal/t:RunLevel"
    assert task.findtext(principal, namespaces=TASK_NS) == "LeastPrivilege"


def test_every_template_ships_and_renders_completely(home):
    for name in service.TEMPLATES:
        text = service.render(name, CREDHELPER, home=home, user="alice")
        assert not re.search(r"@[A-Z_]+@", text), name
    assert "credhelper service install" in (ROOT / "service" / "README.md").read_text()


def test_pyproject_ships_every_credhelper_package():
    # Packages are listed (service/ is mapped in), so a new subpackage must be listed too.
    tomllib = pytest.importorskip("tomllib", reason="no TOML parser before Python 3.11")
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "credhelper").rglob("__init__.py")
    }
    missing = on_disk - set(setuptools["packages"])
    assert not missing, f"add {sorted(missing)} to [tool.setuptools] packages in pyproject.toml"
    assert setuptools["package-dir"]["credhelper.service_files"] == "service"


# --- Linux: systemd user units ----------------------------------------------------------------


def test_install_without_systemctl_writes_units_and_says_what_to_run(home, capsys):
    assert service.run("install", home=home) == 0
    unit_dir = home / "xdg-config/systemd/user"
    unit = (unit_dir / "credhelper.service").read_text()
    assert f"ExecStart={CREDHELPER[0]} daemon\n" in unit
    assert (unit_dir / "credhelper.socket").is_file()
    assert (unit_dir / "credhelper.service").stat().st_mode & 0o777 == 0o644
    out = capsys.readouterr().out
    assert "systemctl --user enable --now credhelper.socket" in out


def test_install_uses_dot_config_without_xdg_config_home(home, monkeypatch):
    monkeypatch.delenv("XDG_CONFIG_HOME")
    service.run("install", home=home)
    assert (home / ".config/systemd/user/credhelper.socket").is_file()


def test_install_enables_the_socket_through_systemctl(home, capsys):
    fake_tool("systemctl")
    assert service.run("install", home=home) == 0
    assert calls("systemctl")[:2] == [
        "--user daemon-reload",
        "--user enable --now credhelper.socket",
    ]
    assert "Enabled credhelper.socket" in capsys.readouterr().out


def test_install_stops_a_daemon_started_on_demand_before_enabling_the_socket(home, monkeypatch):
    # That daemon holds the single-instance lock: the socket-activated one would fail on it.
    fake_tool("systemctl")
    monkeypatch.setattr(service, "default_command", lambda: [str(fake_tool("credhelper"))])
    service.run("install", home=home)
    assert calls() == [
        "systemctl --user daemon-reload",
        "credhelper daemon stop",
        "systemctl --user enable --now credhelper.socket",
        "systemctl --user try-restart credhelper.service",
    ]


def test_install_without_a_user_manager_still_writes_the_units(home, capsys):
    fake_tool("systemctl", "echo 'Failed to connect to bus: No medium found' >&2; exit 1")
    assert service.run("install", home=home) == 0
    assert calls() == ["systemctl --user daemon-reload"]
    assert (home / "xdg-config/systemd/user/credhelper.service").is_file()
    assert "systemctl --user enable --now credhelper.socket" in capsys.readouterr().out


def test_install_reports_why_systemctl_refused(home):
    fake_tool(
        "systemctl",
        'case "$*" in *enable*) echo "Failed to enable unit: Access denied" >&2; exit 1;; esac',
    )
    with pytest.raises(CredhelperError) as err:
        service.run("install", home=home)
    assert "Access denied" in err.value.line()


def test_install_into_an_unwritable_config_dir_is_a_credhelper_error(home, monkeypatch):
    blocker = home / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(blocker))
    with pytest.raises(CredhelperError) as err:
        service.run("install", home=home)
    assert str(blocker) in err.value.line()


def test_uninstall_disables_and_removes_the_units(home, capsys):
    service.run("install", home=home)
    fake_tool("systemctl")
    assert service.run("uninstall", home=home) == 0
    assert not list((home / "xdg-config/systemd/user").iterdir())
    assert "--user disable --now credhelper.service credhelper.socket" in calls("systemctl")
    capsys.readouterr()
    assert service.run("uninstall", home=home) == 0
    assert "not installed" in capsys.readouterr().out


def test_status_reports_missing_then_installed_units(home, capsys):
    unit_dir = home / "xdg-config/systemd/user"
    assert service.run("status", home=home) == 3
    assert f"missing    {unit_dir / 'credhelper.socket'}" in capsys.readouterr().out
    service.run("install", home=home)
    capsys.readouterr()
    assert service.run("status", home=home) == 0
    out = capsys.readouterr().out
    assert f"installed  {unit_dir / 'credhelper.service'}" in out
    assert f"installed  {unit_dir / 'credhelper.socket'}" in out
    assert "cannot tell whether it runs" in out


def test_status_shows_what_systemd_reports(home, capsys):
    service.run("install", home=home)
    # systemctl answers in argument order: credhelper.service, then credhelper.socket.
    fake_tool("systemctl", 'case "$*" in *is-active*) printf "inactive\\nactive\\n";; esac')
    assert service.run("status", home=home) == 0
    out = capsys.readouterr().out
    assert "credhelper.socket: active" in out and "credhelper.service: inactive" in out
    fake_tool("systemctl", 'case "$*" in *is-active*) printf "inactive\\nfailed\\n";; esac')
    assert service.run("status", home=home) == 3
    assert "credhelper.socket: failed" in capsys.readouterr().out


def test_unknown_action_is_a_usage_error(home):
    with pytest.raises(CredhelperError) as err:
        service.run("restart", home=home)
    assert err.value.exit_code == 2


# --- macOS: launchd LaunchAgent ---------------------------------------------------------------


@pytest.fixture
def macos(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")


@pytest.mark.usefixtures("macos")
def test_macos_install_writes_the_agent_and_says_how_to_load_it(home, capsys):
    assert service.run("install", home=home) == 0
    path = home / "Library/LaunchAgents/com.credhelper.daemon.plist"
    plist = plistlib.loads(path.read_bytes())
    assert plist["ProgramArguments"] == [*CREDHELPER, "daemon"]
    assert (home / "Library/Logs/credhelper").is_dir()
    out = capsys.readouterr().out
    assert f"launchctl bootstrap gui/{os.getuid()} {path}" in out


@pytest.mark.usefixtures("macos")
def test_macos_install_loads_the_agent_and_uninstall_unloads_it(home):
    fake_tool("launchctl")
    path = home / "Library/LaunchAgents/com.credhelper.daemon.plist"
    target = f"gui/{os.getuid()}"
    assert service.run("install", home=home) == 0
    assert calls("launchctl") == [
        f"bootout {target}/com.credhelper.daemon",
        f"bootstrap {target} {path}",
    ]
    assert service.run("uninstall", home=home) == 0
    assert calls("launchctl")[-1] == f"bootout {target}/com.credhelper.daemon"
    assert not path.exists()


@pytest.mark.usefixtures("macos")
def test_macos_status_reports_a_running_agent(home, capsys):
    assert service.run("status", home=home) == 3
    service.run("install", home=home)
    fake_tool("launchctl", 'echo "com.credhelper.daemon = {"; echo "	state = running"')
    capsys.readouterr()
    assert service.run("status", home=home) == 0
    assert "loaded, running" in capsys.readouterr().out


# --- Windows: Task Scheduler ------------------------------------------------------------------


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("USERDOMAIN", "CORP")
    monkeypatch.setenv("USERNAME", "alice")


@pytest.mark.usefixtures("windows")
def test_windows_install_registers_a_logon_task_and_uninstall_deletes_it(home, capsys):
    fake_tool("schtasks")
    assert service.run("install", home=home) == 0
    path = home / "AppData/Local/credhelper/credhelper-task.xml"
    assert path.read_bytes()[:2] == b"\xff\xfe"  # UTF-16, as its declaration says
    task = ET.parse(path).getroot()
    assert task.findtext("t:Actions/t:Exec/t:Command", namespaces=TASK_NS) == CREDHELPER[0]
    user = task.findtext("t:Triggers/t:LogonTrigger/t:UserId", namespaces=TASK_NS)
    assert user == "CORP\\alice"
    assert calls("schtasks") == [f"/Create /XML {path} /TN credhelper /F", "/Run /TN credhelper"]
    assert service.run("uninstall", home=home) == 0
    assert "/Delete /TN credhelper /F" in calls("schtasks")
    assert not path.exists()


@pytest.mark.usefixtures("windows")
def test_windows_install_without_schtasks_says_what_to_run(home, capsys):
    assert service.run("install", home=home) == 0
    assert "schtasks /Create /XML" in capsys.readouterr().out
    assert service.run("status", home=home) == 0
    assert "installed  " in capsys.readouterr().out


def test_unsupported_platform_is_a_credhelper_error(home, monkeypatch):
    monkeypatch.setattr(sys, "platform", "freebsd14")
    with pytest.raises(CredhelperError) as err:
        service.run("install", home=home)
    assert "credhelper daemon" in err.value.line()
