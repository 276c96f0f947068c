"""A second ``wire`` brings the settings it carried up to date and keeps the user's lines;
``unwire`` still gives the file back byte for byte."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest

from credhelper import config_edit

ROLE = (
    "# my config\n"
    "[profile base]\n"
    "output=json\n"
    "\n"
    "[profile admin]\n"
    "role_arn = arn:aws:iam::123456789012:role/admin\n"
    "source_profile = base\n"
    "region = us-west-2\n"
    "output = json\n"
    "s3 =\n"
    "    max_concurrent_requests = 20\n"
)
#: The role profile, changed after the first wire: a value, a sub-line, a key gone, one new.
CHANGED = (
    ROLE.replace("region = us-west-2", "region = eu-central-1")
    .replace("output = json\n", "")
    .replace("= 20\n", "= 50\nca_bundle = /etc/ssl/corp.pem\n")
)


def wire(path: Path, region: str | None = None, profile: str = "admin") -> config_edit.Wired:
    """As the command does it: the settings carried from the file as it is now."""
    lines = path.read_text("utf-8").splitlines()
    return config_edit.wire(path, profile, "w", region, config_edit.carried(lines, profile))


def wired_section(path: Path) -> dict[str, str]:
    parser = configparser.RawConfigParser()  # strict: a key twice in a section is an error
    parser.read(path)
    return dict(parser["profile w"])


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_a_second_wire_rewrites_what_it_carried_and_keeps_the_users_lines(tmp_path, newline):
    path = tmp_path / "config"
    path.write_bytes(ROLE.replace("\n", newline).encode())
    assert wire(path).action == "added"
    # the user adds lines of their own to the wired section; the role profile changes
    text = path.read_bytes().decode() + "# mine\ncli_pager = less\n".replace("\n", newline)
    text = text.replace(ROLE.replace("\n", newline), CHANGED.replace("\n", newline))
    path.write_bytes(text.encode())
    assert wired_section(path)["region"] == "us-west-2"

    done = wire(path)
    assert done.action == "updated" and done.kept == []
    assert done.refreshed == ["region", "output", "s3", "ca_bundle"]
    section = wired_section(path)
    assert section["region"] == "eu-central-1" and "output" not in section
    assert section["s3"] == "\nmax_concurrent_requests = 50"
    assert section["ca_bundle"] == "/etc/ssl/corp.pem" and section["cli_pager"] == "less"
    text = path.read_bytes().decode()
    assert "# mine" + newline in text
    assert (
        "# added by credhelper wire: credentials of role profile admin, and its region, s3, "
        "ca_bundle" + newline in text
    )
    if newline == "\r\n":
        assert "\n" not in text.replace("\r\n", "")

    again = path.read_bytes()
    assert wire(path).refreshed == []
    assert path.read_bytes() == again  # nothing changed: byte for byte
    assert config_edit.unwire(path, "w")
    assert path.read_bytes() == CHANGED.replace("\n", newline).encode()


def test_a_setting_the_user_holds_wins_and_is_named(tmp_path):
    path = tmp_path / "config"
    role = ROLE.replace("output = json\n", "")
    path.write_text(role)
    wire(path)
    path.write_text(path.read_text() + "output = text\n")
    path.write_text(path.read_text().replace(role, ROLE))  # the role profile gains output
    before = path.read_bytes()
    done = wire(path)
    assert done.kept == ["output"] and done.refreshed == []
    assert wired_section(path)["output"] == "text"  # once: never carried over the user's
    assert path.read_bytes() == before


def test_an_older_wires_block_names_no_setting_so_none_is_rewritten(tmp_path):
    path = tmp_path / "config"
    command = shlex.join(config_edit.process_command("admin"))
    older = (
        CHANGED + "\n[profile w]\n"
        "# added by credhelper wire: credentials of role profile admin\n"
        f"credential_process = {command}\n"
        "region = us-west-2\n"
        "output = json\n"
        "s3 =\n"
        "    max_concurrent_requests = 50\n"
    )
    path.write_text(older)
    done = wire(path)
    assert done.kept == ["region"]  # differs; output is not the role profile's any more
    assert done.refreshed == ["ca_bundle"]  # new in the role profile: carried, and noted
    section = wired_section(path)
    assert section["region"] == "us-west-2" and section["ca_bundle"] == "/etc/ssl/corp.pem"
    assert "its ca_bundle\n" in path.read_text()
    assert config_edit.unwire(path, "w")
    assert path.read_text() == CHANGED


def test_the_chains_region_is_carried_and_rewritten_too(tmp_path):
    path = tmp_path / "config"
    role = ROLE.replace("region = us-west-2\n", "")
    path.write_text(role)
    wire(path, region="us-west-2")
    assert wired_section(path)["region"] == "us-west-2"
    assert wire(path, region="us-west-2").refreshed == []
    assert wire(path, region="eu-west-1").refreshed == ["region"]
    assert wired_section(path)["region"] == "eu-west-1"
    assert config_edit.unwire(path, "w")
    assert path.read_text() == role
