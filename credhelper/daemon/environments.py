"""The AWS environments the daemon serves: one per distinct environment its callers have.

What a profile resolves to depends on the caller's variables (``protocol.CONTEXT_VARS``: the
config and credentials paths, endpoint URLs, CA bundle, regional endpoints, keyring service),
and a daemon started by a service manager has none of the shell's. So each request carries
its caller's values, and the daemon keeps, per distinct set, one :class:`Environment`: one
snapshot of its files, one scheduler of its sessions, a watcher on its files, its MFA
warnings. A caller with other variables is answered at hit speed from its second call on,
never by a session resolved under someone else's files.

The daemon's own environment (``home``, id 1) always stays, and is the only one whose
profiles are reloaded after a restart (its index in the keyring). The others are made on a
caller's first request, at most :data:`MAX_ENVIRONMENTS` at once (the least recently asked
is dropped for a new one), and dropped once they have held no session for the idle timeout.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from credhelper import protocol
from credhelper.context import Context
from credhelper.credentials import abbreviate
from credhelper.daemon.fetching import Fetching
from credhelper.daemon.mfa_warnings import MfaWarnings
from credhelper.daemon.persistence import Persistence
from credhelper.daemon.reconcile import Reconciler
from credhelper.daemon.scheduler import Scheduler
from credhelper.daemon.watcher import ConfigWatcher

log = logging.getLogger(__name__)

#: Environments served at once, the daemon's own included (each holds a parse of its files,
#: its clients and a watcher: a few MB).
MAX_ENVIRONMENTS = 8
#: How often idle environments are looked for, seconds (at most: the idle timeout if shorter).
SWEEP_EVERY = 60.0
#: The variables that hold AWS keys: a caller's are never sent to the daemon, only its key id
#: (which keeps sessions of different keys apart).
KEY_VARS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
)


def environ_for(
    context: Mapping[str, str], own: Mapping[str, str] | None = None
) -> tuple[Mapping[str, str], bool]:
    """The environment a caller's ``context`` stands for: the daemon's own variables, with
    the caller's values in place of every context variable (set or not); and whether the
    caller's AWS keys are its own alone (another key id than the daemon's: their secret
    stays with the caller)."""
    own = os.environ if own is None else own
    if dict(context) == protocol.context(own):
        return own, False
    env = {
        k: v for k, v in own.items() if k not in protocol.CONTEXT_VARS and k not in KEY_VARS
    }
    env.update(context)
    key_id = context.get("AWS_ACCESS_KEY_ID")
    if key_id and key_id == own.get("AWS_ACCESS_KEY_ID"):
        env.update({k: own[k] for k in KEY_VARS if own.get(k)})
        return env, False
    return env, bool(key_id)


def shown(context: Mapping[str, str]) -> dict[str, str]:
    """A context as status and the log show it: the key id abbreviated."""
    return {k: abbreviate(v) if k == "AWS_ACCESS_KEY_ID" else v for k, v in context.items()}


def _key(context: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(context.items()))


@dataclass
class Environment:
    """One environment served: its parts, started and stopped together."""

    id: int
    context: dict[str, str]
    ctx: Context
    fetching: Fetching
    scheduler: Scheduler
    reconciler: Reconciler
    mfa_warnings: MfaWarnings
    watcher: ConfigWatcher | None = None
    #: The daemon's own environment only: the index of profiles reloaded after a restart.
    persistence: Persistence | None = None
    last_used: float = 0.0
    #: Endpoint grants (``credhelper exec``/``serve``) open on it: it is in use meanwhile.
    grants: int = 0
    _tasks: list[asyncio.Future[Any]] = field(default_factory=list, repr=False)

    @property
    def home(self) -> bool:
        return self.persistence is not None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.reconciler.start()
        files = self.fetching.paths()
        self.watcher = ConfigWatcher(loop, self.reconciler.on_change, files=files)
        self.watcher.start()
        self._tasks.append(asyncio.ensure_future(self.mfa_warnings.run()))
        if self.persistence is not None:
            self._tasks.append(asyncio.ensure_future(self.persistence.run()))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self.watcher is not None:
            self.watcher.stop()
        self.reconciler.stop()
        await self.scheduler.close()

    def idle_for(self, now: float) -> float:
        """How long it has held no session and been asked nothing (0: it is in use)."""
        if self.scheduler.sessions or self.grants:
            return 0.0
        return max(0.0, now - self.last_used)

    def status(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "home": self.home,
            "context": shown(self.context),
            "config_file": str(self.fetching.paths()[0]),
            "profiles": len(self.scheduler.sessions),
            "idle_seconds": round(now - self.last_used),
        }


class Environments:
    """The environments served, by their callers' context; the daemon's own first."""

    def __init__(self, ctx: Context, limit: int = MAX_ENVIRONMENTS) -> None:
        self.ctx = ctx
        self.clock = ctx.clock
        self.limit = max(1, limit)
        self._next_id = 1
        self._by_key: dict[tuple[tuple[str, str], ...], Environment] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sweeper: asyncio.Future[Any] | None = None
        self._closing: set[asyncio.Future[Any]] = set()
        self.home = self._build(protocol.context(), home=True)

    def _build(self, context: dict[str, str], home: bool = False) -> Environment:
        settings = self.ctx.settings
        environ, caller_keys = environ_for(context)
        service = context.get("CREDHELPER_KEYRING_SERVICE") or settings.keyring_service
        if home or service == settings.keyring_service:
            ctx = self.ctx  # the same keyring: the same stores
        else:
            ctx = dataclasses.replace(
                self.ctx, settings=settings.replace(keyring_service=service), _stores=None
            )
        ctx = dataclasses.replace(ctx, _files=None)
        fetching = Fetching(ctx, environ, caller_keys)
        persistence: Persistence | None = None

        def changed() -> None:
            if persistence is not None:
                persistence.sessions_changed()

        scheduler = Scheduler(
            fetching.fetch,
            settings.min_ttl,
            settings.idle_timeout,
            changed,
            fetch_timeout=settings.timeout,
            clock=ctx.clock,
        )
        if home:
            persistence = Persistence(
                scheduler,
                ctx.stores.daemon_index,
                fetching.kept,
                settings.min_ttl,
                ctx.clock,
                keep=fetching.keep,
            )
        env = Environment(
            id=self._next_id,
            context=dict(context),
            ctx=ctx,
            fetching=fetching,
            scheduler=scheduler,
            reconciler=Reconciler(scheduler, fetching, files=lambda: list(fetching.paths())),
            mfa_warnings=MfaWarnings(scheduler, settings.mfa_warn_before, ctx.clock),
            persistence=persistence,
            last_used=self.clock.time(),
        )
        self._next_id += 1
        self._by_key[_key(context)] = env
        return env

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.home.start(loop)
        self._sweeper = asyncio.ensure_future(self._sweep_loop())

    def all(self) -> list[Environment]:
        return sorted(self._by_key.values(), key=lambda e: e.id)

    def find(self, context: Mapping[str, str]) -> Environment | None:
        return self._by_key.get(_key(context))

    def get(self, context: Mapping[str, str]) -> Environment:
        """The environment serving ``context``: the one held, or a new one (started)."""
        env = self._by_key.get(_key(context))
        if env is None:
            spare = [e for e in self._by_key.values() if not e.home and not e.grants]
            if len(self._by_key) >= self.limit and spare:  # (all granted: over the limit)
                self._drop(min(spare, key=lambda e: e.last_used), "to make room for another")
            env = self._build(dict(context))
            log.info(
                "serving environment %d: %s",
                env.id,
                ", ".join(f"{k}={v}" for k, v in sorted(shown(env.context).items())) or "(none)",
            )
            assert self._loop is not None, "not started"
            env.start(self._loop)
        env.last_used = self.clock.time()
        return env

    def _drop(self, env: Environment, why: str) -> None:
        self._by_key.pop(_key(env.context), None)
        log.info(
            "environment %d dropped %s (%d sessions held)", env.id, why, len(env.scheduler.sessions)
        )
        task = asyncio.ensure_future(env.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def sweep(self) -> int:
        """Drop the environments idle for the idle timeout (never the home); how many."""
        now = self.clock.time()
        idle = [
            e for e in self._by_key.values()
            if not e.home and e.idle_for(now) > self.ctx.settings.idle_timeout
        ]
        for env in idle:
            self._drop(env, f"after {env.idle_for(now):.0f} s idle")
        return len(idle)

    async def _sweep_loop(self) -> None:
        every = min(SWEEP_EVERY, self.ctx.settings.idle_timeout)
        never = asyncio.Event()
        while True:
            await self.clock.wait(never, every)
            self.sweep()

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        envs = self.all()
        self._by_key.clear()
        await asyncio.gather(*(e.close() for e in envs), *self._closing)
