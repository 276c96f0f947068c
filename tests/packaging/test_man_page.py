"""The generated man page renders without a warning and documents every command and every
CREDHELPER_* setting settings.py reads."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from packaging_support import commands

import credhelper.settings


def settings_variables() -> set[str]:
    """Read from the module's text, not as cli_docs.py reads it: a variable its reading
    misses is still found here."""
    source = Path(credhelper.settings.__file__).read_text()
    return set(re.findall(r'"(CREDHELPER_[A-Z_]+)"', source))


def test_man_page_renders_without_warnings(generated: Path) -> None:
    groff = shutil.which("groff")
    assert groff, "groff is not installed: run scripts/bootstrap"
    page = generated / "man" / "credhelper.1"
    done = subprocess.run(
        [groff, "-ww", "-z", "-man", str(page)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and not done.stderr, done.stderr
    done = subprocess.run(
        [groff, "-man", "-Tutf8", str(page)], capture_output=True, text=True, timeout=60
    )
    text = re.sub(".\b", "", done.stdout)  # no overstrike (bold, underline)
    assert done.returncode == 0 and "credhelper process" in text, done.stderr


def test_man_page_documents_every_command_and_setting(generated: Path) -> None:
    page = (generated / "man" / "credhelper.1").read_text()
    sections = re.findall(r"^\.SH (.+)$", page, re.M)
    assert sections[:4] == ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS"]
    for name in ("COMMANDS", "ENVIRONMENT", "FILES", "SEE ALSO"):
        assert name in sections
    assert re.findall(r"^\.SS (.+)$", page, re.M) == commands()
    variables = settings_variables()
    assert len(variables) >= 10
    for name in variables:
        assert f"\\fB{name}\\fR" in page, name
    assert "\\fBCREDHELPER_MIN_TTL\\fR\nRenew" in page
    assert "Default: 960." in page
