"""``credhelper add | remove | list | clear``: long-term keys and cached sessions in the keyring.

Keys live in the OS keyring only: ``add`` fails rather than write them anywhere else. Nothing
here prints a secret; key ids are shown abbreviated (``AKIA…WXYZ``). ``list`` and ``clear``
resolve profiles the way ``credhelper process`` does (so they find exactly its cache keys) but
never call STS and never prompt.

``credhelper list --json`` prints one object::

    {
      "keyring": {
        "service": str,            # CREDHELPER_KEYRING_SERVICE
        "backend": str | null,     # keyring backend class, when one loads
        "usable": bool,
        "problem": str | null      # why it is not usable
      },
      "profiles": [                # every profile of the AWS files and of the keyring, by name
        {
          "profile": str,
          "role": bool,            # has role_arn
          "role_arn": str | null,
          "source": str | null,    # where the chain's first credentials come from: "keyring",
                                   # "credentials_file", "config_file", "sso",
                                   # "credential_process", "credential_source", "none";
                                   # null when the profile does not resolve (see "error")
          "source_profile": str | null,      # the profile those credentials belong to
          "keyring_key_id": str | null,      # this profile's keys in the keyring, abbreviated
          "session_expiration": str | null,  # cached session answering for it (UTC, "Z")
          "session_seconds_left": int | null,  # negative once expired
          "mfa_session_expiration": str | null,
          "error": str | null      # why it does not resolve (a config mistake, a cycle, ...)
        }
      ]
    }
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping

from credhelper import ipc, present
from credhelper.credentials import Credentials, abbreviate, format_time
from credhelper.errors import CredhelperError
from credhelper.present import duration
from credhelper.profiles import FileKeys, source_origin
from credhelper.prompt import CodeRequest
from credhelper.providers.cache import CachedProvider
from credhelper.providers.source import KeyringKeysSource
from credhelper.settings import Settings
from credhelper.store import Stores, open_stores

log = logging.getLogger(__name__)

#: An IAM user's long-term key id (ASIA... ids are temporary: refused).
KEY_ID = re.compile(r"^AKIA[A-Z0-9]{12,124}$")
KEY_ID_HINT = "an IAM user's access key id is AKIA followed by 16 capital letters and digits"


# --- shared: the keyring, the daemon, cached hops ----------------------------------------------


def _store(settings: Settings) -> tuple[Stores, str | None]:
    """The stores, and why the keyring cannot be used (None when it can): probed here so that
    the commands can say it in one line of their own (and ``add`` refuses before asking)."""
    store = open_stores(settings)
    return store, store.entries.probe()


def _backend_name() -> str | None:
    try:
        import keyring

        backend = type(keyring.get_keyring())
    except Exception:
        return None
    return f"{backend.__module__}.{backend.__qualname__}"


def _never_ask(request: CodeRequest) -> str:
    """Nothing here fetches credentials, so nothing may prompt."""
    raise CredhelperError("an MFA code would be needed", profile=request.profile)


def _cached_hops(provider: Any) -> tuple[list[CachedProvider], Any]:
    """The cached sessions of a provider chain, top first, and the source at its bottom."""
    hops: list[CachedProvider] = []
    node = provider
    while True:
        if isinstance(node, CachedProvider):
            hops.append(node)
            node = node.inner
            continue
        source = getattr(node, "source", None)  # role and MFA sessions wrap a source
        if source is None or not hasattr(source, "fetch"):
            return hops, node
        node = source


def _all_profiles(store: Stores) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The files' profiles (merged by botocore) and every name known there or in the keyring."""
    from credhelper.profiles import load_profiles

    loaded = load_profiles()
    return loaded, sorted(set(loaded) | set(store.keys.profiles()))


def _resolve(profile: str, settings: Settings, store: Stores) -> Any:
    """``provider_for`` without network or prompt: only builds the chain (a ``Resolved``)."""
    from credhelper.resolver import provider_for

    return provider_for(profile, settings, _never_ask, stores=store)


def _sessions_of(
    names: Iterable[str], settings: Settings, store: Stores, keys_of: str | None = None
) -> tuple[list[str], list[str]]:
    """(profiles, cache keys of their cached hops) for those of ``names`` that resolve; with
    ``keys_of``, only chains whose source is that profile's keys in the keyring."""
    profiles: list[str] = []
    keys: list[str] = []
    for name in names:
        try:
            hops, source = _cached_hops(_resolve(name, settings, store).provider)
        except CredhelperError as exc:
            log.debug("profile %s: no sessions to look for (%s)", name, exc.message)
            continue
        if keys_of is not None and not (
            isinstance(source, KeyringKeysSource) and source.profile == keys_of
        ):
            continue
        profiles.append(name)
        keys.extend(hop.key for hop in hops if hop.key not in keys)
    return profiles, keys


