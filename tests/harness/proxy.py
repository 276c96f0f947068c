"""A recording, fault-injecting HTTP proxy that sits between AWS clients and moto.

Why: tests must *count* STS calls (single-flight, caching, refresh-ahead) and make STS
misbehave (throttling, 5xx, hangs, dropped connections, short-lived sessions) without
touching the product or moto. Everything is stdlib so the proxy cannot hide client bugs.
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import http.client
import json
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterable
from urllib.parse import parse_qs, urlsplit

__all__ = ["Call", "Fault", "StsProxy", "aws_error_body"]

# Headers that describe one hop, not the message; never relayed as-is.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "expect",
    }
)
_CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/([^/]+)/")
_EXPIRATION_RE = re.compile(rb"<Expiration>[^<]*</Expiration>")


def aws_error_body(code: str, message: str = "", error_type: str = "Sender") -> bytes:
    """Build a query-protocol (STS/IAM) XML error body, as AWS itself sends it."""
    message = message or code
    return (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<Error><Type>{error_type}</Type><Code>{code}</Code><Message>{message}</Message>"
        "</Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    ).encode()


@dataclass
class Call:
    """One request seen by the proxy (recorded on arrival; status filled in on reply)."""

    method: str
    path: str
    service: str | None
    action: str | None
    role_arn: str | None = None
    external_id: str | None = None
    role_session_name: str | None = None
    access_key_id: str | None = None
    params: dict = field(default_factory=dict)
    at: float = field(default_factory=time.time)
    status: int | None = None
    fault: str | None = None


@dataclass
class Fault:
    """A misbehaviour for the next `times` requests whose action matches (`*` = any).

    `delay` sleeps before doing the rest; `status` answers without asking moto;
    `drop` closes the connection without any answer. Only one fault applies per request.
    """

    action: str
    times: int = 1
    status: int | None = None
    body: bytes = b""
    content_type: str = "text/xml"
    delay: float = 0.0
    drop: bool = False

    def matches(self, call: Call) -> bool:
        """Return True when this fault should hit `call`."""
        return self.times > 0 and (self.action == "*" or self.action == call.action)

    @property
    def label(self) -> str:
        """Short description stored on the Call, for assertions and debugging."""
        if self.drop:
            return "drop"
        if self.status is not None:
            return f"status={self.status}" + (f",delay={self.delay}" if self.delay else "")
        return f"delay={self.delay}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Stay quiet when a client gave up (timeouts, drop faults): that is expected."""
        if isinstance(sys.exc_info()[1], (ConnectionError, socket.timeout, TimeoutError)):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class StsProxy:
    """Threaded forwarding proxy in front of moto; see module docstring for why."""

    def __init__(self, upstream_url: str, host: str = "127.0.0.1", port: int = 0) -> None:
        parts = urlsplit(upstream_url)
        self._upstream_host = parts.hostname or "127.0.0.1"
        self._upstream_port = parts.port or 80
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._faults: list[Fault] = []
        self._expiration_seconds: float | None = None
        self._skew: float = 0.0
        self._expiration_actions: set[str] | None = None
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._changed = threading.Condition(self._lock)
        #: Optional hook: called with (call, body) before forwarding; may return a Fault.
        self.fault: Callable[[Call, bytes], Fault | None] | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> StsProxy:
        """Bind (to the same port again after a stop) and serve in a daemon thread."""
        self._stopping.clear()
        self._server = _Server((self._host, self._port), _make_handler(self))
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sts-proxy", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every open client connection (refused from now on)."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> StsProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The listening port (stable across stop/start)."""
        return self._port

    @property
    def url(self) -> str:
        """Endpoint URL to hand to clients (AWS_ENDPOINT_URL / --endpoint-url)."""
        return f"http://{self._host}:{self._port}"

    # -- recording -------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """Snapshot of every request seen since the last reset_counts()."""
        with self._lock:
            return list(self._calls)

    def count(self, action: str, role_arn: str | None = None) -> int:
        """How many requests for `action` (optionally for one RoleArn) arrived."""
        with self._lock:
            return sum(
                1
                for c in self._calls
                if c.action == action and (role_arn is None or c.role_arn == role_arn)
            )

    def reset_counts(self) -> None:
        """Forget recorded calls (faults and rewrites stay as they are)."""
        with self._lock:
            self._calls.clear()

    def wait_for(
        self, action: str, n: int = 1, timeout: float = 10.0, role_arn: str | None = None
    ) -> bool:
        """Block until at least `n` matching requests arrived; for background refreshers."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                seen = sum(
                    1
                    for c in self._calls
                    if c.action == action and (role_arn is None or c.role_arn == role_arn)
                )
                left = deadline - time.monotonic()
                if seen >= n:
                    return True
                if left <= 0:
                    return False
                self._changed.wait(left)

    # -- faults and rewrites ---------------------------------------------------------

    def add_fault(self, fault: Fault) -> Fault:
        """Queue a fault; faults are consumed in the order they were added."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def inject(
        self,
        action: str,
        status: int,
        body: bytes | str = b"",
        times: int = 1,
        content_type: str = "text/xml",
    ) -> Fault:
        """Answer the next `times` `action` requests with `status`/`body` instead of moto."""
        if isinstance(body, str):
            body = body.encode()
        return self.add_fault(
            Fault(action=action, times=times, status=status, body=body, content_type=content_type)
        )

    def inject_error(
        self, action: str, code: str, message: str = "", status: int = 400, times: int = 1
    ) -> Fault:
        """Answer with an AWS-shaped XML error, e.g. ('AssumeRole', 'Throttling')."""
        error_type = "Receiver" if status >= 500 else "Sender"
        return self.inject(action, status, aws_error_body(code, message, error_type), times)

    def inject_delay(self, action: str, seconds: float, times: int = 1) -> Fault:
        """Sleep `seconds` before forwarding (a hang, when longer than the client timeout)."""
        return self.add_fault(Fault(action=action, times=times, delay=seconds))

    def inject_drop(self, action: str, times: int = 1) -> Fault:
        """Close the client connection without answering (connection reset)."""
        return self.add_fault(Fault(action=action, times=times, drop=True))

    def clear_faults(self) -> None:
        """Drop all pending faults, the `fault` hook, the expiration rewrite and clock skew."""
        with self._lock:
            self._faults.clear()
            self._expiration_seconds = None
            self._skew = 0.0
            self.fault = None

    def skew_clock(self, seconds: float) -> None:
        """Play an STS whose clock is `seconds` ahead of ours (negative: behind): its Date
        header and every Expiration it sends are shifted by that much, consistently."""
        with self._lock:
            self._skew = seconds

    def rewrite_expiration(
        self, seconds: float | None, actions: Iterable[str] | None = None
    ) -> None:
        """Make STS responses claim the session expires `seconds` from now (None: off),
        for every STS action or only those in `actions` (e.g. {"AssumeRole"})."""
        with self._lock:
            self._expiration_seconds = seconds
            self._expiration_actions = set(actions) if actions is not None else None

    # -- internals used by the handler -----------------------------------------------

    def _record(self, call: Call) -> None:
        with self._changed:
            self._calls.append(call)
            self._changed.notify_all()

    def _take_fault(self, call: Call, body: bytes) -> Fault | None:
        hook = self.fault
        if hook is not None:
            fault = hook(call, body)
            if fault is not None:
                return fault
        with self._lock:
            for fault in self._faults:
                if fault.matches(call):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _shift_date(self, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        with self._lock:
            skew = self._skew
        if not skew:
            return headers
        out = []
        for name, value in headers:
            if name.lower() == "date":
                when = email.utils.parsedate_to_datetime(value) + _dt.timedelta(seconds=skew)
                value = email.utils.format_datetime(when, usegmt=True)
            out.append((name, value))
        return out

    def _rewrite(self, call: Call, body: bytes) -> bytes:
        with self._lock:
            seconds = self._expiration_seconds
            actions = self._expiration_actions
            skew = self._skew
        if skew and call.service == "sts":
            body = _EXPIRATION_RE.sub(lambda m: _shifted(m.group(0), skew), body)
        if seconds is None or call.service != "sts":
            return body
        if actions is not None and call.action not in actions:
            return body
        when = _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(seconds=seconds + skew)
        stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
        return _EXPIRATION_RE.sub(b"<Expiration>" + stamp + b"</Expiration>", body)

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)


def _shifted(element: bytes, skew: float) -> bytes:
    """`<Expiration>...</Expiration>` moved by `skew` seconds."""
    text = element.decode()
    stamp = text[text.index(">") + 1 : text.rindex("<")]
    when = _dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    when += _dt.timedelta(seconds=skew)
    return b"<Expiration>" + when.strftime("%Y-%m-%dT%H:%M:%SZ").encode() + b"</Expiration>"


def _parse_call(method: str, path: str, headers: http.client.HTTPMessage, body: bytes) -> Call:
    """Extract the AWS action and its interesting parameters from a raw request."""
    service = access_key = None
    match = _CREDENTIAL_RE.search(headers.get("Authorization", ""))
    if match:
        access_key, service = match.group(1), match.group(3)
    params: dict = {}
    target = headers.get("X-Amz-Target")
    ctype = headers.get("Content-Type", "")
    if target:  # JSON protocol
        try:
            loaded = json.loads(body or b"{}")
            params = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            params = {}
        params["Action"] = target.rsplit(".", 1)[-1]
    else:  # query protocol: form body (POST) or query string (GET)
        query = urlsplit(path).query
        if "x-www-form-urlencoded" in ctype and body:
            query = body.decode("utf-8", "replace")
        params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
    action = params.get("Action") if isinstance(params.get("Action"), str) else None
    return Call(
        method=method,
        path=path,
        service=service,
        action=action,
        role_arn=params.get("RoleArn"),
        external_id=params.get("ExternalId"),
        role_session_name=params.get("RoleSessionName"),
        access_key_id=access_key,
        params=params if action else {},
    )


def _make_handler(proxy: StsProxy) -> type[BaseHTTPRequestHandler]:
    """Bind a handler class to one proxy instance."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        _upstream: http.client.HTTPConnection | None = None

        def setup(self) -> None:
            super().setup()
            proxy._track(self.connection, True)

        def finish(self) -> None:
            try:
                super().finish()
            finally:
                proxy._track(self.connection, False)
                if self._upstream is not None:
                    self._upstream.close()

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the recorded calls are the log."""

        def _read_body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _reply(
            self, status: int, headers: list[tuple[str, str]], body: bytes, head: bool
        ) -> None:
            self.send_response_only(status)
            has_length = False
            for name, value in headers:
                lname = name.lower()
                if lname in _HOP_BY_HOP:
                    continue
                if lname == "content-length":
                    has_length = True
                    if not head:
                        value = str(len(body))
                self.send_header(name, value)
            if not has_length and not (head or status in (204, 304) or status < 200):
                self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if not head:
                self.wfile.write(body)
            self.wfile.flush()

        def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
            headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP]
            if body or self.command in ("POST", "PUT", "PATCH"):
                headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
                headers.append(("Content-Length", str(len(body))))
            for attempt in (0, 1):  # retry once on a stale keep-alive upstream connection
                if self._upstream is None:
                    self._upstream = http.client.HTTPConnection(
                        proxy._upstream_host, proxy._upstream_port, timeout=120
                    )
                try:
                    self._upstream.putrequest(
                        self.command, self.path, skip_host=True, skip_accept_encoding=True
                    )
                    for k, v in headers:
                        self._upstream.putheader(k, v)
                    self._upstream.endheaders(body or None)
                    resp = self._upstream.getresponse()
                    data = resp.read()
                    if resp.will_close:
                        self._upstream.close()
                        self._upstream = None
                    return resp.status, resp.getheaders(), data
                except (ConnectionError, http.client.HTTPException, OSError):
                    if self._upstream is not None:
                        self._upstream.close()
                        self._upstream = None
                    if attempt:
                        raise
            raise AssertionError("unreachable")

        def _handle(self) -> None:
            body = self._read_body()
            head = self.command == "HEAD"
            call = _parse_call(self.command, self.path, self.headers, body)
            proxy._record(call)
            fault = proxy._take_fault(call, body)
            if fault is not None:
                call.fault = fault.label
                if fault.delay and proxy._stopping.wait(fault.delay):
                    self.close_connection = True
                    return
                if fault.drop:
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                if fault.status is not None:
                    call.status = fault.status
                    hdrs = [("Content-Type", fault.content_type)]
                    self._reply(fault.status, hdrs, fault.body, head)
                    return
            try:
                status, headers, data = self._forward(body)
            except OSError as exc:
                call.status = 502
                msg = aws_error_body("ProxyUpstreamError", str(exc), "Receiver")
                self._reply(502, [("Content-Type", "text/xml")], msg, head)
                return
            call.status = status
            headers = proxy._shift_date(headers)
            self._reply(status, headers, proxy._rewrite(call, data), head)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _handle

    return Handler
