"""`/devices`: Devices (push tokens).

``POST /devices`` registers a token or updates it (the app's SDK calls it on every
start): platform (default: from the token's shape, as profile files do), owner
(``external_id``; a token registered under another user moves to this one, and a
user that does not exist yet is created), push permission, app and OS versions.
Fields left out keep their stored value; an uninstalled token becomes active again.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from ftpush.errors import InvalidInput
from ftpush.formats.values import ValueRejected, parse_device_token
from ftpush.models import Platform
from ftpush.storage import users
from ftpush.web.api.users import DeviceOut, check_external_id, check_text, device_out
from ftpush.web.auth import AppCaller, Db

router = APIRouter(prefix="/devices", tags=["devices"])

MAX_VERSION = 50


class DeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(
        min_length=1,
        max_length=4096,
        description="The APNs or FCM token: printable ASCII without spaces.",
    )
    platform: Platform | None = Field(
        default=None, description="Default: `ios` for 64 hex characters, else `android`."
    )
    external_id: str | None = Field(
        default=None,
        max_length=255,
        description="The owner; the token moves to this user. Absent: the owner stays.",
    )
    push_permission: StrictBool | None = Field(
        default=None, description="Whether the user allows pushes; new devices: true."
    )
    app_version: str | None = Field(default=None, max_length=MAX_VERSION)
    os_version: str | None = Field(default=None, max_length=MAX_VERSION)


@router.post("", summary="Register or update a device")
def register_device(caller: AppCaller, db: Db, device: Annotated[DeviceIn, Body()]) -> DeviceOut:
    try:
        token = parse_device_token(device.token)
    except ValueRejected as exc:
        raise InvalidInput(exc.message, field="token") from None
    if token != device.token:
        raise InvalidInput("the token has spaces or quotes around it", field="token")
    if device.external_id is not None:
        check_external_id(device.external_id)
    for field in ("app_version", "os_version"):
        value = getattr(device, field)
        if value is not None:
            check_text(value, field, max_length=MAX_VERSION)
    with db.transaction() as session:
        row = users.register_device(
            session,
            app_key=caller.app_key,
            token=token,
            external_id=device.external_id,
            platform=device.platform,
            app_version=device.app_version,
            os_version=device.os_version,
            push_permission=device.push_permission,
        )
        return device_out(row, users.external_id_of(session, row.user_id))
