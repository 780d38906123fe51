"""`/events`: Events, push opens, app tracking.

``POST /events`` records a batch of 1 to 1000 events in one transaction. The whole
batch is checked first; a bad event rejects it all with a 422 whose ``field`` names
the event and its field (``events.3.params.message_id``), and nothing is written.

Every event names its subject: a user (``external_id``; created when unknown, as
device registration does) and/or a device of the app (``device_token`` or
``device_id``; unknown devices are an error). Two names are special (SPEC §7):

* ``push_opened``: ``params.message_id`` is what the push carried — the ledger id of
  the message (a number, or its digits as a string as FCM delivers them), its key
  ``msg_id:line:device_id``, or the campaign's ``msg_id`` alone, which then needs the
  user. The message gets its ``clicked_at`` (the first open only) and the user's
  inbox entry of that campaign line becomes read. A message of another app is
  unknown here.
* ``app_tracking``: ``params.tracked_app`` (a string) and ``params.installed``
  (true/false), about a device.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from ftpush.errors import InvalidInput
from ftpush.storage import Session
from ftpush.storage import events as store
from ftpush.storage.types import utcnow
from ftpush.web.api.users import MAX_ID, check_external_id, check_json, check_text
from ftpush.web.auth import AppCaller, Db

router = APIRouter(prefix="/events", tags=["events"])

MAX_EVENTS = 1000
MAX_NAME = 100
MAX_TRACKED_APP = 255
MAX_LINE = (1 << 31) - 1
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
FUTURE_SLACK = dt.timedelta(days=1)  # device clocks run ahead

PUSH_OPENED = "push_opened"
APP_TRACKING = "app_tracking"

_MSG_ID = re.compile(r"[A-Za-z0-9_-]{1,40}", re.ASCII)
_KEY = re.compile(r"([A-Za-z0-9_-]{1,40}):(\d{1,10}):(\d{1,19})", re.ASCII)
_DIGITS = re.compile(r"\d{1,19}", re.ASCII)


def _iso_text(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("an ISO 8601 datetime string with an offset is required")
    return value


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME)
    time: Annotated[AwareDatetime, BeforeValidator(_iso_text)] | None = Field(
        default=None,
        description="When it happened, ISO 8601 with an offset; default: when received.",
    )
    external_id: str | None = Field(default=None, min_length=1, max_length=255)
    device_token: str | None = Field(default=None, min_length=1, max_length=4096)
    device_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    params: dict[str, Any] = Field(default_factory=dict)


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1, max_length=MAX_EVENTS)


class Recorded(BaseModel):
    recorded: int
    opened: int = Field(description="push_opened events among them.")


@dataclass(frozen=True)
class _Opened:
    """The message a push_opened event names, in one of its three forms."""

    message_id: int | None = None
    key: tuple[str, int, int] | None = None
    msg_id: str | None = None


def _check(index: int, event: EventIn, now: dt.datetime) -> tuple[dt.datetime, _Opened | None]:
    """Checks needing no database; the event's time in UTC and what it opened."""
    at = f"events.{index}"
    check_text(event.name, f"{at}.name", max_length=MAX_NAME)
    if event.external_id is not None:
        check_external_id(event.external_id, f"{at}.external_id")
    if event.device_token is not None:
        check_text(event.device_token, f"{at}.device_token", max_length=4096)
    check_json(event.params, f"{at}.params")
    when = now
    if event.time is not None:
        try:
            when = event.time.astimezone(dt.UTC)
        except OverflowError:
            when = EARLIEST - dt.timedelta(days=1)
        if not EARLIEST <= when <= now + FUTURE_SLACK:
            raise InvalidInput(
                "the time must be after 2000-01-01 and at most a day ahead", field=f"{at}.time"
            )
    opened = None
    if event.name == PUSH_OPENED:
        opened = _opened(event.params.get("message_id"), f"{at}.params.message_id")
    elif event.name == APP_TRACKING:
        tracked = event.params.get("tracked_app")
        if not isinstance(tracked, str):
            raise InvalidInput(
                "app_tracking needs tracked_app (a string)", field=f"{at}.params.tracked_app"
            )
        check_text(tracked, f"{at}.params.tracked_app", max_length=MAX_TRACKED_APP)
        if not isinstance(event.params.get("installed"), bool):
            raise InvalidInput(
                "app_tracking needs installed (true or false)", field=f"{at}.params.installed"
            )
        if event.device_token is None and event.device_id is None:
            raise InvalidInput(
                "app_tracking is about a device: give device_token or device_id",
                field=f"{at}.device_token",
            )
    anonymous = event.external_id is None and event.device_token is None
    if anonymous and event.device_id is None and (opened is None or opened.msg_id is not None):
        # A message id or key names its device and user; anything else must name one.
        raise InvalidInput(
            "name the user (external_id) or the device (device_token or device_id)",
            field=f"{at}.external_id",
        )
    return when, opened


