"""The container-credentials endpoint: sessions over HTTP for ``credhelper exec`` (its
command and everything that command starts) and ``credhelper serve`` (containers, programs
that cannot run a credential process).

Every AWS SDK reads ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` and sends
``AWS_CONTAINER_AUTHORIZATION_TOKEN`` as the ``Authorization`` header, and asks again before
what it got expires. Served by the daemon, the sessions are the ones it renews: a command run
by ``exec`` may run for days and never hold an expired one.

A grant is one token for one profile in one environment, made on a request over the daemon's
socket (same uid) and revoked when that connection closes: the ``exec`` or ``serve`` process
ended, even by kill -9. Each listener (127.0.0.1 on a port of the system's choosing unless
``serve`` named others) closes with its last grant. A request without a grant's token gets
401 and nothing else; tokens are compared in constant time and never logged.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from credhelper.credentials import format_time
from credhelper.errors import CredhelperError

if TYPE_CHECKING:
    from credhelper.daemon.environments import Environment

log = logging.getLogger(__name__)

#: The one path served (any other: 404).
PATH = "/credhelper/credentials"
#: The most of a request read (request line and headers); SDKs send a few hundred bytes.
MAX_REQUEST = 8192
READ_TIMEOUT = 5.0
#: Answer a little before the SDK gives up (botocore waits 1 s by default, then retries).
REPLY_MARGIN = 0.5
#: While a renewal is slow and the session held still valid, how long a request waits for
#: the renewal before it is served the one held: well under the SDKs' own limit on an
#: endpoint request (botocore 2 s an attempt, the JavaScript SDK 1 s), or they give up.
HELD_GRACE = 0.5


@dataclass(eq=False)
class Grant:
    id: int
    token: str = field(repr=False)
    env: Environment
    profile: str
    listener: Listener

    @property
    def url(self) -> str:
        return self.listener.url


@dataclass(eq=False)
class Listener:
    bind: str
    port: int
    server: asyncio.AbstractServer | None = None
    grants: list[Grant] = field(default_factory=list)

    @property
    def url(self) -> str:
        host = f"[{self.bind}]" if ":" in self.bind else self.bind
        return f"http://{host}:{self.port}{PATH}"


def check_bind(bind: str) -> str:
    """``bind`` as an IP address; CredhelperError if it is not one."""
    try:
        return str(ipaddress.ip_address(bind))
    except ValueError:
        raise CredhelperError(
            f"cannot serve on {bind!r}: not an IP address", "name one, e.g. --bind 127.0.0.1"
        ) from None


class Endpoint:
    """The grants and the listeners serving them."""

    def __init__(self, min_ttl: float, timeout: float) -> None:
        self.min_ttl = min_ttl
        self.timeout = timeout
        self._listeners: dict[tuple[str, int], Listener] = {}
        self._next_id = 1

    @property
    def grants(self) -> list[Grant]:
        return [g for listener in self._listeners.values() for g in listener.grants]

    async def grant(self, env: Environment, profile: str, bind: str, port: int) -> Grant:
        """A new grant for ``profile`` in ``env`` on ``bind``:``port`` (0: the shared
        listener of that address, on a port of the system's choosing)."""
        bind = check_bind(bind)
        listener = self._listeners.get((bind, port))
        if listener is None:
            listener = await self._listen(bind, port)
        grant = Grant(self._next_id, secrets.token_urlsafe(32), env, profile, listener)
        self._next_id += 1
        listener.grants.append(grant)
        env.grants += 1
        log.info("%s: endpoint grant %d on %s", profile, grant.id, listener.url)
        return grant

    async def _listen(self, bind: str, port: int) -> Listener:
        listener = Listener(bind, port)
        try:
            listener.server = await asyncio.start_server(
                lambda r, w: self._handle(listener, r, w), bind, port, limit=MAX_REQUEST
            )
        except OSError as exc:
            raise CredhelperError(
                f"cannot listen on {bind} port {port}: {exc.strerror or exc}",
                "choose another --port or --bind",
            ) from None
        listener.port = listener.server.sockets[0].getsockname()[1]
        # Registered under the port asked for (0: the shared one) and the one it got.
        self._listeners[(bind, port)] = listener
        if port == 0:
            self._listeners[(bind, listener.port)] = listener
        return listener

    def revoke(self, grant: Grant) -> None:
        listener = grant.listener
        if grant in listener.grants:
            listener.grants.remove(grant)
            grant.env.grants -= 1
            log.info("%s: endpoint grant %d revoked", grant.profile, grant.id)
        if not listener.grants and listener.server is not None:
            listener.server.close()
            listener.server = None
            for key in [k for k, v in self._listeners.items() if v is listener]:
                del self._listeners[key]

    async def close(self) -> None:
        for grant in self.grants:
            self.revoke(grant)

    # --- HTTP ------------------------------------------------------------------------------

    def _find(self, listener: Listener, token: str | None) -> Grant | None:
        """The grant of ``token`` on ``listener``: every grant compared, in constant time."""
        found = None
        given = (token or "").encode()
        for grant in listener.grants:
            if hmac.compare_digest(grant.token.encode(), given) and token:
                found = grant
        return found

    async def _handle(
        self, listener: Listener, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        peer = writer.get_extra_info("peername")
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
                return await _reply(writer, 400, {"message": "bad request"})
            status, body = await self._answer(listener, head, peer)
            await _reply(writer, status, body)
        except (ConnectionError, asyncio.TimeoutError, OSError):
            pass
        except Exception:
            log.exception("error while serving an endpoint request")
        finally:
            writer.close()

    async def _answer(
        self, listener: Listener, head: bytes, peer: Any
    ) -> tuple[int, dict[str, Any]]:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            return 400, {"message": "bad request"}
        method, target = parts[0], parts[1]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        grant = self._find(listener, headers.get("authorization"))
        if grant is None:
            log.warning("endpoint: refused a request without a valid token from %s", _peer(peer))
            return 401, {"message": "a valid Authorization token is needed"}
        if method != "GET":
            return 405, {"message": "only GET"}
        if target.split("?", 1)[0] != PATH:
            return 404, {"message": "not found"}
        scheduler = grant.env.scheduler
        grant.env.last_used = scheduler.clock.time()
        try:
            creds = await scheduler.get(
                grant.profile,
                self.min_ttl,
                max(0.0, self.timeout - REPLY_MARGIN),
                grace=HELD_GRACE,
            )
        except CredhelperError as exc:
            exc.for_profile(grant.profile)
            log.warning("endpoint grant %d: %s", grant.id, exc.line())
            return 500, {"code": "CredentialsUnavailable", "message": exc.line()}
        body = {
            "AccessKeyId": creds.access_key_id,
            "SecretAccessKey": creds.secret_access_key,
            "Token": creds.session_token or "",
        }
        if creds.expiration is not None:
            body["Expiration"] = format_time(creds.expiration)
        return 200, body


def _peer(peer: Any) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]} port {peer[1]}"
    return str(peer)


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            405: "Method Not Allowed", 500: "Internal Server Error"}  # fmt: skip


async def _reply(writer: asyncio.StreamWriter, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n"
        "Cache-Control: no-store\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    writer.write(head + data)
    await asyncio.wait_for(writer.drain(), READ_TIMEOUT)
