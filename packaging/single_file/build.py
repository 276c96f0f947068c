"""Build credhelper as a single file: ``packaging/single_file/build OUTDIR [--kind ...]``.

Kinds (``--kind``, repeatable; default ``zipapp``, the one shipped):

zipapp       OUTDIR/credhelper.pyz: a zipapp of a ``__main__`` (zipapp_main.py) and one
             member, ``payload.zip``, holding credhelper's wheel installed with its
             dependencies (``pip install --target``). It needs a Python on the target, of the
             build's minor version and platform (cffi and cryptography are compiled). The
             first run unpacks the payload into ``~/.cache/credhelper/pyz/BUILD_ID``; every run
             after imports from there. Shebang: ``--shebang`` (default
             ``/usr/bin/env -S python3 -I -S``).
shiv         OUTDIR/credhelper-shiv.pyz: the same with shiv (its bootstrap, its ``~/.shiv``).
pyinstaller  OUTDIR/credhelper: a PyInstaller onefile executable (its own Python inside; it
             unpacks itself into a temporary folder on every start).

Everything is built from a copy of the checkout (the wheel with ``pip wheel --no-deps``), so
the build leaves nothing behind; dependencies come from the package index pip is configured
with (or its cache). Prints each artifact with its size.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import py_compile
import shlex
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
DEFAULT_SHEBANG = "/usr/bin/env -S python3 -I -S"
#: A fixed timestamp for zip members (SOURCE_DATE_EPOCH's idea): same inputs, same bytes.
EPOCH = (1980, 1, 1, 0, 0, 0)


def log(msg: str) -> None:
    print(f"[single_file] {msg}", file=sys.stderr, flush=True)


def run(argv: list[str], **kwargs) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        sys.exit(f"single_file: failed ({done.returncode}): {shlex.join(argv)}")


def build_wheel(work: Path) -> Path:
    src = work / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "node_modules", "*.egg-info", "build", "dist", "__pycache__",
        ".*_cache", ".hypothesis"))
    log("building the wheel (pip wheel --no-deps)")
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--disable-pip-version-check",
         "-w", str(work / "wheel"), str(src)])
    return next((work / "wheel").glob("credhelper-*.whl"))


def install_target(wheel: Path, work: Path) -> Path:
    """The wheel and its dependencies, as a site-packages folder (no scripts, no bytecode)."""
    site = work / "site"
    log("installing it with its dependencies into a folder (pip install --target)")
    run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "--no-compile", "--target", str(site), str(wheel)])
    shutil.rmtree(site / "bin", ignore_errors=True)  # scripts naming the build's python
    return site


def _zip_write(zf: zipfile.ZipFile, name: str, data: bytes, mode: int = 0o644,
               compress: int = zipfile.ZIP_DEFLATED) -> None:
    info = zipfile.ZipInfo(name, EPOCH)
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = compress
    zf.writestr(info, data)


def build_zipapp(site: Path, out: Path, shebang: str) -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compresslevel=9) as payload:
        for path in sorted(p for p in site.rglob("*") if p.is_file()):
            if "__pycache__" in path.parts:
                continue
            mode = path.stat().st_mode & 0o777
            _zip_write(payload, path.relative_to(site).as_posix(), path.read_bytes(), mode)
    data = buf.getvalue()
    build_id = hashlib.sha256(data).hexdigest()[:16]
    main = (HERE / "zipapp_main.py").read_text().replace("@BUILD_ID@", build_id)
    target = out / "credhelper.pyz"
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "__main__.py"
        source.write_text(main)
        # Bytecode of __main__ for this Python (zipimport takes a .pyc beside the .py; another
        # Python compiles the source instead).
        compiled = py_compile.compile(
            str(source), cfile=str(Path(tmp) / "__main__.pyc"), dfile="__main__.py", doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        app = io.BytesIO()
        with zipfile.ZipFile(app, "w") as zf:
            _zip_write(zf, "__main__.py", main.encode())
            _zip_write(zf, "__main__.pyc", Path(compiled).read_bytes())
            _zip_write(zf, "payload.zip", data, compress=zipfile.ZIP_STORED)
    tmp_target = target.with_suffix(".pyz.tmp")
    tmp_target.write_bytes(f"#!{shebang}\n".encode() + app.getvalue())
    tmp_target.chmod(0o755)
    os.replace(tmp_target, target)
    return target


def build_shiv(wheel: Path, out: Path, shebang: str) -> Path:
    target = out / "credhelper-shiv.pyz"
    log("building the shiv zipapp")
    run([sys.executable, "-m", "shiv", "-q", "-c", "credhelper", "-o", str(target), "-p",
         shebang, "--reproducible", "--compressed", str(wheel)])
    return target


def build_pyinstaller(site: Path, work: Path, out: Path) -> Path:
    log("building the PyInstaller onefile executable")
    entry = work / "credhelper_entry.py"
    entry.write_text("import sys\n\nfrom credhelper.cli import main\n\nsys.exit(main())\n")
    pyi = work / "pyinstaller"
    run([sys.executable, "-m", "PyInstaller", "--onefile", "--name", "credhelper",
         "--noconfirm", "--clean", "--log-level", "WARN",
         "--distpath", str(pyi / "dist"), "--workpath", str(pyi / "build"),
         "--specpath", str(pyi), "--paths", str(site),
         # imported by name at run time, not by an import statement PyInstaller can see
         "--collect-submodules", "credhelper", "--collect-data", "credhelper",
         "--collect-submodules", "keyring", "--copy-metadata", "keyring",
         "--collect-data", "botocore", "--collect-data", "boto3",
         "--collect-submodules", "watchdog",
         # else its runtime hook imports pkg_resources (from the build's setuptools) on
         # every start: a hit must import the standard library and credhelper only
         "--exclude-module", "pkg_resources",
         str(entry)], cwd=work)
    target = out / "credhelper"
    shutil.copy2(pyi / "dist" / "credhelper", target)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description="Build credhelper as a single file.")
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--kind", action="append", choices=["zipapp", "shiv", "pyinstaller"],
                        help="what to build (repeatable; default: zipapp)")
    parser.add_argument("--shebang", default=DEFAULT_SHEBANG,
                        help="the zipapps' interpreter line, after #! (default: %(default)s)")
    parser.add_argument("--work", type=Path,
                        help="an empty build folder to use and keep (default: a temporary one)")
    args = parser.parse_args()
    kinds = args.kind or ["zipapp"]
    args.outdir.mkdir(parents=True, exist_ok=True)
    out = args.outdir.resolve()
    work = args.work.resolve() if args.work else Path(tempfile.mkdtemp(prefix="credhelper-1f-"))
    work.mkdir(parents=True, exist_ok=True)
    if any(work.iterdir()):
        sys.exit(f"single_file: the build folder is not empty: {work}")
    try:
        # A wheel built beforehand (packaging/build's, the tests' session one), as
        # packaging/debian/build takes it; else one built from this checkout.
        given = os.environ.get("CREDHELPER_WHEEL")
        wheel = Path(given).resolve() if given else build_wheel(work)
        built = []
        if "zipapp" in kinds or "pyinstaller" in kinds:
            site = install_target(wheel, work)
        if "zipapp" in kinds:
            built.append(build_zipapp(site, out, args.shebang))
        if "shiv" in kinds:
            built.append(build_shiv(wheel, out, args.shebang))
        if "pyinstaller" in kinds:
            built.append(build_pyinstaller(site, work, out))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    for path in built:
        print(f"{path.stat().st_size / 1e6:8.1f} MB  {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
