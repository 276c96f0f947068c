"""The command line as users expect it: bare ``credhelper``, ``-V``, every subcommand's
``--help``, run as the real CLI."""

from __future__ import annotations

import pytest
from harness.awsenv import AwsEnv

from credhelper import __version__


def _commands() -> list[str]:
    """Every subcommand the parser knows (a new one is covered without editing this test)."""
    import argparse

    from credhelper import cli

    (sub,) = [a for a in cli._parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(sub.choices)


#: Every subcommand: each has a description under --help.
COMMANDS = _commands()


def test_bare_credhelper_prints_the_help_on_stderr_exit_code_2(aws_env: AwsEnv):
    result = aws_env.run(["credhelper"])
    assert result.returncode == 2, result  # as aws and argparse do for a missing command
    assert result.stdout == ""
    assert result.stderr.startswith("usage: credhelper [-h] [-V] [--debug] COMMAND ...")
    for command in COMMANDS:
        assert f"\n    {command} " in result.stderr, command
    assert "-V, --version" in result.stderr


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version_flags(aws_env: AwsEnv, flag: str):
    result = aws_env.run(["credhelper", flag])
    assert result.returncode == 0 and result.stderr == "", result
    assert result.stdout == f"credhelper {__version__}\n"


@pytest.mark.parametrize("command", COMMANDS + ["wire"])
def test_every_subcommand_has_a_description(aws_env: AwsEnv, command: str):
    result = aws_env.run(["credhelper", command, "--help"])
    assert result.returncode == 0 and result.stderr == "", result
    usage, _, rest = result.stdout.partition("\n\n")
    assert usage.startswith(f"usage: credhelper {command} ")
    description = rest.split("\n\n")[0]
    # A sentence of its own, not straight into the argument list.
    assert not description.startswith(("positional arguments:", "options:")), result.stdout
    assert len(description) > 40 and description.rstrip().endswith((".", ")")), description


def test_status_and_list_offer_wide(aws_env: AwsEnv):
    for command in ("status", "list"):
        result = aws_env.run(["credhelper", command, "--help"])
        assert "--wide" in result.stdout, result.stdout
