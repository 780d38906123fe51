"""How panel routes are declared, and how their errors become pages.

Every page module makes its router with :func:`page_router`. Its routes are left out
of the OpenAPI document (the API's schema stays the API's) and use :class:`PanelRoute`,
which answers errors with HTML instead of the API's problem details:

* :class:`LoginRequired` → 303 to ``/login?next=…`` (a POST is not carried out, and says so);
* :class:`PanelError` → an error page with its status (403 CSRF, 404 another app's…);
* errors of :mod:`ftpush.errors` that a page did not handle itself → 404 / 403 / 409 /
  422 pages with the error's message (routes catch input errors to re-show their form).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ftpush.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ftpush.web.panel.rendering import finalize, flash, login_url, page, redirect

NOT_FOUND = "There is no such page, or it is not yours to see."


class PanelError(Exception):
    """Stop the request with an error page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class LoginRequired(Exception):
    """The page needs a logged-in user; the browser is sent to the login form."""


_TITLES = {403: "Not allowed", 404: "Not found", 409: "Conflict", 422: "Cannot do that"}


def _error_page(request: Request, status: int, message: str) -> Response:
    title = _TITLES.get(status, "Error")
    return page(request, "error.html", status=status, title=title, message=message)


def _to_login(request: Request) -> Response:
    if request.method == "POST":
        flash(request, "info", "Your session has ended, so the form was not sent: log in again.")
    return redirect(login_url(request))


class PanelRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                response = await handler(request)
            except LoginRequired:
                response = _to_login(request)
            except PanelError as exc:
                response = _error_page(request, exc.status, exc.message)
            except NotFound:
                response = _error_page(request, 404, NOT_FOUND)
            except PermissionDenied as exc:
                response = _error_page(request, 403, exc.message)
            except Conflict as exc:
                response = _error_page(request, 409, exc.message)
            except InvalidInput as exc:
                response = _error_page(request, 422, exc.message)
            except RequestValidationError:
                response = _error_page(request, 422, "The form was incomplete; please fill it in.")
            return finalize(request, response)

        return guarded


def page_router() -> APIRouter:
    """A router for one page module: HTML by default, outside the OpenAPI document."""
    return APIRouter(
        route_class=PanelRoute, include_in_schema=False, default_response_class=HTMLResponse
    )