def _drop_sessions(store: Stores, keys: Iterable[str]) -> int:
    """Delete sessions by cache key; how many held a readable session."""
    dropped = 0
    for key in keys:
        if store.sessions.get(key) is not None:
            dropped += 1
        store.sessions.delete(key)  # unreadable ones too
    return dropped


def _forget(profiles: Iterable[str] | None) -> list[str]:
    """Make a running daemon drop sessions from memory (``None``: all); what it dropped."""
    if profiles is None:
        messages: list[dict[str, Any]] = [{"op": "forget"}]
    else:
        messages = [{"op": "forget", "profile": p} for p in profiles]
    dropped: list[str] = []
    for message in messages:
        try:
            reply = ipc.call(message, timeout=5.0)
        except ipc.DaemonUnavailable:
            return dropped  # none running: nothing held in memory
        if not reply.get("ok"):
            log.warning("warning: the daemon did not forget: %s", reply.get("error"))
            continue
        dropped.extend(n for n in reply.get("dropped", []) if isinstance(n, str))
    return dropped


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _daemon_note(dropped: list[str]) -> str:
    if not dropped:
        return ""
    return "; the daemon forgot " + ", ".join(f"'{p}'" for p in sorted(set(dropped)))


# --- add ---------------------------------------------------------------------------------------


def _ask() -> tuple[str, str]:
    """The key id (echoed) and the secret (hidden), on the controlling terminal: botocore
    captures stdout and stderr, and stdin may be a pipe."""
    import getpass

    from credhelper import tty

    try:
        key_id = (tty.ask("AWS access key id: ") or "").strip()
    except tty.NoTerminal as exc:
        raise CredhelperError(
            f"no terminal to ask for the keys on ({exc})",
            "run it in a terminal, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY and pass "
            "--env",
        ) from None
    _check_key_id(key_id)  # before asking for the secret
    try:
        secret = getpass.getpass("AWS secret access key (hidden): ")
    except EOFError:
        secret = ""
    return key_id, secret


def _check_key_id(key_id: str) -> None:
    # Never echo what was typed: it may be the secret, pasted into the wrong prompt.
    if key_id.startswith("ASIA"):
        raise CredhelperError(
            f"{abbreviate(key_id)} is a temporary (session) key id",
            "credhelper add stores long-term keys (AKIA…) only",
        )
    if not KEY_ID.match(key_id):
        what = "no access key id given" if not key_id else "that is not an AWS access key id"
        raise CredhelperError(what, KEY_ID_HINT)


def _keys(from_env: bool) -> Credentials:
    if from_env:
        if os.environ.get("AWS_SESSION_TOKEN") or os.environ.get("AWS_SECURITY_TOKEN"):
            raise CredhelperError(
                "AWS_SESSION_TOKEN is set: those are temporary credentials",
                "credhelper add stores long-term keys (an IAM user's AKIA… key) only; unset "
                "AWS_SESSION_TOKEN",
            )
        key_id = os.environ.get("AWS_ACCESS_KEY_ID", "").strip()
        secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
        if not key_id:
            raise CredhelperError(
                "--env given but AWS_ACCESS_KEY_ID is not set",
                "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or leave out --env to be "
                "asked",
            )
        _check_key_id(key_id)
    else:
        key_id, secret = _ask()
    secret = secret.strip()
    if not secret:
        raise CredhelperError("no secret access key given", "nothing was stored; try again")
    if not secret.isprintable() or any(c.isspace() for c in secret):
        raise CredhelperError(
            "the secret access key contains spaces or control characters",
            "paste the 40-character secret exactly as AWS showed it",
        )
    return Credentials(access_key_id=key_id, secret_access_key=secret)


#: Better hints than sts.translate's (which speak of a role's source) when adding keys.
_ADD_HINTS = {
    "InvalidClientTokenId": "AWS does not know this key id (mistyped, deleted or deactivated)",
    "SignatureDoesNotMatch": "the secret does not belong to this key id; check it",
}


def _caller_arn(profile: str, keys: Credentials) -> str:
    """One sts:GetCallerIdentity signed with the keys: allowed to every valid key."""
    import botocore.exceptions

    from credhelper import sts

    try:
        try:
            client = sts.client(profile, keys, None)
        except botocore.exceptions.ProfileNotFound:
            # Keys kept only in the keyring need no profile in the files: default settings.
            client = sts.client(None, keys, None)
        return str(client.get_caller_identity()["Arn"])
    except Exception as exc:
        error = sts.translate(exc, "checking the keys with sts:GetCallerIdentity")
        if error is None:
            raise
        response = getattr(exc, "response", None)
        code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
        if code in _ADD_HINTS:
            hint = _ADD_HINTS[code]
        elif code:
            hint = error.hint or "see the message from AWS"
        else:  # not an answer from AWS: the network, the endpoint, TLS
            hint = f"{error.hint}, or store them unchecked with --no-validate"
        error.message = f"{error.message.rstrip('.')}; nothing was stored"
        error.hint = hint
        raise error from exc


