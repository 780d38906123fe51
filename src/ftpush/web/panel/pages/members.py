"""``/apps/{key}/members``: the app's panel members — for admins only (decision 0903).

An admin creates a member (its generated password is in that one response and nowhere
else, as for FTP accounts), disables, enables or deletes one; disabling or deleting ends
the member's sessions at once. A member asking for this page of their own app gets 403
(it is the operator's), of another app 404 (decision 0901). The same storage functions
serve ``ftpush admin create-member | list | disable | enable | remove``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form
from starlette.requests import Request
from starlette.responses import Response

from ftpush.errors import Conflict, InvalidInput
from ftpush.storage import panel_users
from ftpush.web.panel.deps import Admin, AppView, Posted, ScopedApp
from ftpush.web.panel.rendering import flash, page, redirect
from ftpush.web.panel.routing import page_router
from ftpush.web.panel.state import database

router = page_router()

FormText = Annotated[str, Form()]


def _members_page(request: Request, app: AppView, *, status: int = 200, **context: Any) -> Response:
    with database(request).read() as session:
        members = panel_users.list_panel_users(session, app.key)
    values: dict[str, Any] = {"username": "", "created": None, "username_error": None}
    values.update(context)
    return page(
        request, "members.html", status=status, title=f"Members · {app.key}", app=app,
        section="members", members=members, **values,
    )  # fmt: skip


@router.get("/apps/{key}/members")
def list_members(request: Request, app: ScopedApp, viewer: Admin) -> Response:
    return _members_page(request, app)


@router.post("/apps/{key}/members")
def create_member(
    request: Request, _: Posted, app: ScopedApp, viewer: Admin, username: FormText = ""
) -> Response:
    username = username.strip()
    try:
        with database(request).transaction() as session:
            _user, password = panel_users.create_member(session, username=username, app_key=app.key)
    except (InvalidInput, Conflict) as exc:
        return _members_page(
            request, app, status=409 if isinstance(exc, Conflict) else 422, username=username,
            username_error=exc.message, error=f"No member was created: {exc.message}",
        )  # fmt: skip
    return _members_page(request, app, created={"username": username, "password": password})


@router.post("/apps/{key}/members/{username}/enabled")
def switch_member(
    request: Request,
    _: Posted,
    app: ScopedApp,
    viewer: Admin,
    username: str,
    enabled: FormText = "",
) -> Response:
    on = enabled == "on"
    with database(request).transaction() as session:
        ended = panel_users.set_panel_user_enabled(session, username, on, app_key=app.key)
    if on:
        flash(request, "success", f"{username} is enabled: they can log in again.")
    else:
        flash(
            request,
            "success",
            f"{username} is disabled: logins are refused, and {ended} open "
            f"session{'s' if ended != 1 else ''} ended.",
        )
    return redirect(f"/apps/{app.key}/members")


@router.post("/apps/{key}/members/{username}/delete")
def delete_member(
    request: Request,
    _: Posted,
    app: ScopedApp,
    viewer: Admin,
    username: str,
    confirm: FormText = "",
) -> Response:
    if confirm != "yes":
        flash(request, "error", f"Tick the box next to Delete to confirm deleting {username}.")
        return redirect(f"/apps/{app.key}/members")
    with database(request).transaction() as session:
        panel_users.remove_panel_user(session, username, app_key=app.key)
    flash(request, "success", f"Member {username} deleted; their sessions are ended.")
    return redirect(f"/apps/{app.key}/members")
