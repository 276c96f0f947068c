"""Editing the AWS config: add a profile whose credential_process runs credhelper (``wire``).

The AWS config is edited as text, not through configparser, so every other byte of the file
(comments, ordering, spacing) stays as the user wrote it.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from credhelper import atomic
from credhelper.errors import CredhelperError

_HEADER = re.compile(r"^\s*\[\s*([^\]]*?)\s*\]\s*(?:[#;].*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*=\s*(.*?)\s*$")


def executable() -> list[str]:
    """An absolute command for credhelper: botocore does not expand ``~`` or search PATH
    the way a shell would, and the JS SDK runs it with a minimal environment."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "credhelper" and argv0.is_file():
        return [str(argv0.absolute())]
    sibling = Path(sys.executable).parent / "credhelper"
    if sibling.is_file():
        return [str(sibling)]
    return [sys.executable, "-m", "credhelper"]


def process_command(profile: str) -> list[str]:
    """What ``wire`` writes as credential_process: the launcher (:mod:`credhelper.launcher`),
    ``/abs/python -I -S /abs/.../credhelper/launcher.py PROFILE``.

    The python is this environment's own (``sys.executable``, a venv's ``bin/python`` as it
    is, not resolved: resolving would leave the venv). The launcher's path is inside the
    installed package: ``pip install -U`` replaces the package's files in the same folder, so
    the path stays valid across upgrades; it changes only when the environment's Python minor
    version does (``lib/python3.X``), and then ``credhelper wire`` again rewrites it. For an
    editable install it is the source tree's file. Without a usable interpreter path, or where
    there is no daemon to ask (Windows), the full command line, as before.
    """
    python = sys.executable
    launcher = Path(__file__).resolve().with_name("launcher.py")
    if os.name == "posix" and python and Path(python).is_absolute() and launcher.is_file():
        return [python, "-I", "-S", str(launcher), profile]
    return [*executable(), "process", profile]


def section_name(profile: str) -> str:
    return "default" if profile == "default" else f"profile {profile}"


@dataclass
class Section:
    start: int  # index of the header line
    end: int  # index one past the last line of the section
    keys: dict[str, tuple[int, str]]  # key -> (line index, value)


def find_section(lines: list[str], profile: str) -> Section | None:
    wanted = section_name(profile)
    found: Section | None = None
    for i, line in enumerate(lines):
        header = _HEADER.match(line)
        if header:
            if found is not None:
                found.end = i
                return found
            if " ".join(header.group(1).split()) == wanted:
                found = Section(start=i, end=len(lines), keys={})
            continue
        if found is not None:
            key = _KEY.match(line)
            if key and not line[:1].isspace():
                found.keys[key.group(1)] = (i, key.group(2))
    return found


def is_ours(command: str) -> bool:
    """Does a credential_process value run credhelper's ``process`` (or its launcher)?"""
    try:
        argv = shlex.split(command)
    except ValueError:
        return False
    if any(Path(a).name == "launcher.py" and Path(a).parent.name == "credhelper" for a in argv):
        return True
    runs_us = any(Path(a).name == "credhelper" for a in argv[:1]) or argv[1:3] == [
        "-m",
        "credhelper",
    ]
    return runs_us and "process" in argv


def wire(path: Path, profile: str, as_name: str, region: str | None) -> str:
    """Add or update ``as_name`` in the config file ``path``; returns 'added' or 'updated'."""
    if as_name == profile:
        raise CredhelperError(
            f"cannot wire '{profile}' onto itself: its role_arn would take precedence",
            "choose another name with --as, e.g. --as " + f"{profile}-credhelper",
            profile=profile,
        )
    command = shlex.join(process_command(profile))
    raw = path.read_bytes() if path.exists() else b""
    newline = "\r\n" if b"\r\n" in raw else "\n"
    text = raw.decode("utf-8")
    lines = text.splitlines(keepends=True)
    section = find_section(lines, as_name)
    if section is None:
        if text and not text.endswith(("\n", "\r")):
            text += newline
        block = [
            f"[{section_name(as_name)}]",
            f"# added by credhelper wire: credentials of role profile {profile}",
            f"credential_process = {command}",
        ]
        if region:
            block.append(f"region = {region}")
        text += (newline if text.strip() else "") + newline.join(block) + newline
        action = "added"
    else:
        current = section.keys.get("credential_process")
        if current is None or not is_ours(current[1]) or "role_arn" in section.keys:
            raise CredhelperError(
                f"profile '{as_name}' already exists in {path} and is not a credhelper profile",
                "choose another name with --as, or remove that profile first",
                profile=profile,
            )
        index = current[0]
        old = lines[index]
        ending = old[len(old.rstrip("\r\n")) :]
        lines[index] = f"credential_process = {command}{ending or newline}"
        text = "".join(lines)
        action = "updated"
    atomic.write(path, text.encode("utf-8"))
    return action

