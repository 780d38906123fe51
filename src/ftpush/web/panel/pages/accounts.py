"""``/apps/{key}/accounts``: the app's FTP accounts.

Create one (its generated password is in that one response and nowhere else, ever),
then per account: SSH public keys, the IP allowlist, disable/enable, delete.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Form
from starlette.requests import Request
from starlette.responses import Response

from ftpush.errors import Conflict, InvalidInput
from ftpush.storage import Session, accounts
from ftpush.web.panel.deps import AppView, LoggedIn, Posted, ScopedApp
from ftpush.web.panel.rendering import flash, page, redirect
from ftpush.web.panel.routing import page_router
from ftpush.web.panel.state import database
from ftpush.web.panel.templating import Section

SECTION = Section("accounts", "FTP accounts")

router = page_router()

FormText = Annotated[str, Form()]


def key_lines(text: str) -> list[str]:
    """One OpenSSH public key per line; blank lines and ``#`` comments are skipped."""
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def networks(text: str) -> list[str]:
    """CIDRs separated by lines, commas or spaces."""
    return [part for part in re.split(r"[\s,]+", text) if part]


# Storage names the value it refused; the forms name their inputs.
_INPUT_OF = {"cidr": "allow", "ssh_key": "ssh_keys"}


def _input(exc: InvalidInput | Conflict, default: str | None = None) -> str | None:
    field = getattr(exc, "field", None)
    return _INPUT_OF.get(field, field) if field else default


def _list_page(request: Request, app: AppView, *, status: int = 200, **context: Any) -> Response:
    with database(request).read() as session:
        found = accounts.describe_accounts(session, app.key)
    values: dict[str, Any] = {
        "form": {"username": "", "allow": "", "ssh_keys": ""},
        "created": None,
    }
    values.update(context)
    return page(
        request, "accounts.html", status=status, title=f"FTP accounts · {app.key}", app=app,
        section="accounts", accounts=found, **values,
    )  # fmt: skip


@router.get("/apps/{key}/accounts")
def list_accounts(request: Request, viewer: LoggedIn, app: ScopedApp) -> Response:
    return _list_page(request, app)


@router.post("/apps/{key}/accounts")
def create_account(
    request: Request,
    _: Posted,
    app: ScopedApp,
    username: FormText = "",
    allow: FormText = "",
    ssh_keys: FormText = "",
) -> Response:
    username = username.strip()
    try:
        with database(request).transaction() as session:
            _account, password = accounts.add_account(
                session, app_key=app.key, username=username, cidrs=networks(allow),
                ssh_keys=key_lines(ssh_keys),
            )  # fmt: skip
    except (InvalidInput, Conflict) as exc:
        form = {"username": username, "allow": allow, "ssh_keys": ssh_keys}
        return _list_page(
            request, app, status=422, form=form, error=exc.message,
            error_field=_input(exc, "username"),
        )  # fmt: skip
    return _list_page(request, app, created={"username": username, "password": password})


def _detail_page(
    request: Request, app: AppView, username: str, *, status: int = 200, **context: Any
) -> Response:
    with database(request).read() as session:
        [account] = accounts.describe_accounts(session, app.key, username)
    return page(
        request, "account.html", status=status, title=f"{username} · {app.key}", app=app,
        section="accounts", account=account, **context,
    )  # fmt: skip


@router.get("/apps/{key}/accounts/{username}")
def show_account(request: Request, app: ScopedApp, username: str) -> Response:
    return _detail_page(request, app, username)


def _change(
    request: Request,
    app: AppView,
    username: str,
    change: Callable[[Session], str],
) -> Response:
    """Apply ``change`` to the app's account ``username``; flash its note or re-show the error."""
    try:
        with database(request).transaction() as session:
            accounts.get_app_account(session, app.key, username)  # another app's: 404
            note = change(session)
    except (InvalidInput, Conflict) as exc:
        return _detail_page(
            request, app, username, status=422, error=exc.message,
            error_field=_input(exc),
        )  # fmt: skip
    flash(request, "success", note)
    return redirect(f"/apps/{app.key}/accounts/{username}")


@router.post("/apps/{key}/accounts/{username}/keys")
def add_keys(
    request: Request, _: Posted, app: ScopedApp, username: str, ssh_keys: FormText = ""
) -> Response:
    def change(session: Session) -> str:
        lines = key_lines(ssh_keys)
        if not lines:
            raise InvalidInput("paste an OpenSSH public key", field="ssh_keys")
        prints = [accounts.add_ssh_key(session, username, line) for line in lines]
        return "Added key " + ", ".join(prints) + "."

    return _change(request, app, username, change)


@router.post("/apps/{key}/accounts/{username}/keys/remove")
def remove_key(
    request: Request, _: Posted, app: ScopedApp, username: str, fingerprint: FormText = ""
) -> Response:
    def change(session: Session) -> str:
        accounts.remove_ssh_key(session, username, fingerprint)
        return f"Removed key {fingerprint}."

    return _change(request, app, username, change)


@router.post("/apps/{key}/accounts/{username}/networks")
def allow_networks(
    request: Request, _: Posted, app: ScopedApp, username: str, allow: FormText = ""
) -> Response:
    def change(session: Session) -> str:
        given = networks(allow)
        if not given:
            raise InvalidInput("give a network such as 203.0.113.0/24", field="allow")
        added = [accounts.allow_ip(session, username, cidr) for cidr in given]
        return f"{username} may now log in from " + ", ".join(added) + "."

    return _change(request, app, username, change)


@router.post("/apps/{key}/accounts/{username}/networks/remove")
def disallow_network(
    request: Request, _: Posted, app: ScopedApp, username: str, cidr: FormText = ""
) -> Response:
    def change(session: Session) -> str:
        removed = accounts.disallow_ip(session, username, cidr)
        return f"{removed} removed from the allowlist."

    return _change(request, app, username, change)


@router.post("/apps/{key}/accounts/{username}/enabled")
def switch_account(
    request: Request, _: Posted, app: ScopedApp, username: str, enabled: FormText = ""
) -> Response:
    on = enabled == "on"

    def change(session: Session) -> str:
        accounts.set_enabled(session, username, on)
        return f"{username} is {'enabled' if on else 'disabled: its logins are refused'}."

    return _change(request, app, username, change)


@router.post("/apps/{key}/accounts/{username}/delete")
def delete_account(
    request: Request, _: Posted, app: ScopedApp, username: str, confirm: FormText = ""
) -> Response:
    if confirm != "yes":
        return _detail_page(
            request, app, username, status=422, error_field="confirm",
            error="Tick the box to confirm that the account is to be deleted.",
        )  # fmt: skip
    with database(request).transaction() as session:
        accounts.get_app_account(session, app.key, username)
        accounts.remove_account(session, username)
    flash(request, "success", f"Account {username} deleted.")
    return redirect(f"/apps/{app.key}/accounts")
