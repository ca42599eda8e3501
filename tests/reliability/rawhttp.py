"""Raw HTTP over the daemon's unix socket, for requests no client library
would send, and the daemon's resource figures."""

from __future__ import annotations

import os
import socket
import time
from typing import Optional, Union

import psutil

Address = Union[str, tuple[str, int]]  # a unix socket path or (host, port)


def connect(address: Address, timeout: float = 10.0) -> socket.socket:
    if isinstance(address, str):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(address)
    return sock


def response_head(address: Address, data: bytes, timeout: float = 10.0) -> bytes:
    """Send ``data`` and return the response's status line and headers only
    (for endless responses such as log tails)."""
    sock = connect(address, timeout)
    try:
        sock.sendall(data)
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = sock.recv(65536)
            if not chunk:
                break
            got += chunk
        return got.partition(b"\r\n\r\n")[0]
    finally:
        sock.close()


def _complete(data: bytes) -> bool:
    """Whether ``data`` holds one whole response (by Content-Length or chunks)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    lower = head.lower()
    for line in lower.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    if b"transfer-encoding: chunked" in lower:
        return body.endswith(b"0\r\n\r\n")
    return False


def exchange(path: Address, data: bytes, timeout: float = 10.0, shut: bool = False) -> bytes:
    """Send ``data`` and read one response: until it is complete, the server
    closes, or ``timeout`` passes.  ``shut`` half-closes after sending (an
    asyncio server takes that as the client leaving and answers nothing)."""
    sock = connect(path, timeout)
    try:
        try:
            sock.sendall(data)
            if shut:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server gave up reading: what it answered is below
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if _complete(b"".join(chunks)):
                break
        return b"".join(chunks)
    finally:
        sock.close()


def status_of(response: bytes) -> Optional[int]:
    """The status code of the first response in ``response`` (None: no response)."""
    if not response.startswith((b"HTTP/1.", b"HTTP/0.9")):
        return None
    try:
        return int(response.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def body_of(response: bytes) -> bytes:
    head, _, body = response.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        out, rest = [], body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0] or b"0", 16)
            if size == 0:
                break
            out.append(rest[:size])
            rest = rest[size + 2 :]
        return b"".join(out)
    return body


def rpc_request(body: bytes, *, headers: str = "", content_type: str = "text/xml") -> bytes:
    return (
        f"POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n{headers}\r\n"
    ).encode() + body


def call_xml(method: str, *params_xml: str) -> bytes:
    params = "".join(f"<param>{p}</param>" for p in params_xml)
    return f"<?xml version='1.0'?><methodCall><methodName>{method}</methodName><params>{params}</params></methodCall>".encode()


def rss(pid: int) -> int:
    return psutil.Process(pid).memory_info().rss


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


MIB = 1024 * 1024
