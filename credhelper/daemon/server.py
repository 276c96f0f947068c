"""The daemon's socket: peer check, framing limits, request validation, dispatch."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping, Protocol

from credhelper import __version__, protocol
from credhelper.daemon.environments import shown
from credhelper.errors import CallerOnly, CredhelperError
from credhelper.peercred import peer_uid

if TYPE_CHECKING:
    from credhelper.credentials import Credentials
    from credhelper.daemon.endpoint import Endpoint, Grant
    from credhelper.daemon.environments import Environment

log = logging.getLogger(__name__)

#: A key of a reply that is never sent: "encode this hit in the process_line layout".
_PROCESS_LINE = "_process_line"
#: A key of a reply that is never sent: the endpoint grant held until the client hangs up.
_HOLD = "_hold"

READ_TIMEOUT = 5.0
WRITE_TIMEOUT = 5.0
REPLY_MARGIN = 0.5


class Served(Protocol):
    """The environments a server answers for (environments.Environments)."""

    def get(self, context: Mapping[str, str]) -> Environment: ...

    def find(self, context: Mapping[str, str]) -> Environment | None: ...

    def all(self) -> list[Environment]: ...


class Server:
    def __init__(
        self,
        environments: Served,
        stop: Callable[[], None],
        socket_path: str,
        timeout: float = 30.0,
        endpoint: Endpoint | None = None,
    ) -> None:
        self.environments = environments
        self.endpoint = endpoint
        #: How long a caller that names no time of its own may wait.
        self.timeout = timeout
        self._stop = stop
        self.socket_path = socket_path
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {
            "get": self._get,
            "status": self._status,
            "ping": self._ping,
            "stop": self._stop_op,
            "forget": self._forget,
            "endpoint": self._endpoint,
        }

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            sock = writer.get_extra_info("socket")
            uid = peer_uid(sock) if sock is not None else None
            if uid is not None and uid != os.geteuid():
                log.warning("refused a connection from uid %d", uid)
                return
            reply, limit = await self._answer(reader)
            held: Grant | None = reply.pop(_HOLD, None)
            if held is not None:
                return await self._hold(held, reply, reader, writer)
            try:
                if reply.pop(_PROCESS_LINE, False) and reply.get("ok"):
                    data = protocol.encode_hit(reply["credentials"])
                else:
                    data = protocol.encode(reply, limit)
            except protocol.TooLarge as exc:  # never silence, never cut off: a short error
                data = protocol.encode(_error(_too_large(reply, exc, limit)))
            writer.write(data)
            await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)
        except (ConnectionError, asyncio.TimeoutError, OSError):
            pass
        except Exception:
            log.exception("error while serving a request")
        finally:
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[dict[str, Any], int]:
        """The reply, and the most bytes the client takes (its ``max_reply``)."""
        small = protocol.MAX_MESSAGE
        try:
            line = await asyncio.wait_for(reader.readline(), READ_TIMEOUT)
        except asyncio.TimeoutError:
            return _error("timed out reading the request"), small
        except (ValueError, asyncio.LimitOverrunError):
            return _error("request too large"), small
        if not line.endswith(b"\n"):
            return _error("truncated request"), small
        try:
            request = protocol.validate_request(protocol.decode(line))
        except protocol.ProtocolError as exc:
            # A client of another version may still resolve in-process: say why, let it.
            return {**_error(str(exc)), "fallback": True}, small
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:
            # input our checks did not foresee: still one short answer, never a hang-up
            return {**_error(f"malformed request ({type(exc).__name__})"), "fallback": True}, small
        return await self._handlers[request["op"]](request), request["max_reply"]

    async def _session(
        self, request: dict[str, Any], min_ttl: float | None
    ) -> tuple[Environment, Credentials]:
        """The caller's session, in the caller's own AWS environment (its files, endpoints,
        keyring), whatever ours is; answered a little before the caller gives up, so that it
        gets our reason."""
        env = self.environments.get(request["context"])
        timeout = request["timeout"] if request.get("timeout") is not None else self.timeout
        creds = await env.scheduler.get(
            request["profile"], min_ttl, max(0.0, timeout - REPLY_MARGIN)
        )
        return env, creds

    async def _get(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            _env, creds = await self._session(request, request["min_ttl"])
        except CredhelperError as exc:
            return _refused(exc, request["profile"])
        reply = {"v": protocol.PROTOCOL, "ok": True, "credentials": creds.process_output()}
        if request["process_line"]:
            reply[_PROCESS_LINE] = True
        return reply

    async def _endpoint(self, request: dict[str, Any]) -> dict[str, Any]:
        """A container-credentials endpoint for a profile (``credhelper exec``, ``serve``):
        its session fetched first (an error is the caller's now, not its command's later),
        then a grant, held while the connection stays open."""
        if self.endpoint is None:
            return _error("this daemon serves no endpoint")
        try:
            env, _creds = await self._session(request, None)
            grant = await self.endpoint.grant(
                env, request["profile"], request["bind"], request["port"]
            )
        except CredhelperError as exc:
            return _refused(exc, request["profile"])
        return {
            "v": protocol.PROTOCOL,
            "ok": True,
            "url": grant.url,
            "token": grant.token,
            _HOLD: grant,
        }

    async def _hold(
        self,
        grant: Grant,
        reply: dict[str, Any],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        """Send the grant, then keep it until the client hangs up (or the daemon stops)."""
        assert self.endpoint is not None
        try:
            writer.write(protocol.encode(reply))
            await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)
            while await reader.read(4096):
                pass  # nothing more is expected; EOF (or an error) ends the grant
        except (ConnectionError, asyncio.TimeoutError, OSError):
            pass
        finally:
            self.endpoint.revoke(grant)

    async def _status(self, request: dict[str, Any]) -> dict[str, Any]:
        """Every environment's profiles, each row naming its environment; ``yours``: the
        caller's environment (None: none serves it yet)."""
        envs = self.environments.all()
        home = envs[0] if envs else None
        yours = self.environments.find(request["context"])
        now = home.scheduler.clock.time() if home is not None else 0.0
        rows = [
            {**row, "environment": env.id} for env in envs for row in env.scheduler.status()
        ]
        return {
            "v": protocol.PROTOCOL,
            "ok": True,
            "daemon": {
                "pid": os.getpid(),
                "version": __version__,
                "socket": self.socket_path,
                "context": shown(home.context) if home is not None else {},
                "environments": [env.status(now) for env in envs],
                "yours": yours.id if yours is not None else None,
            },
            "profiles": rows,
            "clock_skew_seconds": _skew(),
        }

    async def _forget(self, request: dict[str, Any]) -> dict[str, Any]:
        """Drop sessions from memory (after ``credhelper clear`` / ``remove``): in the caller's
        environment, and wherever another environment holds the same session (the same
        cache key: the keyring entry the caller just deleted). A caller no environment
        serves yet: in every environment, to be safe (a fetch from the keyring at most)."""
        profile = request.get("profile")
        yours = self.environments.find(request["context"])
        envs = self.environments.all()
        dropped: list[str] = []
        if yours is None:
            for env in envs:
                names = [profile] if profile else list(env.scheduler.sessions)
                dropped += [n for n in names if env.scheduler.drop(n) is not None]
        else:
            names = [profile] if profile else list(yours.scheduler.sessions)
            keys = set()
            for name in names:
                session = yours.scheduler.drop(name)
                if session is not None:
                    dropped.append(name)
                    keys.add(session.key)
            for env in envs:
                if env is not yours:
                    for name, session in list(env.scheduler.sessions.items()):
                        if session.key and session.key in keys:
                            env.scheduler.drop(name)
                            dropped.append(name)
        return {"v": protocol.PROTOCOL, "ok": True, "dropped": sorted(set(dropped))}

    async def _ping(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"v": protocol.PROTOCOL, "ok": True, "pid": os.getpid(), "version": __version__}

    async def _stop_op(self, request: dict[str, Any]) -> dict[str, Any]:
        asyncio.get_running_loop().call_soon(self._stop)
        return {"v": protocol.PROTOCOL, "ok": True, "pid": os.getpid()}


