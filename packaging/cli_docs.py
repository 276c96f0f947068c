"""Shell completions (bash, zsh, fish) and the man page, generated from credhelper's argparse
definitions and its settings.

Usage: ``python packaging/cli_docs.py OUTDIR`` (credhelper importable) writes
``OUTDIR/completions/credhelper.bash``, ``OUTDIR/completions/_credhelper`` (zsh),
``OUTDIR/completions/credhelper.fish`` and ``OUTDIR/man/credhelper.1``.

Why generated at build time: the parser (``credhelper.cli._parser()``) is the one description
of the commands, so the files cannot drift from it, and nothing runs at TAB time but the shell:
PROFILE arguments are completed by a few lines of awk over the AWS config file (sections
``[profile NAME]`` and ``[default]``), never by starting Python.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import inspect
import os
import re
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

#: Positional metavars whose values are profile names of the AWS config.
PROFILE_METAVARS = ("PROFILE", "NAME")

#: Prints the profile names of the AWS config file given as its argument. Single-quoted in
#: every shell: no single quote, no double backslash inside (fish reads those two escapes).
AWK_PROFILES = (
    r'/^[ \t]*\[profile[ \t]/ { s = $0; sub(/^[ \t]*\[profile[ \t]+/, "", s); '
    r'sub(/[ \t]*\].*$/, "", s); if (s != "") print s; next } '
    r'/^[ \t]*\[default[ \t]*\]/ { print "default" }'
)


# --- the model: what the parser says -------------------------------------------------------------


@dataclass
class Option:
    """One option of a command (``--min-ttl SECONDS``)."""

    flags: list[str]
    help: str | None  # None: accepted but hidden (argparse.SUPPRESS)
    metavar: str | None  # None: a switch, takes no value
    choices: list[str] | None = None

    @property
    def long(self) -> list[str]:
        return [f[2:] for f in self.flags if f.startswith("--")]

    @property
    def short(self) -> list[str]:
        return [f[1:] for f in self.flags if not f.startswith("--")]


@dataclass
class Positional:
    """One positional argument; ``kind`` says how to complete it: ``profile``, ``command``
    (a program and its arguments), ``choice`` or ``any``."""

    metavar: str
    help: str | None
    nargs: object  # None, "?", "*", "+" or argparse.REMAINDER
    kind: str
    choices: list[str] = field(default_factory=list)

    @property
    def repeats(self) -> bool:
        return self.nargs in ("*", "+", argparse.REMAINDER)

    @property
    def optional(self) -> bool:
        return self.nargs in ("?", "*", argparse.REMAINDER)


@dataclass
class Command:
    name: str
    summary: str
    description: str
    options: list[Option]
    positionals: list[Positional]


@dataclass
class Cli:
    prog: str
    description: str
    version: str
    options: list[Option]
    commands: list[Command]


def _options_and_positionals(
    parser: argparse.ArgumentParser,
) -> tuple[list[Option], list[Positional]]:
    options: list[Option] = []
    positionals: list[Positional] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        hidden = action.help == argparse.SUPPRESS
        choices = [str(c) for c in action.choices] if action.choices else None
        if action.option_strings:
            takes_value = action.nargs != 0
            metavar = None
            if takes_value:
                metavar = str(action.metavar or action.dest.upper())
            options.append(
                Option(
                    flags=list(action.option_strings),
                    help=None if hidden else (action.help or ""),
                    metavar=metavar,
                    choices=choices,
                )
            )
            continue
        metavar = str(action.metavar or action.dest.upper())
        if choices:
            kind = "choice"
        elif action.nargs == argparse.REMAINDER:
            kind = "command"
        elif metavar in PROFILE_METAVARS:
            kind = "profile"
        else:
            kind = "any"
        positionals.append(
            Positional(
                metavar=metavar,
                help=None if hidden else action.help,
                nargs=action.nargs,
                kind=kind,
                choices=choices or [],
            )
        )
    return options, positionals


def read_cli(parser: argparse.ArgumentParser, version: str) -> Cli:
    """Walk the parser and its subparsers into the model the writers share."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if len(subs) != 1:
        raise SystemExit(f"cli_docs: expected one set of subcommands, found {len(subs)}")
    summaries = {a.dest: a.help or "" for a in subs[0]._choices_actions}
    commands = []
    for name, sub in subs[0].choices.items():
        options, positionals = _options_and_positionals(sub)
        commands.append(
            Command(
                name=name,
                summary=summaries.get(name, ""),
                description=sub.description or summaries.get(name, ""),
                options=options,
                positionals=positionals,
            )
        )
    options, _ = _options_and_positionals(parser)
    return Cli(
        prog=parser.prog,
        description=parser.description or "",
        version=version,
        options=options,
        commands=commands,
    )


