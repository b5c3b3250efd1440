"""The background thread of the mirror's pollers (change capture, watermarks, sources)."""

from __future__ import annotations

import threading


class PollingThread:
    """Mixin: runs ``self._loop`` on a daemon thread; ``self._stop`` (an Event) ends it."""

    _thread: threading.Thread | None = None
    _stop: threading.Event

    def _start_loop(self, name: str) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _stop_loop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None