def add(profile: str, from_env: bool = False, validate: bool = True) -> int:
    """Check the keys, then store them: they become the profile's source of credentials."""
    from credhelper.profiles import load_profiles

    settings = Settings.from_env()
    store, problem = _store(settings)
    if problem is not None:
        raise CredhelperError(
            f"the OS keyring is not usable ({problem}); nothing was stored",
            "unlock or install a keyring (gnome-keyring, KWallet, ...): credhelper never "
            "writes keys to a file",
        )
    values = load_profiles().get(profile, {})
    if values.get("role_arn"):
        source = values.get("source_profile")
        raise CredhelperError(
            "it is a role profile (role_arn): keys stored for it would never be used",
            f"store them for its source profile: credhelper add {source or 'SOURCE'}",
        )
    keys = _keys(from_env)
    who = _caller_arn(profile, keys) if validate else "not checked"

    old = store.keys.get(profile)
    replaced = old is not None and old.access_key_id != keys.access_key_id
    # Sessions made with the old keys would only linger: find them while the old keys decide
    # their cache keys, drop them once the new keys are in.
    stale: tuple[list[str], list[str]] = ([], [])
    if replaced:
        _, names = _all_profiles(store)
        stale = _sessions_of(names, settings, store, keys_of=profile)
    if not store.keys.put(profile, keys) or store.keys.get(profile) != keys:
        raise CredhelperError(
            f"the keyring ({_backend_name()}) did not keep the keys",
            "check that it is unlocked and writable",
        )
    line = f"stored keys {abbreviate(keys.access_key_id)} for profile '{profile}' ({who})"
    line += " in the keyring" + (" (unchanged)" if old == keys else "")
    if replaced and old is not None:
        daemon = _forget(stale[0])
        dropped = _drop_sessions(store, stale[1])
        line += f", replacing {abbreviate(old.access_key_id)}"
        line += f" ({_plural(dropped, 'cached session')} dropped{_daemon_note(daemon)})"
    print(line)
    return 0


# --- remove, clear -----------------------------------------------------------------------------


def remove(profile: str) -> int:
    """Delete the profile's keys, the sessions made from them and its own cached sessions."""
    settings = Settings.from_env()
    store, problem = _store(settings)
    if problem is not None:
        raise CredhelperError(
            f"the OS keyring is not usable ({problem}); nothing was removed",
            "unlock it and retry",
        )
    keys = store.keys.get(profile)
    indexed = profile in store.keys.profiles()
    names: list[str] = []
    sessions: list[str] = []
    try:
        _, own = _sessions_of([profile], settings, store)
        sessions.extend(own)
        names.append(profile)
        if keys is not None:
            _, everyone = _all_profiles(store)
            users, made = _sessions_of(everyone, settings, store, keys_of=profile)
            names.extend(users)
            sessions.extend(k for k in made if k not in sessions)
    except CredhelperError as exc:  # e.g. an unreadable config: the keys still go
        log.warning("warning: cached sessions not looked for: %s", exc.message)
    if keys is None and not indexed and not any(store.sessions.get(k) for k in sessions):
        raise CredhelperError(
            "the keyring holds no keys and no cached sessions for it",
            "see 'credhelper list'",
        )
    daemon = _forget(dict.fromkeys(names))  # first, so that it does not write them back
    dropped = _drop_sessions(store, sessions)
    if keys is not None or indexed:
        store.keys.delete(profile)
    what = f"keys {abbreviate(keys.access_key_id)} and " if keys is not None else ""
    if keys is None and indexed:
        what = "its unreadable keys and "
    print(
        f"removed {what}{_plural(dropped, 'cached session')} of profile '{profile}' "
        f"from the keyring{_daemon_note(daemon)}"
    )
    return 0


