"""``/login``, ``/logout``, ``/password`` and ``/`` (to the user's start page)."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import Form
from starlette.requests import Request
from starlette.responses import Response

from ftpush.errors import InvalidInput
from ftpush.storage import panel_users
from ftpush.web.panel.deps import CurrentBrowser, LoggedIn, Posted, client_address
from ftpush.web.panel.rendering import cookie_job, flash, page, redirect, safe_next
from ftpush.web.panel.routing import page_router
from ftpush.web.panel.state import database, panel_state

router = page_router()

FormText = Annotated[str, Form()]


@router.get("/")
def home(viewer: LoggedIn) -> Response:
    return redirect("/apps" if viewer.is_admin else f"/apps/{viewer.app_key}")


@router.get("/login")
def login_form(request: Request, browser: CurrentBrowser, next: str = "/") -> Response:
    if browser.viewer is not None:
        return redirect(safe_next(next))
    return page(request, "login.html", title="Log in", next=safe_next(next), username="")


def _too_many(request: Request, template: str, wait: int, **context: str) -> Response:
    minutes = math.ceil(wait / 60)
    return page(
        request,
        template,
        status=429,
        headers={"Retry-After": str(wait)},
        error=f"Too many failed attempts for this user from your address. "
        f"Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
        **context,
    )


@router.post("/login")
def login(
    request: Request,
    browser: Posted,
    username: FormText = "",
    password: FormText = "",
    next: FormText = "/",
) -> Response:
    state = panel_state(request)
    address = client_address(request)
    target = safe_next(next)
    wait = state.limiter.retry_after(username, address)
    if wait is not None:
        return _too_many(
            request, "login.html", wait, title="Log in", next=target, username=username
        )
    with database(request).transaction() as session:
        user = panel_users.verify_login(session, username, password)
        user_id = user.id if user is not None else None
    if user_id is None:
        state.limiter.failed(username, address)
        return page(
            request,
            "login.html",
            title="Log in",
            next=target,
            username=username,
            error="Wrong username or password.",
        )
    state.limiter.succeeded(username, address)
    state.sessions(database(request)).start(user_id, browser, cookie_job(request))
    return redirect(target)


@router.post("/logout")
def logout(request: Request, browser: Posted) -> Response:
    panel_state(request).sessions(database(request)).end(browser, cookie_job(request))
    flash(request, "info", "You are logged out.")
    return redirect("/login")


@router.get("/password")
def password_form(request: Request, viewer: LoggedIn) -> Response:
    return page(request, "password.html", title="Change password")


@router.post("/password")
def change_password(
    request: Request,
    browser: Posted,
    viewer: LoggedIn,
    current_password: FormText = "",
    new_password: FormText = "",
    confirm_password: FormText = "",
) -> Response:
    state = panel_state(request)
    address = client_address(request)
    wait = state.limiter.retry_after(viewer.username, address)
    if wait is not None:
        return _too_many(request, "password.html", wait, title="Change password")
    try:
        if new_password != confirm_password:
            raise InvalidInput("the two new passwords differ", field="confirm_password")
        with database(request).transaction() as session:
            panel_users.change_password(session, viewer.user_id, current_password, new_password)
    except InvalidInput as exc:
        if exc.field == "current_password":
            state.limiter.failed(viewer.username, address)
        return page(
            request,
            "password.html",
            status=422,
            title="Change password",
            error=exc.message,
            error_field="new_password" if exc.field == "password" else exc.field,
        )
    state.sessions(database(request)).start(viewer.user_id, browser, cookie_job(request))
    flash(request, "success", "Password changed. Every other session of yours was logged out.")
    return redirect("/")