# --- the settings: every CREDHELPER_* variable Settings.from_env reads ---------------------------


@dataclass
class Setting:
    name: str
    default: str  # as shown: "960", "on", "credhelper", "unset"
    meaning: str


_READERS = ("_number", "_flag", "_characters")


def _show_default(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _meaning(comment: str, name: str) -> str:
    """A field's comment as a man page sentence: without Sphinx markup, and without the
    variable's own name where it only says which variable it is (the entry is headed by it)."""
    text = re.sub(r":\w+:`([^`]*)`", r"\1", comment).replace("``", "")
    text = text.replace(f" ({name})", "").replace(f"({name}, ", "(").replace(f"({name}; ", "(")
    return text


def _field_comments(source: str, cls: ast.ClassDef) -> dict[str, str]:
    """The ``#:`` comment lines above each field of ``cls``, joined."""
    lines = source.splitlines()
    comments = {}
    for node in cls.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            text: list[str] = []
            i = node.lineno - 2
            while i >= 0 and lines[i].strip().startswith("#:"):
                text.insert(0, lines[i].strip()[2:].strip())
                i -= 1
            comments[node.target.id] = " ".join(text)
    return comments


def read_settings(module: object) -> list[Setting]:
    """Read ``Settings.from_env`` in the settings module's source: each keyword of its
    ``cls(...)`` call is a field, set from one ``CREDHELPER_*`` variable through ``_number``,
    ``_flag``, ``_characters`` or ``env.get(...) or DEFAULT``; defaults named by a constant
    are looked up in the module. The meaning is the field's ``#:`` comment."""
    source = inspect.getsource(module)  # type: ignore[arg-type]
    tree = ast.parse(source)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings")
    comments = _field_comments(source, cls)
    from_env = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "from_env")
    call = next(
        n
        for n in ast.walk(from_env)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "cls"
    )

    def value_of(node: ast.expr) -> object:
        if isinstance(node, ast.Name):
            return getattr(module, node.id)
        return ast.literal_eval(node)

    settings = []
    for keyword in call.keywords:
        assert keyword.arg is not None
        name: str | None = None
        default: object = None
        for node in ast.walk(keyword.value):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                if node.func.id in _READERS:
                    name = ast.literal_eval(node.args[1])
                    if node.func.id != "_characters":
                        default = value_of(node.args[2])
                    break
            if (
                isinstance(node, ast.BoolOp)
                and isinstance(node.op, ast.Or)
                and isinstance(node.values[0], ast.Call)
                and isinstance(node.values[0].func, ast.Attribute)
                and node.values[0].func.attr == "get"
            ):
                name = ast.literal_eval(node.values[0].args[0])
                default = value_of(node.values[1])
                break
        if name is None or not name.startswith("CREDHELPER_"):
            raise SystemExit(f"cli_docs: cannot tell which variable sets {keyword.arg}")
        meaning = _meaning(comments.get(keyword.arg, ""), name)
        settings.append(Setting(name, _show_default(default), meaning))
    return settings


# --- bash ----------------------------------------------------------------------------------------


def _words(items: list[str]) -> str:
    return " ".join(items)


