"""``credhelper rotate PROFILE``: replace the long-term keys ``credhelper add`` stored for
PROFILE with a new access key of the same IAM user, as ``aws-vault rotate`` does.

The order is what keeps a working key stored whatever fails: create the new key with the old
one, check the new key works (waiting while it propagates), store it, delete the old key
with the new one, then drop the sessions made from the old key (keyring and daemon). A
failure before the new key is stored deletes the new key again (with the old one, which
still works); a failure after leaves the new key stored; either way one line says which key
the keyring holds and what, if anything, is left to clean up in IAM. No secret is shown.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import logging
from typing import Callable, Iterator, NoReturn, TypeVar

from credhelper import cached_sessions, deadline, iam
from credhelper.context import Context
from credhelper.credentials import Credentials, abbreviate
from credhelper.daemon import client as daemon
from credhelper.errors import CredhelperError
from credhelper.iam import IamError
from credhelper.present import forgotten_note, plural

log = logging.getLogger(__name__)

T = TypeVar("T")

#: How long a new key is waited for (never more than CREDHELPER_TIMEOUT): IAM keys take a
#: few seconds to work everywhere on AWS.
PROPAGATION_WAIT = 20.0


def _short(keys: Credentials) -> str:
    """The key id as it may be shown: ``AKIA…WXYZ``."""
    return abbreviate(keys.access_key_id)


def _within(seconds: float, call: Callable[[], T]) -> T:
    """``call()`` under a deadline of its own: each AWS call of a rotation is one call in
    CREDHELPER_TIMEOUT's sense."""
    with deadline.scope(deadline.Deadline(seconds)):
        return call()


def _stored_keys(profile: str, ctx: Context) -> Credentials:
    """The keys ``credhelper add`` stored for ``profile``; otherwise a CredhelperError that
    names the profile to rotate instead, when there is one."""
    keys = ctx.stores.keys.get(profile)
    if keys is not None:
        return keys
    values = ctx.files.values(profile)
    if values.get("role_arn") or values.get("source_profile"):
        source, origin = values.get("source_profile") or "", ""
        with contextlib.suppress(CredhelperError):
            chain = cached_sessions.chain_of(profile, ctx)
            source, origin = chain.source.profile or source, chain.keys_from()
        if origin == "keyring":
            hint = f"rotate the keys of its source profile: credhelper rotate {source}"
        else:
            hint = (
                f"rotate the keys of its source profile '{source or '?'}', which must be stored "
                f"in the keyring first (credhelper add {source or 'SOURCE'})"
            )
        raise CredhelperError("it is a role profile: it has no keys of its own", hint)
    if profile in ctx.files.keys_in_credentials_file | ctx.files.keys_in_config_file:
        hint = (
            f"store them with 'credhelper add {profile}' first: rotate works on the keys "
            "credhelper holds (those in the AWS files are then not used)"
        )
    else:
        hint = f"store them with 'credhelper add {profile}' first"
    raise CredhelperError("the keyring holds no keys for it; nothing was changed", hint)


