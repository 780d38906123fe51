"""``/apps/{key}/users``: look a user up by external ID (a GET form, no script needed).

Shows the profile (e-mail, msisdn, attributes with their declared types), the devices
(push tokens shortened), the Inbox (every status, newest first) and recent events —
what ``GET /api/v1/users/{external_id}`` and ``…/inbox`` read, through the same storage
functions. The external ID is checked as the API checks it; an unknown one is a
message on this page (status 404), not an error page.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import Query
from starlette.requests import Request
from starlette.responses import Response

from ftpush.errors import InvalidInput
from ftpush.storage import Session, apps, events, inbox, users
from ftpush.storage import attributes as attribute_store
from ftpush.storage.tables import Device, User
from ftpush.storage.types import utcnow
from ftpush.web.api.users import check_external_id
from ftpush.web.panel.deps import AppView, LoggedIn, ScopedApp
from ftpush.web.panel.rendering import page
from ftpush.web.panel.routing import page_router
from ftpush.web.panel.state import database
from ftpush.web.panel.templating import Section

SECTION = Section("users", "Users")

router = page_router()

INBOX_SHOWN = 20
EVENTS_SHOWN = 20
EVENTS_DAYS = 30  # events are indexed by app and time: the look-back bounds the scan

# No length limit here: the check says what an external ID is, next to the field.
ExternalIdQuery = Annotated[str, Query()]


def short_token(token: str) -> str:
    """A push token as the page shows it: its start and end, enough to recognise it.

    >>> short_token("a1" * 32)
    'a1a1a1a1…a1a1'
    >>> short_token("fcm-short")
    'fcm-short'
    """
    return token if len(token) <= 14 else f"{token[:8]}…{token[-4:]}"


def shown_value(value: Any) -> str:
    """An attribute or event parameter as text: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _device(device: Device) -> dict[str, Any]:
    return {
        "platform": str(device.platform),
        "token": short_token(device.token),
        "app_version": device.app_version,
        "os_version": device.os_version,
        "push_permission": device.push_permission,
        "token_state": str(device.token_state),
        "installed_at": device.installed_at,
        "last_seen_at": device.last_seen_at,
        "uninstalled_at": device.uninstalled_at,
    }


def _profile(session: Session, app: AppView, user: User) -> dict[str, Any]:
    declared = attribute_store.attribute_types(session, app.key)
    since = utcnow() - dt.timedelta(days=EVENTS_DAYS)
    recent = events.recent_user_events(
        session, user.app_id, user.id, since=since, limit=EVENTS_SHOWN
    )
    return {
        "external_id": user.external_id,
        "email": user.email,
        "msisdn": user.msisdn,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
        "attributes": [
            {
                "name": name,
                "type": str(declared[name]) if name in declared else None,
                "value": shown_value(value),
            }
            for name, value in sorted((user.attributes or {}).items(), key=lambda i: i[0].lower())
        ],
        "devices": [_device(d) for d in users.user_devices(session, user.id)],
        "inbox": [
            {
                "msg_id": e.msg_id,
                "text": e.entry.text,
                "deeplink": e.entry.deeplink,
                "status": str(e.entry.status),
                "created_at": e.entry.created_at,
                "read_at": e.entry.read_at,
                "deleted_at": e.entry.deleted_at,
            }
            for e in inbox.recent_entries(session, user.id, limit=INBOX_SHOWN)
        ],
        "inbox_counts": inbox.status_counts(session, user.id),
        "events": [
            {
                "name": ev.name,
                "occurred_at": ev.occurred_at,
                "device": short_token(ev.device_token) if ev.device_token else None,
                "params": [(k, shown_value(v)) for k, v in sorted(ev.params.items())],
            }
            for ev in recent
        ],
    }


@router.get("/apps/{key}/users")
def look_up_user(
    request: Request, viewer: LoggedIn, app: ScopedApp, external_id: ExternalIdQuery = ""
) -> Response:
    values: dict[str, Any] = {
        "external_id": external_id, "user": None, "missing": False, "field_error": None,
        "limits": (INBOX_SHOWN, EVENTS_SHOWN, EVENTS_DAYS),
    }  # fmt: skip
    status = 200
    if external_id:
        try:
            check_external_id(external_id)
        except InvalidInput as exc:
            values["field_error"] = f"Not an external ID: {exc.message}."
            status = 422
        else:
            with database(request).read() as session:
                app_id = apps.get_app(session, app.key).id
                found = users.find_user(session, app_id, external_id)
                if found is None:
                    values["missing"] = True
                    status = 404
                else:
                    values["user"] = _profile(session, app, found)
    return page(
        request, "users.html", status=status, title=f"Users · {app.key}", app=app,
        section="users", **values,
    )  # fmt: skip
