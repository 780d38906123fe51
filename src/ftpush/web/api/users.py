"""`/users`: User profiles and inboxes.

* ``GET /users/{external_id}``: the profile (e-mail, msisdn, typed attributes, devices).
* ``PATCH /users/{external_id}``: set or remove e-mail, msisdn and attributes, as one
  line of a profile file would (``null`` removes, absent stays); the user is created
  when it does not exist yet, as a profile file does (decision 0700).
* ``GET /users/{external_id}/inbox``: entries newest first, by status, with a cursor
  and the unread count; ``PATCH /users/{external_id}/inbox/{id}``: change a status.

Attribute values are checked against the app's declared types with the converters of
:mod:`ftpush.formats.values` and merged by :func:`ftpush.storage.profiles.apply_profile_rows`,
the same code a profile file goes through.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import zoneinfo
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from ftpush.errors import InvalidInput
from ftpush.formats.base import UNCHANGED, ProfileRow, Setting
from ftpush.formats.values import (
    AttributeValue,
    ValueRejected,
    _json_element,
    converter,
    parse_email,
    parse_msisdn,
)
from ftpush.models import AttributeType, InboxStatus, normalize_column_name
from ftpush.storage import attributes as attribute_store
from ftpush.storage import inbox, users
from ftpush.storage.profiles import apply_profile_rows
from ftpush.storage.tables import Device, InboxEntry, User
from ftpush.web.auth import AppCaller, Db
from ftpush.web.pagination import Cursor, Limit, decode_cursor, next_cursor

router = APIRouter(prefix="/users", tags=["users"])

MAX_EXTERNAL_ID = 255
MAX_ID = (1 << 63) - 1
MAX_JSON_DEPTH = 16

ExternalId = Annotated[
    str,
    Path(min_length=1, max_length=MAX_EXTERNAL_ID, description="The customer's user ID."),
]


# --- checks shared by the routers (devices, events) ----------------------------------


def check_external_id(value: str, field: str = "external_id") -> str:
    """An external ID as push files and the transactional API accept it."""
    if (
        not value
        or len(value) > MAX_EXTERNAL_ID
        or value != value.strip()
        or not value.isprintable()
        or not _encodable(value)
    ):
        raise InvalidInput(
            f"an external ID is 1-{MAX_EXTERNAL_ID} printable characters without spaces around it",
            field=field,
        )
    return value


def check_text(value: str, field: str, *, max_length: int) -> str:
    """A short free text (versions, names): printable, at most ``max_length`` characters."""
    if not value or len(value) > max_length or not value.isprintable() or not _encodable(value):
        raise InvalidInput(f"1-{max_length} printable characters", field=field)
    return value


def check_json(value: Any, field: str, depth: int = 0) -> None:
    """A JSON value the databases can store: no NUL or lone surrogates, finite numbers."""
    if depth > MAX_JSON_DEPTH:
        raise InvalidInput(f"nested deeper than {MAX_JSON_DEPTH} levels", field=field)
    if isinstance(value, str):
        if "\x00" in value or not _encodable(value):
            raise InvalidInput("a string holds NUL or an unpaired surrogate", field=field)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput("numbers must be finite", field=field)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_json(key, field, depth + 1)
            check_json(item, f"{field}.{key}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_json(item, f"{field}.{index}", depth + 1)


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


# --- models ------------------------------------------------------------------------


class DeviceOut(BaseModel):
    id: int
    token: str
    platform: str
    external_id: str | None
    push_permission: bool
    app_version: str | None
    os_version: str | None
    token_state: str
    installed_at: dt.datetime
    last_seen_at: dt.datetime | None
    uninstalled_at: dt.datetime | None
    updated_at: dt.datetime


def device_out(device: Device, external_id: str | None) -> DeviceOut:
    return DeviceOut(
        id=device.id,
        token=device.token,
        platform=str(device.platform),
        external_id=external_id,
        push_permission=device.push_permission,
        app_version=device.app_version,
        os_version=device.os_version,
        token_state=str(device.token_state),
        installed_at=device.installed_at,
        last_seen_at=device.last_seen_at,
        uninstalled_at=device.uninstalled_at,
        updated_at=device.updated_at,
    )


class UserOut(BaseModel):
    external_id: str
    email: str | None
    msisdn: str | None
    attributes: dict[str, Any] = Field(
        description="Declared attributes; dates and datetimes as ISO 8601 strings."
    )
    devices: list[DeviceOut]
    created_at: dt.datetime
    updated_at: dt.datetime


class UserPatch(BaseModel):
    """Absent fields stay as they are; ``null`` removes."""

    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, max_length=320)
    msisdn: str | None = Field(default=None, max_length=40)
    attributes: dict[str, Any] = Field(
        default_factory=dict,
        description="Declared attribute name → value of its type, or null to remove it.",
    )


class InboxEntryOut(BaseModel):
    id: int
    campaign: str = Field(description="The campaign's msg_id.")
    line: int
    text: str
    deeplink: str | None
    status: InboxStatus
    created_at: dt.datetime
    read_at: dt.datetime | None
    deleted_at: dt.datetime | None


class InboxPage(BaseModel):
    items: list[InboxEntryOut]
    next_cursor: str | None = None
    unread: int = Field(description="The user's unread entries (all pages).")


class InboxPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: InboxStatus


def _entry_out(entry: InboxEntry, msg_id: str) -> InboxEntryOut:
    return InboxEntryOut(
        id=entry.id,
        campaign=msg_id,
        line=entry.line_no,
        text=entry.text,
        deeplink=entry.deeplink,
        status=entry.status,
        created_at=entry.created_at,
        read_at=entry.read_at,
        deleted_at=entry.deleted_at,
    )


def _user_out(user: User, devices: list[Device]) -> UserOut:
    return UserOut(
        external_id=user.external_id,
        email=user.email,
        msisdn=user.msisdn,
        attributes=dict(user.attributes or {}),
        devices=[device_out(d, user.external_id) for d in devices],
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


# --- attribute values ------------------------------------------------------------------


def attribute_value(type_: AttributeType, value: Any, zone: dt.tzinfo) -> AttributeValue:
    """A JSON value checked against its declared type (ValueRejected when it does not fit).

    JSON types must match: ``"25"`` is not an integer and ``1`` is not a boolean;
    dates and datetimes are ISO 8601 strings (a datetime without offset is in the
    app's timezone, as in profile files).
    """
    if type_.is_array:
        if not isinstance(value, list):
            raise ValueRejected("invalid_array", f"{type_} needs a JSON array")
        # The array converter reads JSON text; encoding the checked value gives it back.
        return converter(type_, zone)(json.dumps(value))
    return _json_element(type_, zone)(value)


def _profile_row(
    external_id: str, patch: UserPatch, declared: dict[str, AttributeType], zone: dt.tzinfo
) -> ProfileRow:
    email: Setting = UNCHANGED
    msisdn: Setting = UNCHANGED
    if "email" in patch.model_fields_set:
        email = _identity(patch.email, parse_email, "email")
    if "msisdn" in patch.model_fields_set:
        msisdn = _identity(patch.msisdn, parse_msisdn, "msisdn")
    by_key = {normalize_column_name(name): (name, t) for name, t in declared.items()}
    values: dict[str, AttributeValue | None] = {}
    for given, value in patch.attributes.items():
        field = f"attributes.{given}"
        found = by_key.get(normalize_column_name(given))
        if found is None:
            raise InvalidInput(
                f"attribute {given!r} is not declared (PUT /api/v1/attributes declares it)",
                field=field,
            )
        name, type_ = found
        if value is None:
            values[name] = None
            continue
        check_json(value, field)
        try:
            values[name] = attribute_value(type_, value, zone)
        except ValueRejected as exc:
            raise InvalidInput(f"{given}: {exc.message} ({type_})", field=field) from None
    return ProfileRow(1, external_id, email=email, msisdn=msisdn, attributes=values)


def _identity(value: str | None, parse: Any, field: str) -> str | None:
    if value is None:
        return None
    try:
        parsed: str = parse(value)
    except ValueRejected as exc:
        raise InvalidInput(exc.message, field=field) from None
    return parsed


# --- routes -------------------------------------------------------------------------


@router.get("/{external_id}", summary="A user's profile and devices")
def get_user(caller: AppCaller, db: Db, external_id: ExternalId) -> UserOut:
    check_external_id(external_id)
    with db.read() as session:
        user = users.get_user(session, caller.app_id, external_id)
        return _user_out(user, list(users.user_devices(session, user.id)))


@router.patch(
    "/{external_id}",
    summary="Set or remove e-mail, msisdn and attributes; creates the user if needed",
)
def patch_user(
    caller: AppCaller, db: Db, external_id: ExternalId, patch: Annotated[UserPatch, Body()]
) -> UserOut:
    check_external_id(external_id)
    zone = zoneinfo.ZoneInfo(caller.timezone)
    with db.transaction() as session:
        declared = attribute_store.attribute_types(session, caller.app_key)
        row = _profile_row(external_id, patch, declared, zone)
        apply_profile_rows(session, caller.app_id, [row])
        session.expire_all()  # the merge ran as plain SQL
        user = users.get_user(session, caller.app_id, external_id)
        return _user_out(user, list(users.user_devices(session, user.id)))


@router.get("/{external_id}/inbox", summary="A user's inbox, newest first, and the unread count")
def list_inbox(
    caller: AppCaller,
    db: Db,
    external_id: ExternalId,
    status: Annotated[
        InboxStatus | None, Query(description="Only this status; default unread and read.")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> InboxPage:
    check_external_id(external_id)
    before = decode_cursor(cursor)
    with db.read() as session:
        user = users.get_user(session, caller.app_id, external_id)
        rows = inbox.list_entries(session, user.id, status=status, limit=limit, before_id=before)
        return InboxPage(
            items=[_entry_out(r.entry, r.msg_id) for r in rows],
            next_cursor=next_cursor([r.entry.id for r in rows], limit),
            unread=inbox.unread_count(session, user.id),
        )


@router.patch(
    "/{external_id}/inbox/{entry_id}", summary="Mark an inbox entry read, unread or deleted"
)
def patch_inbox_entry(
    caller: AppCaller,
    db: Db,
    external_id: ExternalId,
    entry_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    patch: Annotated[InboxPatch, Body()],
) -> InboxEntryOut:
    check_external_id(external_id)
    with db.transaction() as session:
        user = users.get_user(session, caller.app_id, external_id)
        found = inbox.get_entry(session, caller.app_id, user.id, entry_id)
        inbox.set_status(found.entry, patch.status)
        session.flush()
        return _entry_out(found.entry, found.msg_id)