@contextlib.contextmanager
def _alone(profile: str, ctx: Context) -> Iterator[None]:
    """One rotation of a profile's keys at a time (two would each make a key and delete the
    other's old one)."""
    import filelock

    from credhelper.paths import lock_dir

    name = hashlib.sha256(f"{ctx.settings.keyring_service}\0{profile}".encode()).hexdigest()
    lock = filelock.FileLock(str(lock_dir() / f"rotate-{name[:32]}.lock"), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise CredhelperError(
            "another 'credhelper rotate' of this profile is running; nothing was changed",
            "wait for it to finish",
        ) from None
    try:
        yield
    finally:
        lock.release()


def _create(profile: str, old: Credentials, arn: str, ctx: Context) -> Credentials:
    """The new key; a CredhelperError saying what (if anything) changed when IAM made none."""
    files, timeout = ctx.files, ctx.settings.timeout
    old_id = _short(old)
    try:
        return _within(timeout, lambda: iam.create_access_key(profile, old, files))
    except IamError as exc:
        if exc.code == iam.LIMIT_EXCEEDED:
            others = _other_keys(profile, old, ctx)
            listed = f" ({', '.join(f'{k} ({s})' for k, s in others)})" if others else ""
            raise CredhelperError(
                f"{arn} already has the 2 access keys IAM allows: {old_id} (stored here) and "
                f"another{listed}; nothing was changed",
                f"delete {' or '.join(k for k, _ in others) or 'the other key'} in IAM if nothing "
                "uses it, then retry",
            ) from exc
        if exc.code is None:  # no answer: IAM may have made the key all the same
            raise CredhelperError(
                f"{exc.message}; IAM may have created a key all the same",
                f"look at the access keys of {arn} in IAM and delete any but {old_id}, which "
                "the keyring still holds, unchanged",
            ) from exc
        raise CredhelperError(f"{exc.message}; nothing was changed", exc.hint) from exc


def _other_keys(profile: str, old: Credentials, ctx: Context) -> list[tuple[str, str]]:
    """(abbreviated id, status) of the user's keys but ``old`` (none when IAM does not say)."""
    try:
        keys = _within(ctx.settings.timeout, lambda: iam.list_access_keys(profile, old, ctx.files))
    except IamError as exc:
        log.debug("the user's keys not listed: %s", exc.message)
        return []
    return [
        (abbreviate(k.access_key_id), k.status.lower())
        for k in keys
        if k.access_key_id != old.access_key_id
    ]


def _delete(
    profile: str,
    key_id: str,
    signer: Credentials,
    ctx: Context,
    window: float,
    retry_on: Callable[[IamError], bool] = lambda exc: exc.code is None,
) -> str | None:
    """Delete the access key ``key_id``, signed with ``signer``, tried again on ``retry_on``
    errors for up to ``window`` seconds; why it failed, or None (a key already gone too)."""
    try:
        iam.once_propagated(
            lambda: iam.delete_access_key(profile, key_id, signer, ctx.files),
            window,
            retry_on=retry_on,
        )
    except IamError as exc:
        if exc.code == "NoSuchEntity":
            log.info("the key %s was already deleted", abbreviate(key_id))
            return None
        return exc.message
    return None


def _undo(profile: str, new: Credentials, old: Credentials, ctx: Context, why: str) -> NoReturn:
    """The new key could not be used: delete it (with the old key, which still works) and
    raise a CredhelperError saying ``why`` and that the old key stays."""
    new_id = _short(new)
    kept = f"the keyring still holds {_short(old)}, unchanged"
    failed = _delete(profile, new.access_key_id, old, ctx, ctx.settings.timeout)
    if failed is not None:
        raise CredhelperError(
            f"{why}; deleting the new key failed too ({failed}); {kept}",
            f"the new key {new_id} is still active: delete it in IAM",
        )
    raise CredhelperError(f"{why}; the new key {new_id} was deleted and {kept}", None)


def _check(profile: str, new: Credentials, old: Credentials, arn: str, ctx: Context) -> None:
    """The new key works and is the same user's, within the propagation wait; else undone."""
    window = min(PROPAGATION_WAIT, ctx.settings.timeout)
    try:
        who = iam.once_propagated(lambda: iam.caller_arn(profile, new, ctx.files), window)
    except IamError as exc:
        why = f"the new key {abbreviate(new.access_key_id)} did not work within {window:g} s"
        _undo(profile, new, old, ctx, f"{why} ({exc.message})")
    if who != arn:
        _undo(profile, new, old, ctx, f"the new key belongs to {who}, not to {arn}")


def _store(profile: str, new: Credentials, old: Credentials, ctx: Context) -> None:
    """The new key in the keyring, read back; else undone (or, when the keyring kept the new
    key after all, carried on)."""
    keys, entries = ctx.stores.keys, ctx.stores.entries
    with _unwarned():
        if keys.put(profile, new) and keys.get(profile) == new:
            return
        problem = entries.problem
        entries.probe()  # a failed write turns the keyring off for a while: look now
        held = keys.get(profile)
    if held == new:
        return
    backend = entries.backend_name() or "the OS keyring"
    why = f"the keyring ({backend}) did not take the new key"
    why += f" ({problem})" if problem else ""
    if held != old and not (keys.put(profile, old) and keys.get(profile) == old):
        # Neither secret can be kept: the old key, which the user may have elsewhere, stays.
        why += f", and holds no readable keys for the profile any more ({_short(old)} included)"
        failed = _delete(profile, new.access_key_id, old, ctx, ctx.settings.timeout)
        hint = (
            f"the old key {_short(old)} is still active in IAM: store its secret again with "
            f"'credhelper add {profile}' once the keyring works, or make a new key in IAM"
        )
        if failed is not None:
            why += f"; deleting the new key failed ({failed})"
            hint += f"; the new key {_short(new)} is still active too: delete it in IAM"
        raise CredhelperError(why, hint)
    _undo(profile, new, old, ctx, why)


@contextlib.contextmanager
def _unwarned() -> Iterator[None]:
    """Without the keyring's own warning that it failed: this command says so in its line."""
    entries_log = logging.getLogger("credhelper.store.entries")
    level = entries_log.level
    entries_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        entries_log.setLevel(level)


def _delete_old(profile: str, new: Credentials, old: Credentials, ctx: Context) -> str | None:
    """Delete the old key with the new one (tried again while the new key propagates to IAM);
    why it failed, or None."""
    window = min(PROPAGATION_WAIT, ctx.settings.timeout)
    return _delete(profile, old.access_key_id, new, ctx, window, iam.propagating)


def run(args: argparse.Namespace, ctx: Context) -> int:
    """Rotate, then say what the keyring holds now and what was dropped."""
    profile: str = args.profile
    stores = ctx.stores
    stores.require_keyring("nothing was changed", "unlock it and retry")
    files, timeout = ctx.files, ctx.settings.timeout
    with _alone(profile, ctx):
        old = _stored_keys(profile, ctx)  # under the lock: not a key another rotate deleted
        try:
            arn = _within(timeout, lambda: iam.caller_arn(profile, old, files))
        except IamError as exc:
            raise CredhelperError(
                f"the stored key {_short(old)} does not work: {exc.message}; nothing was changed",
                exc.hint,
            ) from exc
        # Sessions made with the old key: found while it still decides their cache keys.
        users, stale = cached_sessions.sessions_of(
            cached_sessions.all_profiles(ctx), ctx, keys_of=profile
        )
        new = _create(profile, old, arn, ctx)
        try:
            _check(profile, new, old, arn, ctx)
        except KeyboardInterrupt:  # during the wait for the new key: not left behind
            _undo(profile, new, old, ctx, "interrupted")
        _store(profile, new, old, ctx)
        failed = _delete_old(profile, new, old, ctx)
        forgotten = daemon.forget(dict.fromkeys([profile, *users]))  # first: not written back
        dropped = cached_sessions.drop(stores.sessions, stale)
    sessions = f"{plural(dropped, 'cached session')} dropped{forgotten_note(forgotten)}"
    new_id = abbreviate(new.access_key_id)
    if failed is not None:
        raise CredhelperError(
            f"the keyring now holds the new key {new_id} ({arn}; {sessions}), but deleting the "
            f"old key failed: {failed}",
            f"the old key {_short(old)} is still active: delete it in IAM",
        )
    print(
        f"rotated the keys of profile '{profile}' ({arn}): {new_id} stored in the keyring, "
        f"{_short(old)} deleted ({sessions})"
    )
    return 0
