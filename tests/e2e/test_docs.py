"""Every shell command shown in README.md and docs/*.md runs, against moto, as shown.

The convention (for whoever writes an example):

* A shell example is a fenced block whose info string is ``console``. Each line starting with
  ``$ `` is a command (a line ending with ``\\`` goes on with the next line); the lines after
  it, up to the next ``$ ``, are output the command must print (stdout and stderr together).
  Matching is loose: each expected line that is not blank and not ``...`` must equal a line of
  the output, in order, other lines of the output being allowed in between; runs of
  whitespace match any run of whitespace, and a ``<placeholder>`` (any text between ``<`` and
  ``>``) matches any text.
* A command exits 0 unless its line ends with the comment ``# exit status N``.
* Commands run one by one through ``bash -c``, in one fresh world per block: the e2e
  fixture ``seed_env`` (a throwaway HOME and AWS files, a moto endpoint, a keyring service of
  its own; profiles ``account1`` with user1's keys, the role profile
  ``s3fullaccess-user1-role``, and it wired as ``s3fullaccess-user1``; the bucket
  ``credhelper-demo-bucket``). An HTML comment just above the fence adds to it,
  ``<!-- world: seed+daemon -->``: ``daemon`` a running ``credhelper daemon`` (logging where
  an autostarted one does, ``~/.local/state/credhelper/log/daemon.log``; autostart is off);
  ``federation`` a local stand-in for
  AWS's sign-in endpoint in ``CREDHELPER_FEDERATION_URL``, no browser, and the expected
  output's ``https://signin.aws.amazon.com`` stands for the stand-in's URL; ``rotate``
  ``account1`` is instead an IAM user of the block's own, allowed to manage its own access
  keys, its keys stored in the keyring (``credhelper add``), and ``s3fullaccess-user1-role``
  a role that trusts it (user1's key is every test's: rotating it would break them).
* A block that cannot run here has the info string ``console norun`` and, just above it,
  ``<!-- norun: REASON -->``; the set of such blocks is :data:`NORUN` below, exactly, so that
  a new one is a choice made in this file.
* Any other fence (``sh``, ``bash``, none...) must not hold a ``$ `` line, and ``sh``,
  ``bash``, ``shell`` and ``zsh`` are refused outright: a command hidden there would not run.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest
from harness import MotoStack
from harness.awsenv import SEED_ROLE, AwsEnv
from harness.daemon import Daemons
from harness.federation import FederationStandIn
from test_keys import add_from_env
from test_rotate import make_user, rotation_policy

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: Fences that could hold a shell command the test would not see.
SHELL_FENCES = {"sh", "bash", "shell", "zsh", "shell-session"}
WORLD_PARTS = {"seed", "daemon", "federation", "rotate"}
#: The public sign-in endpoint, as the docs show it; a ``federation`` world's stand-in.
SIGNIN = "https://signin.aws.amazon.com"
#: Each command's time limit (seconds).
TIMEOUT = 60

#: The blocks that do not run here, by page and first command (whitespace runs as one
#: space); each page says why, in the comment above the block.
NORUN = {
    ("README.md", "pipx install dist/credhelper-*.whl # see Install"),
    ("README.md", "packaging/build # dist/: the wheel, the sdist, completions, man page"),
    ("README.md", "install -Dm644 dist/completions/credhelper.bash "
     "~/.local/share/bash-completion/completions/credhelper"),
    ("README.md", "bash scripts/demo # the main job, on a local STS: the IAM-role walk-through "
     "through credhelper"),
    ("README.md", "dbus-run-session -- sh -c 'printf %s \"$KEYRING_PASSWORD\" | "
     "gnome-keyring-daemon --unlock --components=secrets >/dev/null; exec bash'"),
    ("README.md", "credhelper serve s3fullaccess-user1-role --port 9911"),
    ("README.md", "credhelper console s3fullaccess-user1-role # opens the browser"),
    ("docs/install.md", "pipx install dist/credhelper-*.whl"),
    ("docs/install.md", "sudo apt install ./dist/credhelper_*.deb"),
    ("docs/install.md", "brew install --formula ./dist/credhelper.rb"),
    ("docs/install.md", "./dist/credhelper.pyz --version"),
    ("docs/migration.md", "aws-vault exec --no-session account1 -- credhelper add account1 --env"),
    ("docs/troubleshooting.md", "credhelper login admin"),
}


@dataclass
class Command:
    line: int
    text: str
    exit_status: int = 0
    expected: list[str] = field(default_factory=list)


@dataclass
class Block:
    page: str
    line: int
    info: str
    directives: dict[str, str]
    body: list[str]
    commands: list[Command] = field(default_factory=list)

    @property
    def norun(self) -> bool:
        return self.info.split()[1:2] == ["norun"]

    @property
    def key(self) -> tuple[str, str]:
        first = self.commands[0].text if self.commands else ""
        return (self.page, " ".join(first.split()))

    @property
    def world(self) -> set[str]:
        return {p.strip() for p in self.directives.get("world", "seed").split("+")}


DIRECTIVE = re.compile(r"^<!--\s*(world|norun):\s*(.*?)\s*-->$")
EXIT = re.compile(r"\s#\s*exit status (\d+)\s*$")
FENCE = re.compile(r"^(`{3,}|~{3,})(.*)$")


def parse(path: Path) -> list[Block]:
    return parse_text(path.relative_to(ROOT).as_posix(), path.read_text())


def parse_text(page: str, text: str) -> list[Block]:
    """The fenced blocks of a Markdown page, with the directives just above each."""
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i].strip())
        if not m:
            i += 1
            continue
        fence, info, start = m.group(1), m.group(2).strip(), i
        directives: dict[str, str] = {}
        j = i - 1
        while j >= 0 and (d := DIRECTIVE.match(lines[j].strip())):
            directives.setdefault(d.group(1), d.group(2))
            j -= 1
        i += 1
        body: list[str] = []
        while i < len(lines) and lines[i].strip() != fence:
            body.append(lines[i])
            i += 1
        i += 1
        block = Block(page, start + 1, info, directives, body)
        block.commands = commands(body, start + 2)
        blocks.append(block)
    return blocks


def commands(body: list[str], first_line: int) -> list[Command]:
    out: list[Command] = []
    continued = False
    for n, raw in enumerate(body, first_line):
        if continued:
            out[-1].text += "\n" + raw
        elif raw.startswith("$ "):
            out.append(Command(n, raw[2:]))
        elif out:
            out[-1].expected.append(raw)
            continue
        continued = bool(out) and raw.endswith("\\")
    for cmd in out:
        m = EXIT.search(cmd.text)
        if m:
            cmd.exit_status = int(m.group(1))
    return out


def all_blocks() -> list[Block]:
    return [b for page in PAGES for b in parse(page)]


def runnable() -> list[Block]:
    return [b for b in all_blocks() if b.info == "console"]


def pattern(expected: str) -> re.Pattern[str]:
    """One expected line as a regex: placeholders match anything, whitespace any whitespace."""
    parts = re.split(r"(<[^<>]+>|\s+)", expected.strip())
    regex = ""
    for part in parts:
        if not part:
            continue
        if part.startswith("<") and part.endswith(">"):
            regex += ".*"
        elif part.isspace():
            regex += r"\s+"
        else:
            regex += re.escape(part)
    return re.compile(regex)


def check_output(page: str, cmd: Command, output: str, signin: str | None) -> None:
    got = [line.strip() for line in output.splitlines()]
    at = 0
    for want in cmd.expected:
        if want.strip() in ("", "..."):
            continue
        if signin:
            want = want.replace(SIGNIN, signin)
        regex = pattern(want)
        for k in range(at, len(got)):
            if regex.fullmatch(got[k]):
                at = k + 1
                break
        else:
            raise AssertionError(
                f"{page}:{cmd.line}: `{cmd.text}` did not print (in order, after what matched "
                f"before):\n  {want.strip()}\nits output:\n{output}"
            )


def test_the_matching_is_loose_but_not_blind() -> None:
    (block,) = [
        b
        for b in parse_text(
            "x.md",
            "```console\n$ a \\\n  b   # exit status 3\n"
            "one  <n> two\n...\nthree <x y>\n$ c\n```\n",
        )
    ]
    first, second = block.commands
    assert (first.text, first.exit_status, second.text) == ("a \\\n  b   # exit status 3", 3, "c")
    check_output("x.md", first, "zero\none 42   two\nmore\nthree and more\n", None)
    with pytest.raises(AssertionError):  # out of order
        check_output("x.md", first, "three 1\none 2 two\n", None)
    with pytest.raises(AssertionError):  # a whole line, not part of one
        check_output("x.md", first, "xone 2 two\nthree 4\n", None)


def test_shell_examples_follow_the_convention() -> None:
    problems = []
    for block in all_blocks():
        where = f"{block.page}:{block.line}"
        kind = block.info.split()[0] if block.info else ""
        if kind in SHELL_FENCES:
            problems.append(f"{where}: a ```{kind} block; use ```console (or ```console norun)")
        elif kind == "console":
            if not block.commands:
                problems.append(f"{where}: a console block with no `$ ` command")
            if block.info not in ("console", "console norun"):
                problems.append(f"{where}: unknown info string {block.info!r}")
            if block.norun and not block.directives.get("norun"):
                problems.append(f"{where}: a norun block needs <!-- norun: REASON --> above it")
            if not block.norun and "norun" in block.directives:
                problems.append(f"{where}: <!-- norun --> above a block that runs")
            unknown = block.world - WORLD_PARTS
            if unknown or "seed" not in block.world:
                problems.append(f"{where}: world {block.directives.get('world')!r}: use "
                                f"seed, plus any of {sorted(WORLD_PARTS - {'seed'})}")
        elif block.commands:
            problems.append(f"{where}: a `$ ` command in a ```{block.info} block: use ```console")
    assert not problems, "\n".join(problems)


def anchors(path: Path) -> set[str]:
    """GitHub's ids of a page's headings: lower case, punctuation dropped, spaces to ``-``."""
    out = set()
    fenced = False
    for line in path.read_text().splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return out


def test_links_between_pages_lead_somewhere() -> None:
    broken = []
    for page in PAGES:
        text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            where = (page.parent / file).resolve() if file else page
            if not where.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and where.suffix == ".md" and anchor not in anchors(where):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_the_blocks_that_do_not_run_are_the_allowed_ones() -> None:
    found = {b.key for b in all_blocks() if b.info.startswith("console") and b.norun}
    assert found == NORUN, (
        f"not allowed here: {sorted(found - NORUN)}; allowed but gone: {sorted(NORUN - found)}"
    )


@pytest.fixture
def world(
    request: pytest.FixtureRequest, seed_env: AwsEnv, moto_stack: MotoStack
) -> Iterator[tuple[AwsEnv, Block, str | None]]:
    block: Block = request.param
    parts = block.world
    env = seed_env
    signin = None
    if "rotate" in parts:
        user = make_user(moto_stack, rotation_policy())
        env.add_credentials("account1", user.creds)
        env.add_profile(SEED_ROLE, role_arn=user.role_arn, source_profile="account1")
        added = add_from_env(env, "account1", user.creds)
        assert added.returncode == 0, added.stderr
    stand_in = None
    if "federation" in parts:
        stand_in = FederationStandIn(moto_stack).start()
        signin = stand_in.url
        env.env["CREDHELPER_FEDERATION_URL"] = signin
        for name in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY"):
            env.env.pop(name, None)
    daemons = None
    if "daemon" in parts:
        # where a daemon the first call starts logs, so that the docs can show that file
        log = env.home / ".local" / "state" / "credhelper" / "log" / "daemon.log"
        log.parent.mkdir(parents=True, mode=0o700)
        daemons = Daemons(env, log)
        daemons()
    try:
        yield env, block, signin
    finally:
        if daemons is not None:
            daemons.close()
        if stand_in is not None:
            stand_in.stop()


@pytest.mark.parametrize(
    "world",
    [pytest.param(b, id=f"{b.page}:{b.line}") for b in runnable()],
    indirect=True,
)
def test_example_runs_as_shown(world: tuple[AwsEnv, Block, str | None]) -> None:
    env, block, signin = world
    for cmd in block.commands:
        try:
            done = subprocess.run(
                ["bash", "-c", cmd.text],
                env=env.env,
                cwd=env.root,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=TIMEOUT,
            )
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(
                f"{block.page}:{cmd.line}: `{cmd.text}` ran over {TIMEOUT} s:\n{exc.output}"
            ) from None
        print(f"$ {cmd.text}\n{done.stdout}")  # shown when the test fails
        assert done.returncode == cmd.exit_status, (
            f"{block.page}:{cmd.line}: `{cmd.text}` exited {done.returncode}, not "
            f"{cmd.exit_status}:\n{done.stdout}"
        )
        check_output(block.page, cmd, done.stdout, signin)