def bash_completion(cli: Cli) -> str:
    top = [f for o in cli.options for f in o.flags]
    cases = []
    for cmd in cli.commands:
        flags = sorted(f for o in cmd.options for f in o.flags)
        valued = [f for o in cmd.options if o.metavar for f in o.flags]
        positions: list[str] = []
        rest_from = -1
        for p in cmd.positionals:
            if p.kind == "command":
                rest_from = len(positions)
                positions += ["@command", "@any"]
            elif p.kind == "choice":
                positions.append(_words(p.choices))
            else:
                positions.append("@" + p.kind)
        more = int(any(p.repeats for p in cmd.positionals))
        quoted = " ".join(f"'{w}'" for w in positions)
        cases.append(
            f"        {cmd.name})\n"
            f"            opts='{_words(flags)}'\n"
            f"            valued=' {_words(valued)} '\n"
            f"            positions=({quoted})\n"
            f"            more={more} rest_from={rest_from}\n"
            f"            ;;"
        )
    case_block = "\n".join(cases)
    return f"""\
# bash completion for credhelper -*- shell-script -*-
# Generated by packaging/cli_docs.py from credhelper's argparse definitions: do not edit.
# PROFILE arguments: the profile names of ${{AWS_CONFIG_FILE:-~/.aws/config}}, read with awk.

_credhelper_profiles() {{
    awk '{AWK_PROFILES}' "${{AWS_CONFIG_FILE:-$HOME/.aws/config}}" 2>/dev/null
}}

_credhelper() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}}
    local cmd='' i w
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${{COMP_WORDS[i]}}
        case $w in -*) ;; *) cmd=$w; break ;; esac
    done
    COMPREPLY=()
    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W '{_words(top)}' -- "$cur"))
        else
            COMPREPLY=($(compgen -W '{_words([c.name for c in cli.commands])}' -- "$cur"))
        fi
        return 0
    fi
    local opts valued more rest_from
    local -a positions
    case $cmd in
{case_block}
        *) return 0 ;;
    esac
    # Which positional the cursor is on: words after the command that are neither options
    # nor an option's value ("--" counts as neither).
    local n=0 dashdash=0 skip=0
    for ((i = i + 1; i < COMP_CWORD; i++)); do
        w=${{COMP_WORDS[i]}}
        if ((skip)); then skip=0; continue; fi
        if ((rest_from >= 0 && n > rest_from)); then n=$((n + 1)); continue; fi
        if ((!dashdash)) && [[ $w == -- ]]; then dashdash=1; continue; fi
        if ((!dashdash)) && [[ $w == -* ]]; then
            [[ $valued == *" $w "* ]] && skip=1
            continue
        fi
        n=$((n + 1))
    done
    if ((skip)); then return 0; fi  # an option's value: nothing to offer
    local in_rest=0
    ((rest_from >= 0 && n > rest_from)) && in_rest=1
    if ((!dashdash && !in_rest)) && [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return 0
    fi
    if ((n >= ${{#positions[@]}})); then
        ((more)) || return 0
        n=$((${{#positions[@]}} - 1))
    fi
    case ${{positions[n]}} in
        @profile) COMPREPLY=($(compgen -W "$(_credhelper_profiles)" -- "$cur")) ;;
        @command) COMPREPLY=($(compgen -c -- "$cur")) ;;
        @any) COMPREPLY=($(compgen -f -- "$cur")) ;;
        *) COMPREPLY=($(compgen -W "${{positions[n]}}" -- "$cur")) ;;
    esac
    return 0
}}
complete -F _credhelper credhelper
"""


# --- zsh -----------------------------------------------------------------------------------------


def _zq(text: str) -> str:
    """A single-quoted zsh word."""
    return "'" + text.replace("'", "'\\''") + "'"


def _zdesc(text: str | None) -> str:
    """Text for the [...] of an _arguments spec: brackets and colons escaped, one line."""
    text = " ".join((text or "").split())
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]").replace(":", "\\:")


def _zsh_action(kind: str, choices: list[str]) -> str:
    if kind == "profile":
        return "_credhelper_profiles"
    if kind == "choice":
        return "(" + " ".join(choices) + ")"
    if kind == "command":
        return "_normal"
    return "_files"


def _zsh_option_specs(options: list[Option]) -> list[str]:
    specs = []
    for o in options:
        desc = _zdesc(o.help or "")
        value = ""
        if o.metavar:
            action = "(" + " ".join(o.choices) + ")" if o.choices else " "
            value = f":{_zdesc(o.metavar)}:{action}"
        if len(o.flags) > 1:
            group = " ".join(o.flags)
            excl = "(- *)" if "--help" in o.flags or "--version" in o.flags else f"({group})"
            for f in o.flags:
                eq = "=" if o.metavar and f.startswith("--") else ""
                specs.append(_zq(f"{excl}{f}{eq}[{desc}]{value}"))
        else:
            f = o.flags[0]
            eq = "=" if o.metavar and f.startswith("--") else ""
            specs.append(_zq(f"{f}{eq}[{desc}]{value}"))
    return specs


