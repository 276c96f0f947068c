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

#: The comment ``wire`` writes under the section header, then naming the settings it carried
#: (``..., and its region, output``): those lines are wire's, and a later ``wire`` rewrites them
#: from the role profile; every other line of the section is the user's. A comment without the
#: list (wire before it kept one) owns none.
_MARK = "# added by credhelper wire: credentials of role profile "
_MARK_LINE = re.compile("^" + re.escape(_MARK) + r"(\S+?)(?:, and its (.+))?$")


def executable() -> list[str]:
    """An absolute command for credhelper: botocore does not expand ``~`` or search PATH
    the way a shell would, and the JS SDK runs it with a minimal environment."""
    from credhelper.packaged import single_file

    packaged = single_file()
    if packaged:
        return packaged
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
    there is no daemon to ask (Windows), the full command line, as before. A single-file
    build (:mod:`credhelper.packaged`) writes the file itself: ``/abs/credhelper process``.
    """
    from credhelper.packaged import single_file

    packaged = single_file()
    if packaged:
        return [*packaged, "process", profile]
    python = sys.executable
    launcher = Path(__file__).resolve().with_name("launcher.py")
    if os.name == "posix" and python and Path(python).is_absolute() and launcher.is_file():
        return [python, "-I", "-S", str(launcher), profile]
    return [*executable(), "process", profile]


# botocore reads ``[profile NAME]`` with configparser, then splits the header with shlex:
# whitespace splits the name (the section is then silently ignored), quotes and backslashes
# are consumed, ``]`` ends the header early for credhelper's own reader, and ``#``/``;`` start
# a comment for many other INI readers. Such names are refused rather than written.
_BAD_NAME = re.compile(r"[\s\[\]#;'\"\\]|[\x00-\x1f\x7f]")

# Keys that make credentials: never carried to the wired profile, whose credentials are
# credential_process's. Everything else the role profile sets (output, cli_pager, ca_bundle,
# endpoint_url, nested service sections...) is what the AWS CLI would use with it, so it is
# carried over as text.
_CREDENTIAL_KEYS = frozenset(
    {
        "role_arn",
        "source_profile",
        "credential_source",
        "credential_process",
        "mfa_serial",
        "external_id",
        "role_session_name",
        "duration_seconds",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "aws_security_token",
        "web_identity_token_file",
        "sso_session",
        "sso_account_id",
        "sso_role_name",
        "sso_start_url",
        "sso_region",
        "sso_registration_scopes",
        "mfa_process",
    }
)


def check_name(name: str, *, profile: str, what: str) -> None:
    """Refuse a profile name botocore would not read back as written."""
    bad = sorted({c for c in name if _BAD_NAME.match(c)})
    if not name or bad:
        shown = " ".join("space" if c == " " else repr(c) for c in bad) or "an empty name"
        raise CredhelperError(
            f"{what} '{name}' has characters botocore cannot read in a profile name ({shown})",
            "use letters, digits and - _ . / + = : @ only",
            profile=profile,
            exit_code=2,
        )


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


def carried(lines: list[str], profile: str) -> list[str]:
    """The role profile's settings, as text (a nested ``s3 =`` with its indented sub-keys
    whole), without the keys that make credentials, comments or blank lines."""
    section = find_section(lines, profile)
    if section is None:
        return []
    kept: list[str] = []
    keep = False
    for line in lines[section.start + 1 : section.end]:
        bare = line.rstrip("\r\n")
        if not bare.strip() or bare.lstrip().startswith(("#", ";")):
            continue
        if bare[:1].isspace():
            if keep:
                kept.append(bare)
            continue
        key = _KEY.match(bare)
        keep = key is not None and key.group(1) not in _CREDENTIAL_KEYS
        if keep:
            kept.append(bare)
    return kept


def _last_key_line(lines: list[str], section: Section) -> int:
    """One past the section's last setting line: blank or comment lines after it belong to
    what follows."""
    end = section.start + 1
    for i in range(section.start + 1, section.end):
        bare = lines[i].strip()
        if bare and not bare.startswith(("#", ";")):
            end = i + 1
    return end


def _top_keys(lines: list[str]) -> list[str]:
    """The keys that start a setting (not an indented sub-line), in order, once each."""
    keys = [m.group(1) for line in lines if not line[:1].isspace() and (m := _KEY.match(line))]
    return list(dict.fromkeys(keys))


def _without(settings: list[str], keys: set[str]) -> list[str]:
    """``settings`` less the ones named in ``keys`` (each with its indented sub-lines)."""
    kept: list[str] = []
    keep = True
    for line in settings:
        if not line[:1].isspace():
            key = _KEY.match(line)
            keep = key is None or key.group(1) not in keys
        if keep:
            kept.append(line)
    return kept


def _block(settings: list[str], region: str | None, theirs: set[str]) -> list[str]:
    """What wire writes after credential_process: ``region`` unless the settings carry one,
    then the settings; less the keys the user set in the wired profile (``theirs``: the
    user's win, and a key twice in a section is an error for botocore's parser)."""
    settings = _without(settings, theirs)
    block: list[str] = []
    if region and "region" not in theirs and "region" not in _top_keys(settings):
        block.append(f"region = {region}")
    return block + settings


def _mark(profile: str, block: list[str]) -> str:
    keys = _top_keys(block)
    return _MARK + profile + (f", and its {', '.join(keys)}" if keys else "")


def _groups(lines: list[str]) -> dict[str, list[str]]:
    """Each top-level key's value and sub-lines, whitespace aside: to compare settings."""
    groups: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        bare = line.rstrip("\r\n")
        if not bare.strip() or bare.lstrip().startswith(("#", ";")):
            continue
        key = _KEY.match(bare)
        if not bare[:1].isspace():
            current = None if key is None else groups.setdefault(key.group(1), [key.group(2)])
        elif current is not None:
            current.append(" ".join(bare.split()))
    return groups


