"""A fault-injecting TCP proxy on loopback, in front of a gateway (test helper).

Modes, applied per request (a mode change reaches open connections too): ``pass`` (forward
both ways), ``down`` (not listening: connection refused), ``503`` (answer every request itself
with a 503), ``slow`` (forward, but hold the answer for ``delay_s``), ``reset`` (read the
request, then reset the connection), ``cut`` (forward the request, let the gateway store it,
then reset instead of answering: the acknowledgement is lost). ``requests`` counts requests per
mode.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections import Counter


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head + (await reader.readexactly(length) if length else b"")


async def _read_answer(reader: asyncio.StreamReader) -> bytes:
    return await _read_request(reader)  # same framing: headers, then Content-Length bytes


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultProxy:
    """Listens on 127.0.0.1:<free port>, forwards to ``target_port``."""

    def __init__(self, target_port: int, delay_s: float = 1.0) -> None:
        self.target_port = target_port
        self.delay_s = delay_s
        self.mode = "pass"
        self.requests: Counter[str] = Counter()
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._call(self._listen())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _call(self, coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def set_mode(self, mode: str) -> None:
        """Switch mode; ``down`` stops listening, anything else listens again."""
        if mode == "down":
            self._call(self._close())
        elif self._server is None:
            self._call(self._listen())
        self.mode = mode

    def close(self) -> None:
        self._call(self._close())

        async def cancel_all() -> None:
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        self._call(cancel_all())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            while True:
                request = await _read_request(reader)
                mode = self.mode
                self.requests[mode] += 1
                if mode == "503":
                    writer.write(
                        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n"
                        b"Connection: close\r\n\r\nbusy."
                    )
                    await writer.drain()
                    writer.close()
                    return
                if mode == "reset":
                    _reset(writer)
                    return
                if upstream is None:
                    upstream = await asyncio.open_connection("127.0.0.1", self.target_port)
                upstream[1].write(request)
                await upstream[1].drain()
                answer = await _read_answer(upstream[0])
                if mode == "cut":
                    _reset(writer)
                    return
                if mode == "slow":
                    await asyncio.sleep(self.delay_s)
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            writer.close()
        finally:
            if upstream is not None:
                upstream[1].close()