def zsh_completion(cli: Cli) -> str:
    described = "\n".join(
        "        " + _zq(f"{c.name}:{' '.join(c.summary.split())}") for c in cli.commands
    )
    branches = []
    for cmd in cli.commands:
        specs = _zsh_option_specs(cmd.options)
        for p in cmd.positionals:
            action = _zsh_action(p.kind, p.choices)
            meta = _zdesc(p.metavar)
            if p.nargs == argparse.REMAINDER:
                specs.append(_zq(f"*::{meta}:{action}"))
            elif p.repeats:
                specs.append(_zq(f"*:{meta}:{action}"))
            elif p.optional:
                specs.append(_zq(f"::{meta}:{action}"))
            else:
                specs.append(_zq(f":{meta}:{action}"))
        body = " \\\n                ".join(specs)
        branches.append(
            f"            {cmd.name})\n                _arguments -s \\\n"
            f"                {body}\n                ;;"
        )
    top = " \\\n        ".join(_zsh_option_specs(cli.options))
    return f"""\
#compdef credhelper
# zsh completion for credhelper.
# Generated by packaging/cli_docs.py from credhelper's argparse definitions: do not edit.
# PROFILE arguments: the profile names of ${{AWS_CONFIG_FILE:-~/.aws/config}}, read with awk.

_credhelper_profiles() {{
    local -a profiles
    local file=${{AWS_CONFIG_FILE:-$HOME/.aws/config}}
    profiles=(${{(f)"$(awk '{AWK_PROFILES}' "$file" 2>/dev/null)"}})
    _wanted profiles expl 'AWS profile' compadd -a profiles
}}

_credhelper() {{
    local curcontext="$curcontext" state line ret=1
    typeset -A opt_args
    _arguments -C \\
        {top} \\
        '1: :->command' \\
        '*:: :->args' && ret=0
    case $state in
        command)
            local -a commands
            commands=(
{described}
            )
            _describe -t commands 'credhelper command' commands && ret=0
            ;;
        args)
            curcontext="${{curcontext%:*:*}}:credhelper-$words[1]:"
            case $words[1] in
{chr(10).join(branches)}
            esac
            ;;
    esac
    return ret
}}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _credhelper "$@"
else
    compdef _credhelper credhelper
fi
"""


# --- fish ----------------------------------------------------------------------------------------


def _fq(text: str | None) -> str:
    """A single-quoted fish word, on one line."""
    text = " ".join((text or "").split())
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def fish_completion(cli: Cli) -> str:
    names = " ".join(c.name for c in cli.commands)
    lines = [
        "# fish completion for credhelper.",
        "# Generated by packaging/cli_docs.py from credhelper's argparse definitions: do not edit.",
        "# PROFILE arguments: the profile names of $AWS_CONFIG_FILE (default ~/.aws/config),",
        "# read with awk.",
        "",
        "function __credhelper_profiles",
        "    set -l file ~/.aws/config",
        '    test -n "$AWS_CONFIG_FILE"; and set file $AWS_CONFIG_FILE',
        f"    awk '{AWK_PROFILES}' $file 2>/dev/null",
        "end",
        "",
        "# True when the command line is COMMAND with N positionals typed after it (the one",
        "# being completed is number N+1); the remaining arguments are the options taking a value.",
        "function __credhelper_position",
        "    set -l cmd $argv[1]",
        "    set -l want $argv[2]",
        "    set -l valued $argv[3..-1]",
        "    set -l tokens (commandline -opc)",
        "    set -l seen ''",
        "    set -l n 0",
        "    set -l skip 0",
        "    set -l dashdash 0",
        "    for t in $tokens[2..-1]",
        "        if test $skip = 1",
        "            set skip 0",
        "            continue",
        "        end",
        '        if test $dashdash = 0; and test "$t" = --',
        "            set dashdash 1",
        "            continue",
        "        end",
        "        if test $dashdash = 0; and string match -q -- '-*' $t",
        "            contains -- $t $valued; and set skip 1",
        "            continue",
        "        end",
        '        if test -z "$seen"',
        "            set seen $t",
        "        else",
        "            set n (math $n + 1)",
        "        end",
        "    end",
        '    test "$seen" = "$cmd"; and test $skip = 0; or return 1',
        '    test "$want" = any; or test $n = $want; or begin',
        "        string match -q -- '*+' $want; and test $n -ge (string trim -c + -- $want)",
        "    end",
        "end",
        "",
        "complete -c credhelper -f",
    ]

    def option_line(condition: str, o: Option) -> str:
        parts = (
            ["complete -c credhelper", f"-n {_fq(condition)}"]
            if condition
            else ["complete -c credhelper"]
        )
        parts += [f"-s {s}" for s in o.short] + [f"-l {name}" for name in o.long]
        if o.metavar:
            parts.append("-x")
            if o.choices:
                parts.append(f"-a {_fq(' '.join(o.choices))}")
        if o.help:
            parts.append(f"-d {_fq(o.help)}")
        return " ".join(parts)

    top_cond = f"not __fish_seen_subcommand_from {names}"
    for o in cli.options:
        lines.append(option_line(top_cond, o))
    for c in cli.commands:
        lines.append(f"complete -c credhelper -n {_fq(top_cond)} -a {c.name} -d {_fq(c.summary)}")
    for cmd in cli.commands:
        lines.append("")
        lines.append(f"# {cmd.name}")
        valued = " ".join(f for o in cmd.options if o.metavar for f in o.flags)
        for o in cmd.options:
            lines.append(option_line(f"__fish_seen_subcommand_from {cmd.name}", o))
        for i, p in enumerate(cmd.positionals):
            want = f"{i}+" if p.repeats else str(i)
            cond = f"__credhelper_position {cmd.name} {want} {valued}".rstrip()
            if p.kind == "profile":
                arg = "-a '(__credhelper_profiles)'"
            elif p.kind == "choice":
                arg = f"-a {_fq(' '.join(p.choices))}"
            elif p.kind == "command":
                first = f"__credhelper_position {cmd.name} {i} {valued}".rstrip()
                lines.append(
                    f"complete -c credhelper -n {_fq(first)} -a '(__fish_complete_command)'"
                )
                cond = f"__credhelper_position {cmd.name} {i + 1}+ {valued}".rstrip()
                arg = "-F"
            else:
                arg = "-F"
            desc = f" -d {_fq(p.metavar)}" if p.kind != "command" else ""
            lines.append(f"complete -c credhelper -n {_fq(cond)} {arg}{desc}")
    return "\n".join(lines) + "\n"


