"""API key authentication: ``Authorization: Bearer <key>`` → the app it belongs to.

Every ``/api/v1`` route depends on :func:`current_app`; a request carries exactly one
app's key and can only read or write that app's data (deny by default). The key is
never logged; only its public prefix appears in the key list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ftpush.config import Settings
from ftpush.storage import Database, api_keys

_bearer = HTTPBearer(auto_error=False, description="An app's API key (`ftpush app api-key`)")


@dataclass(frozen=True)
class Caller:
    """The authenticated app of a request."""

    app_id: int
    app_key: str
    timezone: str
    inbox_enabled: bool


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def current_app(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    db: Annotated[Database, Depends(get_db)],
) -> Caller:
    challenge = {"WWW-Authenticate": 'Bearer realm="ftpush"'}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "an API key is required: Authorization: Bearer <key>", challenge)
    with db.transaction() as session:
        app = api_keys.authenticate(session, credentials.credentials)
        if app is None:
            raise HTTPException(401, "the API key is unknown or revoked", challenge)
        return Caller(app.id, app.key, app.timezone, app.inbox_enabled)


AppCaller = Annotated[Caller, Depends(current_app)]
Db = Annotated[Database, Depends(get_db)]
AppSettings = Annotated[Settings, Depends(get_settings)]
