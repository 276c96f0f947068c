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
    """A botocore session whose ``full_config`` is the snapshot, never the files again, and
    whose environment variables are ``environ``'s rather than this process's: the daemon
    resolves each caller's profiles under that caller's variables (config and credentials
    paths, endpoint URLs, CA bundle, regional endpoints), in one process.

    botocore reads the environment through its config store and its endpoint-URL provider,
    both built from a ``ConfigChainFactory``/``ConfiguredEndpointProvider`` that take an
    ``environ``; the two methods below build them as botocore does, with ours."""

    snapshot: dict[str, Any] = {"profiles": {}}

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ
        super().__init__()

    @property
    def full_config(self) -> dict[str, Any]:
        return self.snapshot

    def _register_config_store(self) -> None:
        if self.environ is os.environ:
            return super()._register_config_store()  # type: ignore[no-any-return]
        from botocore import configprovider as cp

        chains = cp.ConfigChainFactory(session=self, environ=self.environ)

        def mapping(variables: Any) -> Any:
            return cp._create_config_chain_mapping(chains, variables)

        config = mapping(cp.BOTOCORE_DEFAUT_SESSION_VARIABLES)
        config["s3"] = cp.SectionConfigProvider("s3", self, mapping(cp.DEFAULT_S3_CONFIG_VARS))
        config["proxies_config"] = cp.SectionConfigProvider(
            "proxies_config", self, mapping(cp.DEFAULT_PROXIES_CONFIG_VARS)
        )
        self._components.register_component("config_store", cp.ConfigValueStore(mapping=config))

    def _add_configured_endpoint_provider(self, client_name: str, config_store: Any) -> None:
        if self.environ is os.environ:
            return super()._add_configured_endpoint_provider(  # type: ignore[no-any-return]
                client_name, config_store
            )
        from botocore.configprovider import ConfiguredEndpointProvider

        chain = ConfiguredEndpointProvider(
            full_config=self.full_config,
            scoped_config=self.get_scoped_config(),
            client_name=client_name,
            environ=self.environ,
        )
        config_store.set_config_provider(logical_name="endpoint_url", provider=chain)


def expand(path: str, env: Mapping[str, str] | None = None) -> Path:
    """``path`` absolute, ``~`` expanded with ``env``'s HOME (a caller's, in the daemon)."""
    env = os.environ if env is None else env
    home = env.get("HOME")
    if home and (path == "~" or path.startswith("~/")):
        path = home + path[1:]
    return Path(os.path.expanduser(path)).absolute()


def paths(env: Mapping[str, str] | None = None) -> tuple[Path, Path]:
    """(config file, credentials file), by botocore's rules (its variables, ``~`` expanded),
    without reading them: for the daemon's watcher and for ``credhelper wire``."""
    env = os.environ if env is None else env
    config = env.get("AWS_CONFIG_FILE") or "~/.aws/config"
    creds = env.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"
    return expand(config, env), expand(creds, env)


def _stamp(*files: str) -> tuple[Any, ...]:
    out: list[Any] = []
    for name in files:
        try:
            st = os.stat(name)
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
    #: The environment variables the files were found and are resolved under: this
    #: process's, or (in the daemon) a caller's.
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ, repr=False)
    #: The environment's AWS keys are the caller's alone (the daemon holds its key id, never
    #: its secret): ``credential_source = Environment`` is then resolved by the caller.
    caller_keys: bool = False

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, caller_keys: bool = False) -> AwsFiles:
        """Parse both files (CredhelperError if one cannot be parsed; a missing one is empty),
        found by ``environ``'s variables (this process's by default)."""
        environ = os.environ if environ is None else environ
        session = _SnapshotSession(environ)
        config_file = str(expand(str(session.get_config_variable("config_file")), environ))
        creds_file = str(expand(str(session.get_config_variable("credentials_file")), environ))
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
            config_file=Path(config_file),
            credentials_file=Path(creds_file),
            keys_in_credentials_file=_with_keys(creds),
            keys_in_config_file=in_config,
            config_parsed=config,
            credentials_parsed=creds,
            stamp=stamp,
            environ=environ,
            caller_keys=caller_keys,
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
            # (Those reading environment variables read the environment's, not ours.)
            if provider.METHOD == botocore.credentials.EnvProvider.METHOD:
                resolver.providers[i] = botocore.credentials.EnvProvider(environ=self.environ)
            elif provider.METHOD == botocore.credentials.ContainerProvider.METHOD:
                resolver.providers[i] = botocore.credentials.ContainerProvider(
                    environ=self.environ
                )
            elif provider.METHOD == botocore.credentials.SharedCredentialProvider.METHOD:
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
