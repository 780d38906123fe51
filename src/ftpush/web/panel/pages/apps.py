"""``/apps``: every app for an admin (create one, switch its FTP offer), a member's own app."""

from __future__ import annotations

import zoneinfo
from functools import cache
from typing import Annotated, Any

from fastapi import Form
from starlette.requests import Request
from starlette.responses import Response

from ftpush.errors import Conflict, InvalidInput
from ftpush.storage import apps
from ftpush.web.panel.deps import Admin, AppView, LoggedIn, Posted, ScopedApp
from ftpush.web.panel.rendering import flash, page, redirect
from ftpush.web.panel.routing import page_router
from ftpush.web.panel.state import database

router = page_router()

FormText = Annotated[str, Form()]


@cache
def timezones() -> tuple[str, ...]:
    """IANA region/city names (and UTC), for the timezone field's suggestions."""
    return ("UTC", *sorted(tz for tz in zoneinfo.available_timezones() if "/" in tz))


def _apps_page(
    request: Request, viewer: LoggedIn, *, status: int = 200, **context: Any
) -> Response:
    with database(request).read() as session:
        shown = [
            AppView(a.key, a.name, a.timezone, a.ftp_enabled)
            for a in apps.list_apps(session)
            if viewer.may_see(a.key)
        ]
    values: dict[str, Any] = {"form": {"key": "", "name": "", "timezone": "UTC", "ftp": True}}
    values.update(context)
    return page(
        request, "apps.html", status=status, title="Apps", apps=shown, timezones=timezones(),
        **values,
    )  # fmt: skip


@router.get("/apps")
def list_apps(request: Request, viewer: LoggedIn) -> Response:
    return _apps_page(request, viewer)


@router.post("/apps")
def create_app(
    request: Request,
    _: Posted,
    viewer: Admin,
    key: FormText = "",
    name: FormText = "",
    timezone: FormText = "UTC",
    ftp: FormText = "",
) -> Response:
    key, name, timezone = key.strip(), name.strip(), timezone.strip() or "UTC"
    try:
        with database(request).transaction() as session:
            apps.create_app(session, key=key, name=name or None, timezone=timezone)
            if not ftp:
                apps.set_ftp_enabled(session, key, False)
    except (InvalidInput, Conflict) as exc:
        form = {"key": key, "name": name, "timezone": timezone, "ftp": bool(ftp)}
        return _apps_page(
            request, viewer, status=422, form=form, error=exc.message,
            error_field=getattr(exc, "field", None) or "key",
        )  # fmt: skip
    flash(request, "success", f"App {key} created; its FTP offer is {'on' if ftp else 'off'}.")
    return redirect("/apps")


@router.get("/apps/{key}")
def app_home(app: ScopedApp) -> Response:
    return redirect(f"/apps/{app.key}/accounts")


@router.post("/apps/{key}/ftp")
def switch_ftp(
    request: Request, _: Posted, app: ScopedApp, viewer: Admin, enabled: FormText = ""
) -> Response:
    on = enabled == "on"
    with database(request).transaction() as session:
        apps.set_ftp_enabled(session, app.key, on)
    flash(
        request,
        "success",
        f"FTP offer of {app.key} is now {'on' if on else 'off'}"
        + ("." if on else ": its logins are refused, pollers and nightly exports stop."),
    )
    return redirect("/apps")
