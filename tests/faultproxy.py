"""A small TCP fault-injection proxy for tests (after asyncpg's ``TCPFuzzingProxy``).

It sits between pgaccel and the origin on loopback and relays bytes both ways
until told to fail::

    fp = FaultProxy("127.0.0.1", origin.port).start()
    ... point pgaccel at 127.0.0.1:fp.port ...
    fp.cut_all()            # reset every relayed connection now
    fp.set_mode("refuse")   # new connections are closed at once (origin "down")
    fp.set_mode("blackhole")  # new connections are accepted and never answered
    fp.set_mode("relay")    # back to normal
    fp.stop()

It runs its own asyncio loop in a daemon thread; every socket it opens is
closed by ``stop()``.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading


class FaultProxy:
    MODES = ("relay", "refuse", "blackhole")

    def __init__(self, target_host: str, target_port: int, listen_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.listen_host = listen_host
        self.port = 0
        self.mode = "relay"
        self.accepted = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._conns: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter | None]] = set()
        self._held: set[asyncio.StreamWriter] = set()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="faultproxy", daemon=True)

    # ------------------------------------------------------------ control (any thread)

    def start(self) -> "FaultProxy":
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fault proxy did not start")
        return self

    def set_mode(self, mode: str) -> None:
        assert mode in self.MODES, mode
        self.mode = mode

    def cut_all(self) -> int:
        """Reset every open connection (both sides). Returns how many were cut."""
        return self._call(self._cut_all)

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    def stop(self) -> None:
        if self._loop is None or not self._thread.is_alive():
            return
        try:
            self._call(self._shutdown)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------ the loop thread

    def _call(self, fn):
        async def run():
            return fn()
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)

        async def start():
            self._server = await asyncio.start_server(self._on_conn, self.listen_host, 0)
            self.port = self._server.sockets[0].getsockname()[1]

        self._loop.run_until_complete(start())
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _on_conn(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self.mode == "refuse":
            _abort(cwriter)
            return
        if self.mode == "blackhole":
            self._held.add(cwriter)
            return
        try:
            ureader, uwriter = await asyncio.open_connection(*self.target)
        except OSError:
            _abort(cwriter)
            return
        pair = (cwriter, uwriter)
        self._conns.add(pair)
        try:
            await asyncio.gather(_pipe(creader, uwriter), _pipe(ureader, cwriter))
        finally:
            self._conns.discard(pair)
            _abort(cwriter)
            _abort(uwriter)

    def _cut_all(self) -> int:
        n = len(self._conns)
        for cw, uw in list(self._conns):
            _abort(cw)
            _abort(uw)
        self._conns.clear()
        for w in list(self._held):
            _abort(w)
        self._held.clear()
        return n

    def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        self._cut_all()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        _abort(writer)


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0), as a crashed peer or a cut cable looks."""
    try:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
    except Exception:
        pass
