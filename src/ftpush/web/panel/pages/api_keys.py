"""``/apps/{key}/api-keys``: the app's REST API keys, shown once when created, then by prefix."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form
from starlette.requests import Request
from starlette.responses import Response

from ftpush.errors import InvalidInput
from ftpush.storage import api_keys
from ftpush.web.panel.deps import AppView, LoggedIn, Posted, ScopedApp
from ftpush.web.panel.rendering import flash, page, redirect
from ftpush.web.panel.routing import page_router
from ftpush.web.panel.state import database
from ftpush.web.panel.templating import Section

SECTION = Section("api-keys", "API keys")

router = page_router()


def _keys_page(request: Request, app: AppView, *, status: int = 200, **context: Any) -> Response:
    with database(request).read() as session:
        rows = [
            {
                "prefix": k.prefix,
                "name": k.name,
                "created_at": k.created_at,
                "last_used_at": k.last_used_at,
                "revoked_at": k.revoked_at,
            }
            for k in api_keys.list_api_keys(session, app.key)
        ]
    values: dict[str, Any] = {"name": "", "created": None}
    values.update(context)
    return page(
        request, "api_keys.html", status=status, title=f"API keys · {app.key}", app=app,
        section="api-keys", keys=rows, **values,
    )  # fmt: skip


@router.get("/apps/{key}/api-keys")
def list_keys(request: Request, viewer: LoggedIn, app: ScopedApp) -> Response:
    return _keys_page(request, app)


@router.post("/apps/{key}/api-keys")
def create_key(
    request: Request, _: Posted, app: ScopedApp, name: Annotated[str, Form()] = ""
) -> Response:
    try:
        with database(request).transaction() as session:
            row, secret = api_keys.create_api_key(session, app.key, name)
            created = {"name": row.name, "prefix": row.prefix, "key": secret}
    except InvalidInput as exc:
        return _keys_page(
            request, app, status=422, name=name, error=exc.message, error_field="name"
        )
    return _keys_page(request, app, created=created)


@router.post("/apps/{key}/api-keys/{prefix}/revoke")
def revoke_key(request: Request, _: Posted, app: ScopedApp, prefix: str) -> Response:
    with database(request).transaction() as session:
        api_keys.revoke_api_key(session, prefix, app_key=app.key)
    flash(request, "success", f"API key {prefix} revoked: requests with it are refused now.")
    return redirect(f"/apps/{app.key}/api-keys")