@dataclass
class Wired:
    """What :func:`wire` did."""

    action: str  # 'added' or 'updated'
    #: Carried settings a later wire rewrote: changed, new or gone in the role profile.
    refreshed: list[str]
    #: The role profile's settings that the wired profile holds otherwise in lines wire did
    #: not write (the user's, or those of an older wire, which noted none): left as they are.
    kept: list[str]


def _refresh(
    lines: list[str],
    section: Section,
    profile: str,
    settings: list[str],
    region: str | None,
    newline: str,
) -> tuple[list[str], list[str]]:
    """Rewrite in ``lines`` the settings wire carried into ``section`` (the keys its comment
    names) from the role profile's ``settings`` and ``region`` now; every other line stays
    as it is. Returns the keys rewritten, and the role profile's keys that the section holds
    otherwise in lines that are not wire's (see :attr:`Wired.kept`)."""
    body = range(section.start + 1, section.end)
    mark = next((i for i in body if _MARK_LINE.match(lines[i].rstrip("\r\n"))), None)
    owned: set[str] = set()
    if mark is not None:
        listed = _MARK_LINE.match(lines[mark].rstrip("\r\n"))
        assert listed is not None
        owned = {k.strip() for k in (listed.group(2) or "").split(",")} - {""}
    wires: list[int] = []  # the lines wire wrote, by index
    theirs: set[str] = set()
    inside = False
    for i in body:
        bare = lines[i].rstrip("\r\n")
        if not bare.strip() or bare.lstrip().startswith(("#", ";")):
            continue
        if not bare[:1].isspace():
            key = _KEY.match(bare)
            inside = key is not None and key.group(1) in owned
            if key is not None and not inside and key.group(1) != "credential_process":
                theirs.add(key.group(1))
        if inside:
            wires.append(i)
    new = _block(settings, region, theirs)
    held = _groups(lines[section.start + 1 : section.end])
    kept = [
        k
        for k, v in _groups(_block(settings, region, set())).items()
        if k in theirs and held[k] != v
    ]
    old = [lines[i].rstrip("\r\n") for i in wires]
    mark_text = _mark(profile, new)
    if old == new and (lines[mark].rstrip("\r\n") == mark_text if mark is not None else not new):
        return [], kept
    before, after = _groups(old), _groups(new)
    refreshed = [k for k in dict.fromkeys([*before, *after]) if before.get(k) != after.get(k)]
    credential_process = section.keys["credential_process"][0]
    out: list[str] = []
    for i in range(section.start, section.end):
        if i in wires:
            continue
        line = lines[i]
        if i == mark:
            line = mark_text + (line[len(line.rstrip("\r\n")) :] or newline)
        out.append(line)
        if i == section.start and mark is None:
            out.append(mark_text + newline)
        if i == credential_process and new:
            if not line.endswith(("\n", "\r")):
                out[-1] = line + newline  # it was the file's last line
            out.extend(setting + newline for setting in new)
    lines[section.start : section.end] = out
    return refreshed, kept


