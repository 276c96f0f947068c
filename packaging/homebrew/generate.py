"""Generate the Homebrew formula from a build: ``generate.py DISTDIR [--url-base URL]``.

Reads credhelper's sdist in DISTDIR (``credhelper-VERSION.tar.gz``: its version, its sha256)
and writes DISTDIR/credhelper.rb (``--output``): a Python virtualenv formula
(``include Language::Python::Virtualenv``, ``depends_on "python@3.12"``) with one ``resource``
per runtime dependency, the completions and man page (made at install time by the sdist's own
``packaging/cli_docs.py``, from the command line just installed), a ``service`` running
``credhelper daemon`` and a ``test``.

The formula's own ``url`` is ``URL_BASE/credhelper-VERSION.tar.gz``. URL_BASE is where the
release's files are published: ``--url-base`` or ``CREDHELPER_RELEASE_URL``; without either,
``file://`` and DISTDIR's absolute path, so that the formula installs this very build
(``brew install --formula DISTDIR/credhelper.rb``). Nothing here names a host.

Resources: the dependency closure of credhelper's requirements, pinned to the versions
installed in the environment running this script (scripts/bootstrap's venv, resolved from the
same pyproject.toml: the versions the tests ran against), split by platform (markers evaluated
for Linux and for macOS: keyring's Secret Service stack goes in ``on_linux``). For each pin,
pip (with the index it is configured with) finds the release's sdist: its URL is taken from
pip's own log of the links it saw, the sdist is downloaded once into the cache
(``--cache``, default DISTDIR/.homebrew-cache) and its sha256 computed from those bytes.
pip is asked not to build anything (``--only-binary :all:``): building sdists' metadata
(cryptography's needs Rust) is what makes ``pip download --no-binary :all:`` slow or fail.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT = "credhelper"
PYTHON = "python@3.12"
#: Markers are evaluated for the formula's Python, not the one running this script.
PYTHON_MARKERS = {"python_version": "3.12", "python_full_version": "3.12.0",
                  "implementation_name": "cpython", "platform_python_implementation": "CPython"}
PLATFORMS = {
    "linux": {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"},
    "macos": {"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix"},
}


def log(msg: str) -> None:
    print(f"[homebrew] {msg}", file=sys.stderr, flush=True)


def closure(platform: str) -> dict[str, str]:
    """{canonical name: installed version} of credhelper's runtime requirements, transitively,
    with markers evaluated for `platform` and the formula's Python."""
    env = dict(default_environment(), **PLATFORMS[platform], **PYTHON_MARKERS)
    found: dict[str, str] = {}
    todo = [PROJECT]
    while todo:
        name = todo.pop()
        for text in metadata.requires(name) or []:
            req = Requirement(text)
            if req.marker and not req.marker.evaluate(dict(env, extra="")):
                continue
            key = canonicalize_name(req.name)
            if key not in found:
                try:
                    found[key] = metadata.version(req.name)
                except metadata.PackageNotFoundError:
                    sys.exit(f"homebrew: {req} ({platform}, {PYTHON}) is not installed here, "
                             "so its version is unknown: install it into this environment")
                todo.append(req.name)
    return found


def _sdist_name(url: str) -> tuple[str, str] | None:
    """(canonical name, version) of an sdist URL, or None."""
    file = url.split("#")[0].rsplit("/", 1)[-1]
    m = re.fullmatch(r"(.+)-([^-]+)\.tar\.gz", file)
    return (canonicalize_name(m.group(1)), m.group(2)) if m else None


def sdist_urls(pins: dict[str, str]) -> dict[str, str]:
    """{name: URL of the sdist of the pinned version}, from the links pip reports."""
    argv = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
            "--no-deps", "--only-binary", ":all:", "--disable-pip-version-check", "-vv",
            *(f"{name}=={version}" for name, version in sorted(pins.items()))]
    done = subprocess.run(argv, capture_output=True, text=True)
    out = done.stdout + done.stderr
    urls: dict[str, str] = {}
    for url in re.findall(r"(?:https?|file)://[^\s\"'<>]+?\.tar\.gz(?:#\S*)?", out):
        named = _sdist_name(url)
        if named and pins.get(named[0]) == named[1]:
            urls.setdefault(named[0], url.split("#")[0])
    missing = sorted(set(pins) - set(urls))
    if missing:
        sys.stderr.write(out[-3000:])
        sys.exit(f"homebrew: pip showed no sdist for {', '.join(missing)}")
    return urls


