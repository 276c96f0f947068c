"""A local stand-in for AWS's sign-in federation endpoint (``/federation``), on 127.0.0.1.

Why: ``credhelper console`` must ask for a sign-in token exactly as AWS documents it ("Enable
custom identity broker access to the AWS console"), with a live role session, and the test
cannot reach AWS. The stand-in checks each ``getSigninToken`` request the way the document
describes it (a GET of ``/federation`` with ``Action``, an optional ``SessionDuration`` of 900
to 43200 s, and ``Session``: URL-encoded JSON with exactly ``sessionId``, ``sessionKey`` and
``sessionToken``), checks that those credentials are a live moto role session
(sts:GetCallerIdentity through the test's moto server), refuses a ``SessionDuration`` for a
session it was told is role-chained (as AWS does), and answers ``{"SigninToken": ...}``.
Anything else is answered 400 and recorded in ``problems``. It can also fail on purpose: an
HTTP status, or no answer at all.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .moto_stack import Creds, MotoStack

__all__ = ["FederationStandIn", "Issued"]

SESSION_KEYS = {"sessionId", "sessionKey", "sessionToken"}


@dataclass(frozen=True)
class Issued:
    """A sign-in token the stand-in handed out, and for what."""

    token: str
    caller_arn: str
    #: The Session JSON's values (the test checks none of them reached a log).
    session: dict[str, str]
    duration: int | None


@dataclass
class FederationStandIn:
    moto: MotoStack
    #: Role names whose sessions are role-chained: a SessionDuration for them is refused (400).
    chained_roles: set[str] = field(default_factory=set)
    #: Answer every request with this HTTP status instead (e.g. 500).
    fail_with: int | None = None
    #: Answer nothing (the connection stays open until stop()).
    hang: bool = False
    issued: list[Issued] = field(default_factory=list)
    #: What was wrong with requests it refused (none in a passing test, unless meant).
    problems: list[str] = field(default_factory=list)
    requests: int = 0
    _server: ThreadingHTTPServer | None = None
    _released: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        """The base URL (``CREDHELPER_FEDERATION_URL``); requests go to ``url/federation``."""
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FederationStandIn:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                stand_in._handle(self)

            def log_message(self, format: str, *args: Any) -> None:  # the query is secret
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- one request ---------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        self.requests += 1
        if self.hang:
            self._released.wait(120)
            return
        if self.fail_with is not None:
            self._answer(handler, self.fail_with, {"error": "failing on purpose"})
            return
        try:
            issued = self._issue(handler.path)
        except ValueError as exc:
            self.problems.append(str(exc))
            self._answer(handler, 400, {"error": str(exc)})
            return
        self.issued.append(issued)
        self._answer(handler, 200, {"SigninToken": issued.token})

    def _issue(self, path: str) -> Issued:
        parts = urlsplit(path)
        if parts.path != "/federation":
            raise ValueError(f"path {parts.path!r} is not /federation")
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=True)
        if any(len(values) != 1 for values in query.values()):
            raise ValueError(f"a parameter given twice: {sorted(query)}")
        params = {key: values[0] for key, values in query.items()}
        if params.get("Action") != "getSigninToken":
            raise ValueError(f"Action {params.get('Action')!r} is not getSigninToken")
        unknown = set(params) - {"Action", "SessionDuration", "Session"}
        if unknown:
            raise ValueError(f"parameters AWS does not document here: {sorted(unknown)}")
        duration = None
        if "SessionDuration" in params:
            raw = params["SessionDuration"]
            if not (raw.isascii() and raw.isdigit() and 900 <= int(raw) <= 43200):
                raise ValueError(f"SessionDuration {raw!r} is not 900..43200")
            duration = int(raw)
        try:
            session = json.loads(params.get("Session", ""))
        except ValueError:
            raise ValueError("Session is not JSON") from None
        if not isinstance(session, dict) or set(session) != SESSION_KEYS:
            keys = sorted(session) if isinstance(session, dict) else type(session).__name__
            raise ValueError(f"Session's keys are {keys}, not {sorted(SESSION_KEYS)}")
        if not all(isinstance(v, str) and v for v in session.values()):
            raise ValueError("a Session value is empty or not a string")
        creds = Creds(session["sessionId"], session["sessionKey"], session["sessionToken"])
        try:
            arn = self.moto.client("sts", creds, direct=True).get_caller_identity()["Arn"]
        except Exception as exc:  # moto's refusal: not a live session
            raise ValueError(f"Session is not a live session: {type(exc).__name__}") from None
        if ":assumed-role/" not in arn:
            raise ValueError(f"Session is {arn}, not a role session")
        role = arn.split(":assumed-role/")[1].split("/")[0]
        if duration is not None and role in self.chained_roles:
            raise ValueError(f"SessionDuration for a role-chained session ({role})")
        token = "stand-in-" + secrets.token_urlsafe(48)
        return Issued(token, arn, dict(session), duration)

    @staticmethod
    def _answer(handler: BaseHTTPRequestHandler, status: int, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