def _opened(value: Any, field: str) -> _Opened:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID:
        return _Opened(message_id=value)
    if isinstance(value, str):
        if _DIGITS.fullmatch(value) and 1 <= int(value) <= MAX_ID:
            return _Opened(message_id=int(value))
        key = _KEY.fullmatch(value)
        if key and int(key[2]) <= MAX_LINE and 1 <= int(key[3]) <= MAX_ID:
            return _Opened(key=(key[1], int(key[2]), int(key[3])))
        if _MSG_ID.fullmatch(value) and not value.isdigit():
            return _Opened(msg_id=value)
    raise InvalidInput(
        "push_opened needs message_id: the message's id, its key msg_id:line:device_id, "
        "or the campaign's msg_id",
        field=field,
    )


@router.post("", summary="Record a batch of events (push opens and app tracking included)")
def record_events(caller: AppCaller, db: Db, batch: Annotated[EventBatch, Body()]) -> Recorded:
    now = utcnow()
    checked = [_check(i, event, now) for i, event in enumerate(batch.events)]
    with db.transaction() as session:
        rows, opened = _resolve(session, caller.app_id, batch.events, checked)
        store.mark_opened(session, opened)
        store.insert_events(session, caller.app_id, rows)
    return Recorded(recorded=len(rows), opened=len(opened))


def _resolve(
    session: Session,
    app_id: int,
    events: list[EventIn],
    checked: list[tuple[dt.datetime, _Opened | None]],
) -> tuple[list[store.EventRow], list[tuple[store.OpenedRef, dt.datetime]]]:
    """Devices, users and opened messages of the batch; InvalidInput for the first miss."""
    by_token = store.devices_by_token(
        session, app_id, [e.device_token for e in events if e.device_token is not None]
    )
    by_id = store.devices_by_id(session, app_id, [e.device_id for e in events if e.device_id])
    user_ids = store.ensure_users(
        session, app_id, [e.external_id for e in events if e.external_id is not None]
    )
    rows: list[store.EventRow] = []
    opened: list[tuple[store.OpenedRef, dt.datetime]] = []
    for index, (event, (when, opens)) in enumerate(zip(events, checked, strict=True)):
        at = f"events.{index}"
        device = None
        if event.device_token is not None:
            device = by_token.get(event.device_token)
            if device is None:
                raise InvalidInput(
                    "no device of this app has this token", field=f"{at}.device_token"
                )
        if event.device_id is not None:
            by_number = by_id.get(event.device_id)
            if by_number is None:
                raise InvalidInput("no device of this app has this id", field=f"{at}.device_id")
            if device is not None and device.id != by_number.id:
                raise InvalidInput(
                    "device_token and device_id name two devices", field=f"{at}.device_id"
                )
            device = by_number
        user_id = user_ids[event.external_id] if event.external_id is not None else None
        if user_id is None and device is not None:
            user_id = device.user_id
        device_id = device.id if device is not None else None
        if opens is not None:
            ref = _find_opened(session, app_id, opens, user_id, device_id)
            if ref is None:
                raise InvalidInput(
                    "no message of this app matches message_id"
                    + (" for this user" if opens.msg_id is not None else ""),
                    field=f"{at}.params.message_id",
                )
            opened.append((ref, when))
            user_id = user_id if user_id is not None else ref.user_id
            device_id = device_id if device_id is not None else ref.device_id
        rows.append(store.EventRow(user_id, device_id, event.name, when, event.params))
    return rows, opened


def _find_opened(
    session: Session, app_id: int, opens: _Opened, user_id: int | None, device_id: int | None
) -> store.OpenedRef | None:
    if opens.message_id is not None:
        return store.message_by_id(session, app_id, opens.message_id)
    if opens.key is not None:
        return store.message_by_key(session, app_id, *opens.key)
    if opens.msg_id is None or user_id is None:
        return None
    return store.line_of_user(session, app_id, opens.msg_id, user_id, device_id)
