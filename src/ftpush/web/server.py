"""Run the web app under uvicorn inside ftpush's own event loop.

``ftpush serve`` runs several servers in one loop and owns the signal
handlers, so uvicorn must not install its own; the socket is bound here so
that port 0 (tests) reports the port actually chosen.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator

import uvicorn
from fastapi import FastAPI

from ftpush.errors import ConfigError


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The supervisor in cli/serve.py handles SIGINT/SIGTERM for every server.
        yield


class WebServer:
    """Start and stop uvicorn serving ``app`` on ``host:port``."""

    name = "web"

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = port

    async def start(self) -> None:
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._host, self._port))
        except OSError as exc:
            sock.close()
            raise ConfigError(
                f"the web server cannot listen on {self._host}:{self._port}: {exc.strerror}"
            ) from None
        sock.listen(256)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app, log_level="warning", access_log=False, lifespan="on", server_header=False
        )
        self._server = _QuietServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()  # re-raises the start-up error
                raise RuntimeError("the web server stopped during start-up")
            await asyncio.sleep(0.02)

    @property
    def endpoints(self) -> list[str]:
        host = f"[{self._host}]" if ":" in self._host else self._host
        base = f"http://{host}:{self.port}"
        return [f"{base}/  (health {base}/healthz, API docs {base}/api/docs)"]

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
