"""A loopback HTTP proxy in front of a real server that fails on purpose, when told to.

Each request is read whole, matched against the armed faults, then forwarded to the real
server on a fresh connection (or not). Faults:

- ``drop_after``: forward the request (the server applies it), then close the client's
  connection without an answer: the answer was lost;
- ``drop_before``: close the connection without forwarding (nothing applied);
- ``status``: answer a canned status (502, 429, ...) without forwarding.

``close()`` stops listening: connections are then refused, as with a stopped server.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field


@dataclass
class Fault:
    mode: str  # "drop_after" | "drop_before" | "status"
    method: str | None = None
    path_contains: str = ""
    times: int = 1
    status: int = 502
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    body_contains: bytes = b""  # only requests whose body has this (an upload's file part)

    def matches(self, method: str, path: str, body: bytes = b"") -> bool:
        return (
            self.times > 0
            and (self.method is None or self.method == method)
            and self.path_contains in path
            and self.body_contains in body
        )


@dataclass
class Seen:
    method: str
    path: str
    fault: str | None  # the fault applied, if any
    status: int | None = None  # the upstream server's answer, when forwarded
    uploads_a_file: bool = False  # a multipart body with a file part (not a token probe)


class FlakyProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = int(self._sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def fail(self, mode: str, method: str | None = None, path_contains: str = "", **kw) -> Fault:
        fault = Fault(mode, method, path_contains, **kw)
        with self._lock:
            self.faults.append(fault)
        return fault

    def requests(self, method: str | None = None, path_contains: str = "") -> list[Seen]:
        return [
            s
            for s in self.seen
            if (method is None or s.method == method) and path_contains in s.path
        ]

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()

    # -- internals -------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                request = _read_request(conn)
                if request is None:
                    return
                head, body = request
                method, path = head.split(b"\r\n", 1)[0].decode().split(" ")[:2]
                fault = self._take(method, path, body)
                seen = Seen(method, path, fault.mode if fault else None)
                seen.uploads_a_file = b'filename="' in body
                self.seen.append(seen)
                if fault is not None and fault.mode == "drop_before":
                    return
                if fault is not None and fault.mode == "status":
                    conn.sendall(_canned(fault))
                    return
                answer = self._forward(head, body)
                status_line = answer.split(b"\r\n", 1)[0].split()
                if len(status_line) > 1 and status_line[1].isdigit():
                    seen.status = int(status_line[1])
                if fault is not None and fault.mode == "drop_after":
                    return
                conn.sendall(answer)
            except OSError:
                return

    def _take(self, method: str, path: str, body: bytes) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path, body):
                    fault.times -= 1
                    return fault
        return None

    def _forward(self, head: bytes, body: bytes) -> bytes:
        lines = head.split(b"\r\n")
        kept = [
            line
            for line in lines[1:]
            if line and not line.lower().startswith((b"connection:", b"keep-alive:"))
        ]
        out = b"\r\n".join([lines[0], *kept, b"Connection: close", b"", b""]) + body
        with socket.create_connection(self.upstream, timeout=60) as upstream:
            upstream.sendall(out)
            chunks = []
            while True:
                chunk = upstream.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        return b"".join(chunks)


def _read_request(conn: socket.socket) -> tuple[bytes, bytes] | None:
    conn.settimeout(60)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        if name.strip().lower() == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while not rest.endswith(b"0\r\n\r\n"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            rest += chunk
        return head, rest
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head, rest


def _canned(fault: Fault) -> bytes:
    lines = [f"HTTP/1.1 {fault.status} Injected", "Connection: close"]
    headers = {"Content-Type": "application/json", **fault.headers}
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(fault.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + fault.body