# --- the man page --------------------------------------------------------------------------------


def _roff(text: str | None) -> str:
    """Text for a troff line: backslashes and hyphens escaped, no control character at the
    start of a line."""
    text = " ".join((text or "").split())
    text = text.replace("\\", "\\e").replace("-", "\\-")
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def _b(text: str) -> str:
    return f"\\fB{_roff(text)}\\fR"


def _i(text: str) -> str:
    return f"\\fI{_roff(text)}\\fR"


def _synopsis(cmd: Command, prog: str) -> str:
    parts = [_b(f"{prog} {cmd.name}")]
    for o in cmd.options:
        if o.help is None or "--help" in o.flags:
            continue
        flag = _b(o.long and "--" + o.long[0] or o.flags[0])
        parts.append(f"[{flag} {_i(o.metavar)}]" if o.metavar else f"[{flag}]")
    for p in cmd.positionals:
        meta = "|".join(_b(c) for c in p.choices) if p.choices else _i(p.metavar)
        if p.nargs == argparse.REMAINDER:
            parts.append(f"[{_b('--')}] {meta} ...")
        elif p.repeats:
            parts.append(f"[{meta} ...]")
        elif p.optional:
            parts.append(f"[{meta}]")
        else:
            parts.append(meta)
    return " ".join(parts)


def _option_items(options: list[Option]) -> list[str]:
    out = []
    for o in options:
        if o.help is None:
            continue
        flags = ", ".join(_b(f) for f in o.flags)
        if o.metavar:
            flags += " " + _i(o.metavar)
        out += [".TP", flags, _roff(o.help)]
    return out


