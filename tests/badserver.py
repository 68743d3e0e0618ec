"""Misbehaving HTTP servers on 127.0.0.1, for what the fake Graph API cannot do.

:class:`BadServer` stands in front of a :class:`~tests.fakegraph.FakeGraph`: each request
takes the next scripted misbehaviour, if one is queued (a trickling answer, a body cut
short, a broken chunk, a gzip body that is not gzip, a huge or endless answer, a
redirect, a canned status), and every other request is relayed to the fake, so a run
goes on against a healthy Meta once the faults are spent. :class:`RecordingProxy` is an
HTTP proxy that records what reaches it and forwards nothing.

Both are real servers on real sockets (one thread per connection); nothing is mocked.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Reply = Callable[[socket.socket, "Request", "BadServer"], bool]  # True: keep the connection


@dataclass
class Request:
    """One request as the server read it."""

    method: str
    target: str
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class _Pending:
    reply: Reply
    remaining: int
    path_suffix: str


def _read_request(reader: Any) -> Request | None:
    line = reader.readline(65537)
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        raw = reader.readline(65537)
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    body = reader.read(length) if length else b""
    return Request(method, target, headers, body)


def _head(status: int, reason: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@dataclass
class BadServer:
    """A relay to ``upstream`` (the fake's URL) with scripted misbehaviours (FIFO)."""

    upstream: str
    url: str = ""
    sent_bytes: list[int] = field(default_factory=list)  # body bytes each huge answer wrote
    seen: list[Request] = field(default_factory=list)
    _faults: list[_Pending] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sock: socket.socket | None = None
    _open: set[socket.socket] = field(default_factory=set)
    _stopped: threading.Event = field(default_factory=threading.Event)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> BadServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        self._sock = sock
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        with self._lock:
            conns = list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> BadServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def inject(self, reply: Reply, times: int = 1, path_suffix: str = "/events") -> None:
        """The next ``times`` requests whose path ends with ``path_suffix`` get ``reply``."""
        with self._lock:
            self._faults.append(_Pending(reply, times, path_suffix))

    # ------------------------------------------------------------------ serving

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _take(self, path: str) -> Reply | None:
        with self._lock:
            for pending in self._faults:
                if path.split("?")[0].endswith(pending.path_suffix):
                    pending.remaining -= 1
                    if pending.remaining <= 0:
                        self._faults.remove(pending)
                    return pending.reply
        return None

    def _serve(self, conn: socket.socket) -> None:
        with self._lock:
            self._open.add(conn)
        reader = conn.makefile("rb")
        try:
            while True:
                request = _read_request(reader)
                if request is None:
                    return
                with self._lock:
                    self.seen.append(request)
                reply = self._take(request.target) or relay
                if not reply(conn, request, self):
                    return
        except OSError:
            return
        finally:
            with self._lock:
                self._open.discard(conn)
            with contextlib.suppress(OSError):
                reader.close()
                conn.close()

    def forward(self, request: Request) -> tuple[int, str, dict[str, str], bytes]:
        """The upstream's answer to ``request``: status, reason, headers, body."""
        host = self.upstream.removeprefix("http://")
        upstream = http.client.HTTPConnection(host, timeout=30)
        try:
            headers = {k: v for k, v in request.headers.items() if k not in ("host", "connection")}
            upstream.request(request.method, request.target, request.body, headers)
            answer = upstream.getresponse()
            body = answer.read()
            kept = {
                k: v
                for k, v in answer.getheaders()
                if k.lower() not in ("content-length", "connection", "transfer-encoding")
            }
            return answer.status, answer.reason, kept, body
        finally:
            upstream.close()


# ---------------------------------------------------------------------- replies


def relay(conn: socket.socket, request: Request, server: BadServer) -> bool:
    """The upstream's answer, as it is."""
    status, reason, headers, body = server.forward(request)
    conn.sendall(_head(status, reason, {**headers, "Content-Length": str(len(body))}) + body)
    return True


def canned(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Reply:
    """This answer (nothing reaches the upstream)."""

    def reply(conn: socket.socket, request: Request, server: BadServer) -> bool:
        head = {"Content-Type": "text/html", **(headers or {}), "Content-Length": str(len(body))}
        conn.sendall(_head(status, "Whatever", head) + body)
        return True

    return reply


def body_limit(limit: int) -> Reply:
    """A proxy's body size limit (nginx's client_max_body_size): a request with a bigger
    body gets 413 and an HTML page; the others reach the upstream."""

    def reply(conn: socket.socket, request: Request, server: BadServer) -> bool:
        if len(request.body) > limit:
            return canned(413, b"<html><body>413 Request Entity Too Large</body></html>")(
                conn, request, server
            )
        return relay(conn, request, server)

    return reply


def redirect(location: str, status: int = 301) -> Reply:
    """A redirect elsewhere, with an empty body (as a load balancer sends one)."""
    return canned(status, b"", {"Location": location})


def trickle(interval: float = 0.5, *, in_headers: bool = False) -> Reply:
    """A byte every ``interval`` seconds, forever (until the client hangs up): of the
    status line and headers with ``in_headers``, else of the body after whole headers."""

    def reply(conn: socket.socket, request: Request, server: BadServer) -> bool:
        head = _head(200, "OK", {"Content-Type": "application/json", "Content-Length": "100000"})
        if not in_headers:
            conn.sendall(head)
            head = b'{"events_received": 1' + b" " * 100000
        for byte in head:
            if server._stopped.is_set():
                return False
            conn.sendall(bytes([byte]))
            time.sleep(interval)
        return False

    return reply


def truncated(*, chunked: bool = False) -> Reply:
    """The upstream's answer cut short: half its body, then the connection closes (with
    ``chunked``: a chunk announcing more bytes than it holds)."""

    def reply(conn: socket.socket, request: Request, server: BadServer) -> bool:
        status, reason, headers, body = server.forward(request)
        if chunked:
            head = _head(status, reason, {**headers, "Transfer-Encoding": "chunked"})
            conn.sendall(head + f"{len(body) + 50:x}\r\n".encode() + body)
        else:
            head = _head(status, reason, {**headers, "Content-Length": str(len(body))})
            conn.sendall(head + body[: len(body) // 2])
        conn.shutdown(socket.SHUT_RDWR)
        return False

    return reply


def bad_gzip() -> Reply:
    """The upstream's answer, declared gzip but not compressed: undecodable."""

    def reply(conn: socket.socket, request: Request, server: BadServer) -> bool:
        status, reason, headers, body = server.forward(request)
        head = {**headers, "Content-Encoding": "gzip", "Content-Length": str(len(body))}
        conn.sendall(_head(status, reason, head) + body)
        return True

    return reply


def huge(size: int, *, declared: bool = True) -> Reply:
    """A 200 answer of ``size`` bytes (``declared``: with its Content-Length; else chunked,
    without one), written until the client hangs up; how much was written goes to
    ``server.sent_bytes``."""

    def reply(conn: socket.socket, request: Request, server: BadServer) -> bool:
        headers = {"Content-Type": "application/json"}
        headers.update(
            {"Content-Length": str(size)} if declared else {"Transfer-Encoding": "chunked"}
        )
        conn.sendall(_head(200, "OK", headers))
        block = b'{"x":"' + b"a" * 65530
        written = 0
        try:
            while written < size:
                piece = block[: size - written]
                conn.sendall(
                    piece if declared else f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
                )
                written += len(piece)
        except OSError:
            pass
        finally:
            with server._lock:
                server.sent_bytes.append(written)
        return False

    return reply


# ---------------------------------------------------------------------- a proxy


@dataclass
class RecordingProxy:
    """An HTTP proxy that records every request it is asked to forward and forwards none
    (it answers 502): what reaches it went through a proxy."""

    url: str = ""
    requests: list[Request] = field(default_factory=list)
    _server: BadServer | None = None

    def start(self) -> RecordingProxy:
        server = BadServer(upstream="")

        def record(conn: socket.socket, request: Request, bad: BadServer) -> bool:
            self.requests.append(request)
            return canned(502, b"proxy")(conn, request, bad)

        server.inject(record, times=10**9, path_suffix="")
        self._server = server.start()
        self.url = server.url
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def __enter__(self) -> RecordingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
