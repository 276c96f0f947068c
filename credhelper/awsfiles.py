"""One snapshot of the AWS config and credentials files, read once per command by botocore.

Why one: the chain, the STS client's region and endpoint, a source profile's credentials and
"where do the keys come from" all read the same parse, so a file saved mid-command cannot give
two answers, and a command reads each file once (``credhelper list`` over many profiles too).
The files are parsed by botocore's own loader and merged the way botocore merges them; the
botocore session handed out reads that snapshot instead of the files.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import botocore.configloader
import botocore.credentials
import botocore.exceptions
import botocore.session

from credhelper.errors import CredhelperError

log = logging.getLogger(__name__)

#: The clients a snapshot keeps for reuse (each costs ~10-30 ms of CPU to create).
CLIENTS_KEPT = 64
#: A profile's settings that are the role's or the credentials', never the client's: profiles
#: differing only by these share one client.
_NOT_CLIENT_SETTINGS = frozenset(
    {
        "role_arn",
        "role_session_name",
        "external_id",
        "duration_seconds",
        "source_profile",
        "credential_source",
        "credential_process",
        "mfa_serial",
        "mfa_process",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
    }
)


class _SnapshotSession(botocore.session.Session):  # type: ignore[misc]
    """A botocore session whose ``full_config`` is the snapshot, never the files again."""

    snapshot: dict[str, Any] = {"profiles": {}}

    @property
    def full_config(self) -> dict[str, Any]:
        return self.snapshot


def paths(env: Mapping[str, str] | None = None) -> tuple[Path, Path]:
    """(config file, credentials file), by botocore's rules (its variables, ``~`` expanded),
    without reading them: for the daemon's watcher and for ``credhelper wire``."""
    env = os.environ if env is None else env
    config = env.get("AWS_CONFIG_FILE") or "~/.aws/config"
    creds = env.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"
    return (
        Path(os.path.expanduser(config)).absolute(),
        Path(os.path.expanduser(creds)).absolute(),
    )


def _stamp(*files: str) -> tuple[Any, ...]:
    out: list[Any] = []
    for name in files:
        try:
            st = os.stat(os.path.expanduser(name))
        except OSError:
            out.append(None)
        else:
            out.append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(out)


