"""The sticky proxy of `cluelab serve --processes N`, against two small backends (no Streamlit)."""

from __future__ import annotations

import asyncio

from cluelab.proxy import COOKIE, StickyProxy, backend_from_cookie


async def _backend(name: bytes, seen: list) -> asyncio.AbstractServer:
    """An HTTP/1.1 server that names itself; after a `Connection: upgrade` request it echoes bytes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head)
        if b"upgrade" in head.lower():
            writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
            while data := await reader.read(1024):
                writer.write(name + b":" + data)
                await writer.drain()
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(name), name))
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def _request(port: int, cookie: str | None = None) -> tuple[str, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n" + (f"Cookie: a=1; {cookie}\r\n".encode() if cookie else b"") +
                 b"\r\n")
    await writer.drain()
    answer = (await reader.read()).decode()
    writer.close()
    head, _, body = answer.partition("\r\n\r\n")
    set_cookie = next((line.split(":", 1)[1].strip() for line in head.split("\r\n")
                       if line.lower().startswith("set-cookie")), "")
    return body, set_cookie


def test_cookie_parsing():
    head = b"GET / HTTP/1.1\r\nHost: x\r\nCookie: _streamlit_xsrf=abc; cluelab_backend=1\r\n\r\n"
    assert backend_from_cookie(head, 2) == 1
    assert backend_from_cookie(head, 1) is None  # a backend that no longer exists
    assert backend_from_cookie(b"GET / HTTP/1.1\r\nCookie: cluelab_backend=x\r\n\r\n", 2) is None


def test_new_browsers_take_turns_and_stay_where_their_cookie_says():
    async def scenario() -> None:
        seen: list = []
        backends = [await _backend(b"zero", seen), await _backend(b"one", seen)]
        ports = [b.sockets[0].getsockname()[1] for b in backends]
        proxy = await asyncio.start_server(StickyProxy(ports).handle, "127.0.0.1", 0)
        port = proxy.sockets[0].getsockname()[1]
        try:
            first, first_cookie = await _request(port)
            second, second_cookie = await _request(port)
            assert {first, second} == {"zero", "one"}  # a new browser goes to the next backend in turn
            assert first_cookie.startswith(f"{COOKIE}=") and "HttpOnly" in first_cookie
            cookie = first_cookie.split(";")[0]
            for _ in range(3):  # with its cookie, a browser always reaches the same process, unstamped
                again, stamp = await _request(port, cookie)
                assert (again, stamp) == (first, "")
            # A websocket upgrade goes through and then carries bytes both ways.
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET /_stcore/stream HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                         f"Cookie: {cookie}\r\n\r\n".encode())
            await writer.drain()
            assert b"101 Switching Protocols" in await reader.readuntil(b"\r\n\r\n")
            writer.write(b"ping")
            await writer.drain()
            assert await reader.readexactly(len(first) + 5) == f"{first}:ping".encode()
            writer.close()
        finally:
            proxy.close()
            for backend in backends:
                backend.close()

    asyncio.run(asyncio.wait_for(scenario(), 20))


def test_a_dead_backend_answers_502():
    async def scenario() -> None:
        dead = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = dead.sockets[0].getsockname()[1]
        dead.close()
        await dead.wait_closed()
        proxy = await asyncio.start_server(StickyProxy([port]).handle, "127.0.0.1", 0)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.sockets[0].getsockname()[1])
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            await writer.drain()
            assert (await reader.read()).startswith(b"HTTP/1.1 502")
        finally:
            proxy.close()

    asyncio.run(asyncio.wait_for(scenario(), 20))