def fetch(url: str, cache: Path) -> str:
    """The sha256 of the file at `url`, downloaded once into `cache`."""
    path = cache / url.rsplit("/", 1)[-1]
    if not path.exists():
        tmp = path.with_suffix(".part")
        with urllib.request.urlopen(url, timeout=120) as answer, open(tmp, "wb") as out:
            while chunk := answer.read(1 << 20):
                out.write(chunk)
        os.replace(tmp, path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def resources(pins: dict[str, str], cache: Path) -> dict[str, tuple[str, str]]:
    """{name: (url, sha256)}, remembered in the cache by name==version."""
    cache.mkdir(parents=True, exist_ok=True)
    index_file = cache / "resources.json"
    known = json.loads(index_file.read_text()) if index_file.exists() else {}
    todo = {n: v for n, v in pins.items() if f"{n}=={v}" not in known}
    if todo:
        log(f"finding the sdists of {len(todo)} dependencies with pip")
        urls = sdist_urls(todo)
        with ThreadPoolExecutor(4) as pool:
            sums = dict(zip(urls, pool.map(lambda u: fetch(u, cache), urls.values())))
        for name, url in urls.items():
            known[f"{name}=={todo[name]}"] = [url, sums[name]]
        index_file.write_text(json.dumps(known, indent=1, sort_keys=True))
    return {n: tuple(known[f"{n}=={v}"]) for n, v in pins.items()}


def ruby_str(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid double-quoted Ruby string here


def resource_block(name: str, url: str, sha: str, indent: str = "  ") -> str:
    return (f"{indent}resource {ruby_str(name)} do\n{indent}  url {ruby_str(url)}\n"
            f"{indent}  sha256 {ruby_str(sha)}\n{indent}end\n")


def _has_cli_docs(sdist: Path) -> bool:
    """Whether the sdist carries packaging/cli_docs.py (the formula then makes the completions
    and the man page with it, from the command line it installed)."""
    with tarfile.open(sdist) as archive:
        return any(n.endswith("/packaging/cli_docs.py") for n in archive.getnames())


def formula(version: str, url: str, sha: str, summary: str, license_: str,
            common: dict[str, tuple[str, str]], only: dict[str, dict[str, tuple[str, str]]],
            docs: bool) -> str:
    lines = [
        "# Generated by packaging/homebrew/generate.py from a build: do not edit.",
        "class Credhelper < Formula",
        "  include Language::Python::Virtualenv",
        "",
        f"  desc {ruby_str(summary.rstrip('.'))}",
        f"  homepage {ruby_str(url.rsplit('/', 1)[0])}",
        f"  url {ruby_str(url)}",
        f"  sha256 {ruby_str(sha)}",
        f"  license {ruby_str(license_)}",
        f"  version {ruby_str(version)}",
        "",
        f"  depends_on {ruby_str(PYTHON)}",
        "",
    ]
    text = "\n".join(lines) + "\n"
    for name in sorted(common):
        text += resource_block(name, *common[name]) + "\n"
    for platform in ("linux", "macos"):
        if only.get(platform):
            text += f"  on_{platform} do\n"
            if "cryptography" in only[platform]:
                text += '    depends_on "rust" => :build # cryptography\n\n'
            text += "\n".join(resource_block(n, *only[platform][n], indent="    ")
                              for n in sorted(only[platform]))
            text += "  end\n\n"
    text += "  def install\n    virtualenv_install_with_resources\n"
    if docs:  # generated from the installed command line, as packaging/build does
        text += ('    system libexec/"bin/python", "packaging/cli_docs.py", buildpath/"cli-docs"\n'
                 '    bash_completion.install buildpath/"cli-docs/completions/credhelper.bash" '
                 '=> "credhelper"\n'
                 '    zsh_completion.install buildpath/"cli-docs/completions/_credhelper"\n'
                 '    fish_completion.install buildpath/"cli-docs/completions/credhelper.fish"\n'
                 '    man1.install buildpath/"cli-docs/man/credhelper.1"\n')
    text += "  end\n\n"
    text += (
        "  service do\n"
        '    run [opt_bin/"credhelper", "daemon"]\n'
        "    keep_alive true\n"
        '    log_path var/"log/credhelper.log"\n'
        '    error_log_path var/"log/credhelper.log"\n'
        "  end\n\n"
        "  test do\n"
        '    system bin/"credhelper", "--version"\n'
        '    assert_match version.to_s, shell_output("#{bin}/credhelper --version")\n'
        "  end\n"
        "end\n"
    )
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description="Generate the Homebrew formula from a build.")
    parser.add_argument("distdir", type=Path)
    parser.add_argument("--url-base", default=os.environ.get("CREDHELPER_RELEASE_URL"),
                        help="where the release's sdist is published (default: "
                        "CREDHELPER_RELEASE_URL, else file:// of DISTDIR)")
    parser.add_argument("--output", type=Path, help="default: DISTDIR/credhelper.rb")
    parser.add_argument("--cache", type=Path, help="default: DISTDIR/.homebrew-cache")
    args = parser.parse_args()
    dist = args.distdir.resolve()
    sdists = sorted(dist.glob(f"{PROJECT}-*.tar.gz"))
    if len(sdists) != 1:
        sys.exit(f"homebrew: want one {PROJECT}-VERSION.tar.gz in {dist}, found {len(sdists)}")
    sdist = sdists[0]
    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.count("/") == 1
                      and m.name.endswith("/PKG-INFO"))
        pkg_info = tar.extractfile(member).read().decode()  # type: ignore[union-attr]
    meta = dict(re.findall(r"^(Name|Version|Summary|License-Expression|License): (.*)$",
                           pkg_info, re.M))
    version = meta["Version"]
    installed = metadata.version(PROJECT)
    if installed != version:
        sys.exit(f"homebrew: the sdist is {version}, this environment has {PROJECT} "
                 f"{installed}: its dependency versions would not be the build's")
    base = (args.url_base or dist.as_uri()).rstrip("/")
    url = f"{base}/{sdist.name}"
    sha = hashlib.sha256(sdist.read_bytes()).hexdigest()
    per_platform = {p: closure(p) for p in PLATFORMS}
    pins = {n: v for deps in per_platform.values() for n, v in deps.items()}
    found = resources(pins, args.cache or dist / ".homebrew-cache")
    common = {n: found[n] for n in pins if all(n in d for d in per_platform.values())}
    only = {p: {n: found[n] for n in d if n not in common} for p, d in per_platform.items()}
    docs = _has_cli_docs(sdist)
    text = formula(version, url, sha, meta.get("Summary", PROJECT),
                   meta.get("License-Expression") or meta.get("License", ""), common, only, docs)
    out = args.output or dist / "credhelper.rb"
    out.write_text(text)
    print(f"{out}: credhelper {version}, {len(pins)} resources"
          f"{', completions and man page' if docs else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
