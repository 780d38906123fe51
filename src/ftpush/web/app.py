"""``create_app(settings)``: the FastAPI application, built on demand, never at import.

Example::

    >>> app = create_app(settings, db=db)   # doctest: +SKIP
    >>> # uvicorn.run(app) -- or ftpush.web.server.WebServer
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from ftpush import __version__
from ftpush.config import Settings
from ftpush.jobs.queue import TaskQueue
from ftpush.storage import Database
from ftpush.storage.database import ping
from ftpush.web import errors, metrics, panel, services
from ftpush.web.api import api_router
from ftpush.web.limits import BodyLimit
from ftpush.web.services import FileReceiver, Reprocessor


def create_app(
    settings: Settings,
    *,
    db: Database | None = None,
    queue: TaskQueue | None = None,
    receive_upload: FileReceiver | None = None,
    reprocess: Reprocessor | None = None,
) -> FastAPI:
    """Build the web application; opens its own database when none is given.

    ``queue``, ``receive_upload`` and ``reprocess`` are the serving process's task queue
    and intake spool (web may not import intake: ``ftpush serve`` passes them in,
    decisions 0701 and 0902).
    """
    owned = db is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.db = Database.open(settings) if owned else db
        try:
            yield
        finally:
            if owned:
                app.state.db.close()

    app = FastAPI(
        title="ftpush",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    services.install(app, queue=queue, receive_upload=receive_upload, reprocess=reprocess)
    errors.install(app)
    app.add_middleware(
        BodyLimit,
        json_bytes=settings.web.max_json_bytes,
        upload_bytes=settings.web.max_request_bytes,
    )
    app.include_router(api_router())
    app.include_router(metrics.router)

    @app.get("/healthz", tags=["operations"], summary="Liveness and database reachability")
    def healthz() -> JSONResponse:
        healthy = ping(app.state.db)
        return JSONResponse(
            {"status": "ok" if healthy else "degraded", "database": "ok" if healthy else "down"},
            status_code=200 if healthy else 503,
        )

    panel.install(app, settings)  # the web panel: /login, /apps, ... and /static
    return app