def _ours(section: Section) -> bool:
    current = section.keys.get("credential_process")
    return current is not None and is_ours(current[1]) and "role_arn" not in section.keys


def unwire(path: Path, name: str) -> bool:
    """Remove the profile ``wire`` added as ``name``: its section and the blank line ``wire``
    put before it, nothing else. False when there is no such profile."""
    if not path.exists():
        return False
    raw = path.read_bytes()
    lines = raw.decode("utf-8").splitlines(keepends=True)
    section = find_section(lines, name)
    if section is None:
        return False
    if not _ours(section):
        raise CredhelperError(
            f"not a profile credhelper wire wrote (in {path})",
            "edit it by hand, or name the profile credhelper wire added",
            profile=name,
        )
    start, end = section.start, _last_key_line(lines, section)
    at_end = all(not line.strip() for line in lines[end:])
    if at_end:
        end = len(lines)
    if start > 0 and not lines[start - 1].strip():
        start -= 1  # the blank line wire writes before the section
    elif start > 0 and at_end:
        # wire ended an unterminated last line to start its section: undo that
        lines[start - 1] = lines[start - 1].rstrip("\r\n")
    del lines[start:end]
    atomic.write(path, "".join(lines).encode("utf-8"))
    return True


def wire(
    path: Path, profile: str, as_name: str, region: str | None, settings: list[str] | None = None
) -> Wired:
    """Add or update ``as_name`` in the config file ``path``.

    ``settings``: lines carried from the role profile (see :func:`carried`), written after
    credential_process; ``region`` is written when they hold none. A later run rewrites
    credential_process and the settings wire wrote (as the role profile has them now), and
    keeps every line the user added. A second run with nothing changed leaves the file byte
    for byte."""
    if as_name == profile:
        raise CredhelperError(
            f"cannot wire '{profile}' onto itself: its role_arn would take precedence",
            "choose another name with --as, e.g. --as " + f"{profile}-credhelper",
            profile=profile,
        )
    command = shlex.join(process_command(profile))
    settings = settings or []
    raw = path.read_bytes() if path.exists() else b""
    newline = "\r\n" if b"\r\n" in raw else "\n"
    text = raw.decode("utf-8")
    lines = text.splitlines(keepends=True)
    section = find_section(lines, as_name)
    refreshed: list[str] = []
    kept: list[str] = []
    if section is None:
        separator = newline if text.strip() else ""
        if text and not text.endswith(("\n", "\r")):
            # no blank line then, so that unwire can tell and give the file back as it was
            text += newline
            separator = ""
        settings = _block(settings, region, set())
        block = [
            f"[{section_name(as_name)}]",
            _mark(profile, settings),
            f"credential_process = {command}",
            *settings,
        ]
        text += separator + newline.join(block) + newline
        action = "added"
    else:
        current = section.keys.get("credential_process")
        if current is None or not _ours(section):
            raise CredhelperError(
                f"profile '{as_name}' already exists in {path} and is not a credhelper profile",
                "choose another name with --as, or remove that profile first",
                profile=profile,
            )
        index = current[0]
        old = lines[index]
        ending = old[len(old.rstrip("\r\n")) :]
        lines[index] = f"credential_process = {command}{ending or newline}"
        refreshed, kept = _refresh(lines, section, profile, settings, region, newline)
        text = "".join(lines)
        action = "updated"
    atomic.write(path, text.encode("utf-8"))
    return Wired(action, refreshed, kept)