def clear(profile: str | None = None) -> int:
    """Drop cached sessions (every hop of one profile's chain, or every profile's); keys stay."""
    settings = Settings.from_env()
    store, problem = _store(settings)
    if problem is not None:  # nothing cached there; a daemon may still hold sessions
        names, sessions = [profile] if profile else [], []
    elif profile is not None:
        hops, _ = _cached_hops(_resolve(profile, settings, store).provider)
        names, sessions = [profile], [hop.key for hop in hops]
    else:
        _, everyone = _all_profiles(store)
        names, sessions = _sessions_of(everyone, settings, store)
    daemon = _forget(None if profile is None else names)
    whose = f"of profile '{profile}'" if profile else "of all profiles"
    if problem is not None:
        print(
            f"the OS keyring is not usable ({problem}): no cached sessions there"
            f"{_daemon_note(daemon)}"
        )
        return 0
    dropped = _drop_sessions(store, sessions)
    print(
        f"dropped {_plural(dropped, 'cached session')} {whose} from the keyring"
        f"{_daemon_note(daemon)}"
    )
    return 0


# --- list --------------------------------------------------------------------------------------


@dataclass
class Row:
    """One profile in ``credhelper list`` (the JSON fields are documented above)."""

    profile: str
    role: bool
    role_arn: str | None = None
    source: str | None = None
    source_profile: str | None = None
    keyring_key_id: str | None = None
    session_expiration: str | None = None
    session_seconds_left: int | None = None
    mfa_session_expiration: str | None = None
    error: str | None = None


def _row(
    name: str,
    loaded: Mapping[str, Mapping[str, Any]],
    with_keys: set[str],
    files: FileKeys,
    settings: Settings,
    store: Stores,
) -> Row:
    from credhelper import profiles
    from credhelper.profiles import KeyringKeys

    values = loaded.get(name, {})
    role_arn = values.get("role_arn") if isinstance(values.get("role_arn"), str) else None
    row = Row(profile=name, role=bool(role_arn), role_arn=role_arn)
    if name in with_keys:
        keys = store.keys.get(name)
        row.keyring_key_id = abbreviate(keys.access_key_id) if keys else "(unreadable)"
    try:
        chain = profiles.resolve(name, loaded, has_keys=with_keys.__contains__)
        source = chain.source
        row.source = source_origin(source, loaded.get(source.profile, {}), files)
        row.source_profile = source.profile
        if chain.roles or chain.mfa is not None or isinstance(source, KeyringKeys):
            resolved = _resolve(name, settings, store)
            if isinstance(resolved.provider, CachedProvider):
                session = store.sessions.get(resolved.key)
                if session is not None and session.expiration is not None:
                    row.session_expiration = format_time(session.expiration)
                    row.session_seconds_left = int(session.seconds_left())
            if resolved.mfa is not None:
                mfa = store.sessions.get(resolved.mfa.key)
                if mfa is not None and mfa.expiration is not None:
                    row.mfa_session_expiration = format_time(mfa.expiration)
    except CredhelperError as exc:
        row.error = exc.message
    return row


def _left(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    if seconds <= 0:
        return "expired"
    return duration(seconds)


def _table(rows: list[Row], keyring_line: str) -> str:
    header = ("PROFILE", "ROLE", "SOURCE", "FROM", "KEYRING KEYS", "SESSION UNTIL (UTC)", "LEFT")
    table = [header]
    notes = []
    for r in rows:
        until = (r.session_expiration or "-").replace("T", " ").rstrip("Z")
        table.append(
            (
                r.profile,
                "yes" if r.role else "-",
                (r.source or "error").replace("_", " "),
                r.source_profile or "-",
                r.keyring_key_id or "-",
                until,
                _left(r.session_seconds_left),
            )
        )
        if r.error:
            notes.append(f"{r.profile}: {r.error}")
        if r.mfa_session_expiration:
            notes.append(f"{r.profile}: MFA session until {r.mfa_session_expiration}")
    lines = present.table(table)
    if len(table) == 1:
        lines = ["no profiles in the AWS config or credentials file, and no keys in the keyring"]
    return "\n".join([*lines, *notes, keyring_line])


def list_profiles(as_json: bool = False) -> int:
    """Every profile, where its keys come from, and its cached session's expiry. No secret,
    no network call, no prompt."""
    from credhelper.profiles import load_profiles

    settings = Settings.from_env()
    store, problem = _store(settings)
    loaded = load_profiles()
    with_keys = set(store.keys.profiles())
    files = FileKeys.load()
    rows = [
        _row(name, loaded, with_keys, files, settings, store)
        for name in sorted(set(loaded) | with_keys)
    ]
    backend = _backend_name()
    if as_json:
        doc = {
            "keyring": {
                "service": settings.keyring_service,
                "backend": backend,
                "usable": problem is None,
                "problem": problem,
            },
            "profiles": [asdict(r) for r in rows],
        }
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        return 0
    if problem is None:
        keyring_line = f"keyring: service '{settings.keyring_service}' in {backend}"
    else:
        keyring_line = (
            f"keyring: not usable ({problem}); keys and sessions stored there cannot be shown"
        )
    sys.stdout.write(_table(rows, keyring_line) + "\n")
    return 0
