"""REST API v1 (SPEC §7): one router per resource, all behind an app API key.

Routes are thin: they check input with pydantic models, call the same storage and
pipeline functions as the CLI and the panel, and shape the answer. Errors are raised
from the :mod:`ftpush.errors` tree and become problem details (:mod:`ftpush.web.errors`).
"""

from __future__ import annotations

from fastapi import APIRouter

from ftpush.web.api import (
    attributes,
    campaigns,
    devices,
    events,
    exports,
    imports,
    push,
    users,
)
from ftpush.web.errors import API_ERROR_RESPONSES


def api_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", responses=API_ERROR_RESPONSES)
    for module in (devices, events, users, push, imports, attributes, campaigns, exports):
        router.include_router(module.router)
    return router