def _with_keys(profiles: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(
        name for name, values in profiles.items() if isinstance(values, dict)
        and values.get("aws_access_key_id")
    )


@dataclass(frozen=True)
class AwsFiles:
    """The profiles of both files, merged, and the one botocore session built over them."""

    session: botocore.session.Session
    #: Every profile, config and credentials merged (credentials win), as botocore sees them.
    profiles: Mapping[str, Mapping[str, Any]]
    config_file: Path
    credentials_file: Path
    #: Profiles holding ``aws_access_key_id`` in each file: the merged view cannot tell which.
    keys_in_credentials_file: frozenset[str] = frozenset()
    keys_in_config_file: frozenset[str] = frozenset()
    #: Each file as parsed, for botocore's file providers (which would parse them again).
    config_parsed: Mapping[str, Any] = field(default_factory=dict, repr=False)
    credentials_parsed: Mapping[str, Any] = field(default_factory=dict, repr=False)
    #: Held while the session's profile is selected and used (reentrant: see _ProfileView).
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)
    #: Reusable clients: (service, client settings, credentials digest, ...) -> client.
    _clients: OrderedDict[str, Any] = field(default_factory=OrderedDict, repr=False, compare=False)
    #: Each file's (inode, size, mtime, ctime) when parsed: what :meth:`unchanged` compares.
    stamp: tuple[Any, ...] = field(default=(), compare=False)

    @classmethod
    def load(cls) -> AwsFiles:
        """Parse both files (CredhelperError if one cannot be parsed; a missing one is empty)."""
        session = _SnapshotSession()
        config_file = str(session.get_config_variable("config_file"))
        creds_file = str(session.get_config_variable("credentials_file"))
        stamp = _stamp(config_file, creds_file)  # before reading: an edit meanwhile shows
        log.debug("parsing the AWS files")
        try:
            try:
                config: dict[str, Any] = botocore.configloader.load_config(config_file)
            except botocore.exceptions.ConfigNotFound:
                config = {"profiles": {}}
            try:
                creds: dict[str, Any] = botocore.configloader.raw_config_parse(creds_file)
            except botocore.exceptions.ConfigNotFound:
                creds = {}
        except botocore.exceptions.ConfigParseError as exc:
            raise CredhelperError(
                f"cannot parse the AWS config: {exc}", "fix the file's syntax"
            ) from exc
        in_config = _with_keys(config.get("profiles", {}))
        merged = copy.deepcopy(config)
        profiles = merged.setdefault("profiles", {})
        for name, values in creds.items():  # as botocore's Session.full_config merges them
            if name in profiles:
                profiles[name].update(values)
            else:
                profiles[name] = values
        session.snapshot = merged
        return cls(
            session=session,
            profiles=profiles,
            config_file=Path(os.path.expanduser(config_file)).absolute(),
            credentials_file=Path(os.path.expanduser(creds_file)).absolute(),
            keys_in_credentials_file=_with_keys(creds),
            keys_in_config_file=in_config,
            config_parsed=config,
            credentials_parsed=creds,
            stamp=stamp,
        )

    def unchanged(self) -> bool:
        """Whether both files are as they were when parsed (two stat calls, no reading)."""
        return (
            bool(self.stamp)
            and _stamp(str(self.config_file), str(self.credentials_file)) == self.stamp
        )

    def values(self, profile: str) -> Mapping[str, Any]:
        return self.profiles.get(profile, {})

    def client(self, service: str, profile: str | None, **kwargs: Any) -> Any:
        """A client configured by ``profile``'s settings (region, endpoint_url, ca_bundle, ...)
        as the AWS CLI would, or by the defaults for a profile not in the files.

        Kept and handed out again for the same service, client settings of the profile, same
        credentials and the same other arguments (``config`` compared by its values): botocore
        clients are safe to share between threads, and this snapshot's files never change.
        """
        key = self._client_key(service, profile, kwargs)
        with self._lock:  # the session's profile is one setting: one client at a time
            cached = self._clients.get(key)
            if cached is not None:
                self._clients.move_to_end(key)
                return cached
            client = self._create_client(service, profile, kwargs)
            self._clients[key] = client
            while len(self._clients) > CLIENTS_KEPT:
                self._clients.popitem(last=False)
            return client

    def _client_key(self, service: str, profile: str | None, kwargs: Mapping[str, Any]) -> str:
        known = profile if profile in self.profiles else None
        settings = (
            {k: v for k, v in self.values(known).items() if k not in _NOT_CLIENT_SETTINGS}
            if known is not None
            else None
        )
        parts = []
        for name, value in sorted(kwargs.items()):
            if name == "config" and value is not None:  # a botocore Config: by its values
                value = sorted((o, repr(getattr(value, o))) for o in value.OPTION_DEFAULTS)
            parts.append((name, value))
        material = repr((service, known is None, sorted((settings or {}).items()), parts))
        return hashlib.sha256(material.encode()).hexdigest()

    def _create_client(self, service: str, profile: str | None, kwargs: dict[str, Any]) -> Any:
        """(Under the lock.)"""
        kwargs = dict(kwargs)
        self.session.set_config_variable("profile", profile if profile in self.profiles else None)
        region = kwargs.pop("fallback_region", None)
        log.debug("creating a %s client", service)
        return self.session.create_client(
            service,
            region_name=self.session.get_config_variable("region") or region,
            **kwargs,
        )

    def credential_resolver(self, profile: str | None) -> Any:
        """botocore's own provider chain for ``profile`` (keys, SSO, credential_process...),
        its file providers reading this snapshot rather than the files.

        Over a view of the one session with ``profile`` selected (:class:`_ProfileView`):
        the providers read the session's profile when they are built and again when they
        create clients later, meanwhile other threads select theirs."""
        resolver = botocore.credentials.create_credential_resolver(_ProfileView(self, profile))
        name = profile or "default"
        for i, provider in enumerate(resolver.providers):
            if provider.METHOD == botocore.credentials.SharedCredentialProvider.METHOD:
                resolver.providers[i] = botocore.credentials.SharedCredentialProvider(
                    str(self.credentials_file), name, ini_parser=lambda _: self.credentials_parsed
                )
            elif provider.METHOD == botocore.credentials.ConfigProvider.METHOD:
                resolver.providers[i] = botocore.credentials.ConfigProvider(
                    str(self.config_file), name, config_parser=lambda _: self.config_parsed
                )
        return resolver


class _ProfileView:
    """The snapshot's one botocore session as botocore's credential providers see it, with one
    profile selected: each call that depends on the selected profile selects it under the
    snapshot's lock. Neither a new session (one per snapshot, a parse each) nor the shared
    session's profile left set, which a provider creating its client later would read as
    whatever another thread selected last. botocore.credentials uses exactly the methods
    defined here; anything else is the session's own."""

    def __init__(self, files: AwsFiles, profile: str | None) -> None:
        self._files = files
        self._profile = profile

    def _selected(self, method: str, *args: Any, **kwargs: Any) -> Any:
        session = self._files.session
        with self._files._lock:
            session.set_config_variable("profile", self._profile)
            return getattr(session, method)(*args, **kwargs)

    def get_config_variable(self, *args: Any, **kwargs: Any) -> Any:
        return self._selected("get_config_variable", *args, **kwargs)

    def instance_variables(self) -> Any:
        return self._selected("instance_variables")

    def get_scoped_config(self) -> Any:
        return self._selected("get_scoped_config")

    def create_client(self, *args: Any, **kwargs: Any) -> Any:
        return self._selected("create_client", *args, **kwargs)

    @property
    def full_config(self) -> Any:
        return self._files.session.full_config

    def user_agent(self) -> Any:
        return self._files.session.user_agent()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._files.session, name)
