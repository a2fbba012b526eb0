"""A minimal HTTP/1.1 keep-alive load driver, so the figures measure the server.

httpx costs the driver milliseconds of CPU per request on this machine (without sniffio
installed, httpcore retries ``import sniffio`` on every request), which would make the
driver, not the manager, the bottleneck. Each client here is one keep-alive connection
that sends a prepared request and reads the answer by its Content-Length.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit


class HttpError(RuntimeError):
    """The server answered with an unexpected status."""


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return status, body


async def post_many(base: str, path: str, bodies: list[bytes], clients: int) -> None:
    """POST every body to ``path`` over ``clients`` concurrent keep-alive connections."""
    url = urlsplit(base)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    pending = list(reversed(bodies))

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while pending:
                body = pending.pop()
                head = (
                    f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                )
                writer.write(head.encode() + body)
                status, answer = await _read_response(reader)
                if status not in (200, 201):
                    raise HttpError(f"POST {path} answered {status}: {answer[:300]!r}")
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