def man_page(cli: Cli, settings: list[Setting], date: str) -> str:
    prog = cli.prog
    out = [
        ".\\\" Generated by packaging/cli_docs.py from credhelper's argparse definitions and "
        "settings: do not edit.",
        f'.TH CREDHELPER 1 "{date}" "{prog} {cli.version}" "User Commands"',
        ".SH NAME",
        f"{prog} \\- {_roff(cli.description[:1].lower() + cli.description[1:])}",
        ".SH SYNOPSIS",
        f"{_b(prog)} [{_b('--debug')}] {_i('COMMAND')} [{_i('OPTIONS')}] [{_i('ARGUMENTS')}]",
        ".br",
        f"{_b(prog)} {_b('--version')} | {_b('--help')}",
        ".SH DESCRIPTION",
        _roff(
            f"{prog} gives every AWS SDK and CLI assumed-role credentials through the "
            "credential_process setting of the AWS config: 'credhelper wire PROFILE' adds a "
            "profile whose credential_process runs 'credhelper process PROFILE'. Sessions are "
            "cached in the OS keyring and renewed before they expire by a background daemon, "
            "which answers over a Unix socket in the user's runtime folder; without the "
            "daemon, the profile is resolved in the calling process. Profiles are ordinary AWS "
            "role profiles (role_arn with source_profile or credential_source, mfa_serial, "
            "external_id, duration_seconds, ...)."
        ),
        ".SH OPTIONS",
        *_option_items(cli.options),
        ".TP",
        _b("COMMAND --help"),
        _roff("the command's own options and arguments."),
        ".SH COMMANDS",
    ]
    for cmd in cli.commands:
        out += [f".SS {cmd.name}", _synopsis(cmd, prog), ".PP", _roff(cmd.description)]
        for p in cmd.positionals:
            if p.help:
                out += [".TP", _i(p.metavar), _roff(p.help)]
        out += _option_items([o for o in cmd.options if "--help" not in o.flags])
    out += [".SH ENVIRONMENT"]
    for s in settings:
        out += [".TP", _b(s.name), _roff(f"{s.meaning} Default: {s.default}.".strip())]
    out += [
        ".TP",
        _b("CREDHELPER_RUNTIME_DIR"),
        _roff(
            "the folder of the daemon's socket and of the session locks, instead of "
            "$XDG_RUNTIME_DIR/credhelper (when that is private) or a private folder under the "
            "temporary directory."
        ),
        ".TP",
        _b("AWS_CONFIG_FILE") + ", " + _b("AWS_SHARED_CREDENTIALS_FILE"),
        _roff("the AWS config and credentials files, as for every AWS SDK."),
        ".TP",
        _b("PYTHON_KEYRING_BACKEND"),
        _roff("the keyring library's own choice of backend."),
        ".SH FILES",
        ".TP",
        _i("~/.aws/config"),
        _roff(
            "the AWS config file (AWS_CONFIG_FILE): the role profiles, and the profiles "
            "'credhelper wire' adds."
        ),
        ".TP",
        _i("~/.aws/credentials"),
        _roff("the AWS credentials file (AWS_SHARED_CREDENTIALS_FILE)."),
        ".TP",
        _i("$XDG_RUNTIME_DIR/credhelper/daemon.sock"),
        _roff("the daemon's socket (folder 0700, socket 0600)."),
        ".TP",
        _i("~/.local/state/credhelper/log/daemon.log"),
        _roff("the log of a daemon started in the background."),
        ".SH EXIT STATUS",
        _roff(
            "0 on success; 2 for a usage error or a bad setting; another non-zero code, with "
            "one line on stderr saying what failed and what to do, otherwise."
        ),
        ".SH SEE ALSO",
        ".BR aws (1),",
        ".BR systemctl (1)",
        ".PP",
        _roff("README.md and docs/security.md in credhelper's source tree."),
    ]
    return "\n".join(out) + "\n"


# --- main ----------------------------------------------------------------------------------------


def _build_date() -> str:
    """SOURCE_DATE_EPOCH's date (reproducible builds), else today's."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        when = datetime.datetime.fromtimestamp(int(epoch), tz=datetime.timezone.utc)
    else:
        when = datetime.datetime.now(tz=datetime.timezone.utc)
    return when.strftime("%Y-%m-%d")


def generate(outdir: Path) -> list[Path]:
    """Write the four files under ``outdir``; return their paths."""
    from credhelper import __version__, cli, settings

    model = read_cli(cli._parser(), __version__)
    files: dict[str, Callable[[], str]] = {
        "completions/credhelper.bash": lambda: bash_completion(model),
        "completions/_credhelper": lambda: zsh_completion(model),
        "completions/credhelper.fish": lambda: fish_completion(model),
        "man/credhelper.1": lambda: man_page(model, read_settings(settings), _build_date()),
    }
    written = []
    for rel, render in files.items():
        path = outdir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(textwrap.dedent(__doc__ or "").strip().splitlines()[0], file=sys.stderr)
        print("usage: python packaging/cli_docs.py OUTDIR", file=sys.stderr)
        return 2
    for path in generate(Path(argv[0])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
