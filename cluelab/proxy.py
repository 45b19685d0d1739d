"""A small sticky reverse proxy in front of several Streamlit server processes.

A Streamlit session lives in one server process: its websocket, the media URLs
it hands out and its uploads must all reach that process. The proxy reads each
connection's first request head, sends it to the backend named by the
`cluelab_backend` cookie (a browser without one is given the next backend in
turn: its first request is the page itself, whose response sets the cookie
before the scripts, the websocket and the media are asked for), stamps that
cookie on the first response, and then pipes bytes both ways untouched,
websocket upgrades included. One asyncio loop; no parsing after the first head.

`cluelab serve --processes N` starts it; `python -m cluelab.proxy PORT BACKEND_PORT...` runs it alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import sys
from collections.abc import Sequence
from http.cookies import CookieError, SimpleCookie

COOKIE = "cluelab_backend"
MAX_HEAD = 64 * 1024
_LOG = logging.getLogger("cluelab.proxy")


def _head_end(buffer: bytes) -> int:
    end = buffer.find(b"\r\n\r\n")
    return -1 if end < 0 else end + 4


async def _read_head(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """The request or response head (through the blank line) and whatever body bytes came with it."""
    buffer = b""
    while (end := _head_end(buffer)) < 0:
        chunk = await reader.read(65536)
        if not chunk:
            return b"", buffer
        buffer += chunk
        if len(buffer) > MAX_HEAD:
            raise ValueError("request head too large")
    return buffer[:end], buffer[end:]


def backend_from_cookie(head: bytes, backends: int) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() != b"cookie":
            continue
        try:
            jar = SimpleCookie(value.decode("latin-1"))
        except CookieError:
            continue
        if COOKIE in jar and jar[COOKIE].value.isdigit() and int(jar[COOKIE].value) < backends:
            return int(jar[COOKIE].value)
    return None


def _with_cookie(head: bytes, backend: int) -> bytes:
    cookie = f"Set-Cookie: {COOKIE}={backend}; Path=/; HttpOnly; SameSite=Lax\r\n".encode()
    return head[:-2] + cookie + b"\r\n"


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()


class StickyProxy:
    def __init__(self, backend_ports: Sequence[int], *, backend_host: str = "127.0.0.1"):
        self.backend_ports = list(backend_ports)
        self.backend_host = backend_host
        self._turn = itertools.count()

    async def handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        backend_writer = None
        try:
            head, rest = await _read_head(client_reader)
            if not head:
                return
            chosen = backend_from_cookie(head, len(self.backend_ports))
            stamp = chosen is None
            if chosen is None:
                chosen = next(self._turn) % len(self.backend_ports)
            try:
                backend_reader, backend_writer = await asyncio.open_connection(
                    self.backend_host, self.backend_ports[chosen])
            except OSError:
                client_writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                await client_writer.drain()
                return
            backend_writer.write(head + rest)
            await backend_writer.drain()
            upstream = asyncio.create_task(_pipe(client_reader, backend_writer))
            if stamp:
                response, body = await _read_head(backend_reader)
                client_writer.write((_with_cookie(response, chosen) if response else b"") + body)
                await client_writer.drain()
            downstream = asyncio.create_task(_pipe(backend_reader, client_writer))
            await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
            await asyncio.wait({upstream, downstream}, timeout=5)
            for task in (upstream, downstream):
                task.cancel()
        except (ConnectionError, ValueError) as error:
            _LOG.debug("proxy connection ended: %s", error)
        finally:
            for writer in (client_writer, backend_writer):
                if writer is not None:
                    writer.close()
                    with contextlib.suppress(Exception):
                        await writer.wait_closed()

    async def serve(self, host: str, port: int) -> None:
        server = await asyncio.start_server(self.handle, host, port, reuse_address=True, backlog=1024)
        async with server:
            await server.serve_forever()


def run(host: str, port: int, backend_ports: Sequence[int]) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(StickyProxy(backend_ports).serve(host, port))


if __name__ == "__main__":
    arguments = sys.argv[1:]
    listen = arguments[0]
    listen_host, _, listen_port = listen.rpartition(":")
    run(listen_host or "0.0.0.0", int(listen_port), [int(p) for p in arguments[1:]])
