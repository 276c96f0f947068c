"""Throwaway AWS config/credentials files and a hermetic environment for subprocesses.

Why: the product, the AWS CLIs and boto3 all read ~/.aws and AWS_* variables. A test must
see only the files it wrote, only the moto endpoint, and its own keyring service name, so
tests neither read the developer's real AWS setup nor share cached sessions.
"""

from __future__ import annotations

import configparser
import io
import os
import re
import shutil
import subprocess
import sysconfig
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from .moto_stack import REGION, Creds

__all__ = ["KEPT_VARS", "AwsEnv", "make_aws_env", "unique_keyring_service"]

#: Variables inherited from the test process; everything else (all AWS_*) is dropped.
KEPT_VARS = (
    "DBUS_SESSION_BUS_ADDRESS",
    "XDG_DATA_HOME",
    "PYTHON_KEYRING_BACKEND",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "USER",
    "LOGNAME",
    "SYSTEMROOT",
)


def unique_keyring_service(hint: str = "") -> str:
    """A keyring service name no other test uses (readable hint + random suffix)."""
    hint = re.sub(r"[^A-Za-z0-9_.-]+", "-", hint).strip("-")[:40]
    return f"credhelper-test-{hint + '-' if hint else ''}{uuid.uuid4().hex[:10]}"


#: The tutorial's role profile (``add_seed``).
SEED_ROLE = "s3fullaccess-user1-role"
#: The profile ``credhelper wire`` adds for it in the e2e fixture ``seed_env``.
SEED_WIRED = "s3fullaccess-user1"


@dataclass
class AwsEnv:
    """One test's private AWS world: files under `root`, `env` for subprocesses."""

    root: Path
    home: Path
    config_file: Path
    credentials_file: Path
    runtime_dir: Path
    endpoint_url: str
    keyring_service: str
    env: dict[str, str] = field(default_factory=dict)

    # -- files -----------------------------------------------------------------------

    def write_config(self, text: str) -> None:
        """Replace the whole AWS config file."""
        self.config_file.write_text(text)

    def write_credentials(self, text: str) -> None:
        """Replace the whole AWS shared-credentials file."""
        self.credentials_file.write_text(text)

    def add_profile(self, name: str, **settings: Any) -> None:
        """Add or replace `[profile NAME]` (or `[default]`) in the config file."""
        section = "default" if name == "default" else f"profile {name}"
        _set_section(self.config_file, section, settings)

    def add_credentials(self, name: str, creds: Creds, **settings: Any) -> None:
        """Add or replace `[NAME]` with static keys in the credentials file."""
        values: dict[str, Any] = {
            "aws_access_key_id": creds.access_key_id,
            "aws_secret_access_key": creds.secret_access_key,
        }
        if creds.session_token:
            values["aws_session_token"] = creds.session_token
        values.update(settings)
        _set_section(self.credentials_file, name, values)

    def add_seed(self, user_creds: Creds, role_arn: str) -> None:
        """The tutorial's profiles: ``account1`` (user1's keys, us-east-1) and the role
        profile :data:`SEED_ROLE` assumed from it."""
        self.add_credentials("account1", user_creds)
        self.add_profile("account1", region="us-east-1")
        self.add_profile(SEED_ROLE, role_arn=role_arn, source_profile="account1")

    def setting(self, profile: str, key: str) -> str:
        """A value of `[profile NAME]` in the config file, as written."""
        parser = configparser.RawConfigParser()
        parser.read(self.config_file)
        section = "default" if profile == "default" else f"profile {profile}"
        return parser[section][key]

    # -- running things --------------------------------------------------------------

    def env_with(self, **overrides: str | None) -> dict[str, str]:
        """A copy of `env` with overrides applied (None removes a variable)."""
        out = dict(self.env)
        for key, value in overrides.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = value
        return out

    def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = 60,
        check: bool = False,
        **kwargs: Any,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in this environment, capturing text output (cwd = root)."""
        return subprocess.run(
            list(argv),
            env=dict(env if env is not None else self.env),
            cwd=kwargs.pop("cwd", self.root),
            stdin=kwargs.pop("stdin", subprocess.DEVNULL),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
            **kwargs,
        )

    def apply(self, monkeypatch: Any) -> None:
        """Make this environment the test process's own (for in-process boto3/product)."""
        for key in list(os.environ):
            if key not in self.env:
                monkeypatch.delenv(key, raising=False)
        for key, value in self.env.items():
            monkeypatch.setenv(key, value)

    def stop_daemon(self) -> None:
        """Stop a credhelper daemon this environment started (its socket is per test)."""
        if (self.runtime_dir / "credhelper" / "daemon.sock").exists():
            self.run(["credhelper", "daemon", "stop"], timeout=30)

    def close(self) -> None:
        """Stop the test's daemon, remove the short runtime dir (outside `root`)."""
        self.stop_daemon()
        shutil.rmtree(self.runtime_dir, ignore_errors=True)


def make_aws_env(
    root: Path,
    endpoint_url: str,
    keyring_service: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> AwsEnv:
    """Create empty AWS files under `root` and the environment that points at them.

    XDG_RUNTIME_DIR gets a fresh short directory (outside `root`, whose path may be too long
    for a Unix socket) so a per-user daemon socket is per test too; call close() after.
    """
    root = Path(root)
    home = root / "home"
    aws_dir = home / ".aws"
    aws_dir.mkdir(parents=True, exist_ok=True)
    config_file = aws_dir / "config"
    credentials_file = aws_dir / "credentials"
    config_file.touch()
    credentials_file.touch()
    runtime_dir = Path(tempfile.mkdtemp(prefix="chrt-"))
    os.chmod(runtime_dir, 0o700)
    service = keyring_service or unique_keyring_service()

    env = {k: os.environ[k] for k in KEPT_VARS if k in os.environ}
    scripts = sysconfig.get_path("scripts")
    path = [p for p in os.environ.get("PATH", os.defpath).split(os.pathsep) if p != scripts]
    env.update(
        {
            "PATH": os.pathsep.join([scripts, *path]),
            "HOME": str(home),
            "AWS_CONFIG_FILE": str(config_file),
            "AWS_SHARED_CREDENTIALS_FILE": str(credentials_file),
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_PAGER": "",
            "AWS_EC2_METADATA_DISABLED": "true",  # no 1-2 s IMDS probes when creds are missing
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "XDG_RUNTIME_DIR": str(runtime_dir),
            "CREDHELPER_KEYRING_SERVICE": service,
        }
    )
    if extra:
        env.update(extra)
    return AwsEnv(
        root=root,
        home=home,
        config_file=config_file,
        credentials_file=credentials_file,
        runtime_dir=runtime_dir,
        endpoint_url=endpoint_url,
        keyring_service=service,
        env=env,
    )


def _set_section(path: Path, section: str, values: Mapping[str, Any]) -> None:
    """Rewrite one INI section, keeping the others (configparser, no interpolation)."""
    parser = configparser.RawConfigParser()
    parser.read(path)
    if parser.has_section(section):
        parser.remove_section(section)
    parser.add_section(section)
    for key, value in values.items():
        parser.set(section, key, str(value))
    buf = io.StringIO()
    parser.write(buf)
    path.write_text(buf.getvalue())