def _skew() -> float | None:
    """STS's clock minus ours, as last seen (None before any STS call)."""
    from credhelper import sts

    return None if sts.observed_skew is None else round(sts.observed_skew, 1)


def _too_large(reply: dict[str, Any], exc: protocol.TooLarge, limit: int) -> str:
    """Why a reply was not sent: one line a person can act on, whichever client reads it."""
    what = "the reply"
    profiles = reply.get("profiles")
    if isinstance(profiles, list):
        what = f"the status of {len(profiles)} profiles"
    if limit == protocol.MAX_MESSAGE:  # a client that cannot take more (an older credhelper)
        return (
            f"{what} takes {exc.size} bytes, more than this client reads ({limit}); "
            "a newer credhelper shows it"
        )
    return f"{what} takes {exc.size} bytes, more than the {limit} bytes asked for"


def _refused(exc: CredhelperError, profile: str) -> dict[str, Any]:
    """A request the daemon did not settle: what only the caller can do, "fallback" (it
    resolves in-process); any other error, its line and exit code."""
    if isinstance(exc, CallerOnly):
        return {**_error(exc.line()), "fallback": True}
    exc.for_profile(profile)
    return {**_error(exc.line()), "exit_code": exc.exit_code}


def _error(message: str) -> dict[str, Any]:
    return {"v": protocol.PROTOCOL, "ok": False, "error": message}
