"""Tiny real servers on 127.0.0.1 that a test scripts per request, and a TCP proxy a test can cut and restore."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Step:
    """What the server does with one request: answer `status` (after `delay` s), or `close`/`hang`; `answer-close`
    answers, then closes the connection (a server ending an idle keep-alive connection)."""

    status: int = 200
    body: Any = field(default_factory=lambda: {"data": {"ok": True}, "errors": [], "warnings": []})
    delay: float = 0.0
    action: str = "answer"  # answer | answer-close | close | hang
    headers: dict[str, str] = field(default_factory=dict)


class ScriptedServer:
    """HTTP/1.1 (over TLS when given `tls`) on 127.0.0.1:<random>; plays `steps` in order, then repeats the last
    one; counts the connections it accepted."""

    def __init__(self, *steps: Step, tls: ssl.SSLContext | None = None) -> None:
        self.steps = list(steps) or [Step()]
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.connections = 0
        self.tls = tls
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    async def __aenter__(self) -> ScriptedServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append((lines[0], headers, body))
                step = self.steps[min(len(self.requests) - 1, len(self.steps) - 1)]
                if step.delay:
                    await asyncio.sleep(step.delay)
                if step.action == "close":
                    break
                if step.action == "hang":
                    await asyncio.sleep(3600)
                payload = json.dumps(step.body).encode()
                extra = "".join(f"{k}: {v}\r\n" for k, v in step.headers.items())
                writer.write(
                    f"HTTP/1.1 {step.status} X\r\ncontent-type: application/json\r\ncontent-length: {len(payload)}\r\n"
                    f"{extra}\r\n".encode()
                    + payload
                )
                await writer.drain()
                if step.action == "answer-close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ssl.SSLError):
            pass
        finally:
            writer.close()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; `cut()` drops every connection and refuses new ones."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Like the database going away: the listener closes and every open connection is reset."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in list(self._pipes):
            w.transport.abort()
        self._pipes.clear()

    async def restore(self) -> None:
        await self.start()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._pipes.update({writer, up_writer})
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer), return_exceptions=True)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            self._pipes.discard(writer)
            writer.close()
