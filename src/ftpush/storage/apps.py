"""Apps: create, read, switch the FTP offer.

Example::

    >>> create_app(session, key="demo", timezone="Europe/Istanbul")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ftpush.errors import Conflict, InvalidInput, NotFound
from ftpush.models import validate_app_key, validate_timezone
from ftpush.storage._util import unique_or_conflict
from ftpush.storage.tables import App


def create_app(
    session: Session, *, key: str, name: str | None = None, timezone: str = "UTC"
) -> App:
    """Create an app; the FTP offer starts on."""
    validate_app_key(key)
    validate_timezone(timezone)
    if session.scalar(select(App.id).where(App.key == key)) is not None:
        raise Conflict(f"app {key!r} already exists")
    app = App(key=key, name=name or key, timezone=timezone, ftp_enabled=True, alert_emails=[])
    with unique_or_conflict(session, f"app {key!r} already exists"):
        session.add(app)
    return app


def get_app(session: Session, key: str) -> App:
    """The app with this key, or :class:`NotFound`."""
    app = session.scalar(select(App).where(App.key == key))
    if app is None:
        raise NotFound(f"app {key!r} does not exist")
    return app


def get_app_by_id(session: Session, app_id: int) -> App:
    app = session.get(App, app_id)
    if app is None:
        raise NotFound(f"app {app_id} does not exist")
    return app


def list_apps(session: Session) -> Sequence[App]:
    return session.scalars(select(App).order_by(App.key)).all()


def set_ftp_enabled(session: Session, key: str, enabled: bool) -> App:
    """Switch the app's FTP offer (logins, pollers and nightly exports)."""
    app = get_app(session, key)
    app.ftp_enabled = enabled
    return app


def update_app(
    session: Session,
    key: str,
    *,
    name: str | None = None,
    timezone: str | None = None,
    inbox_enabled: bool | None = None,
    rate_limit: int | None = None,
) -> App:
    """Change what is given; ``rate_limit=0`` removes the app's limit."""
    app = get_app(session, key)
    if name is not None:
        app.name = name
    if timezone is not None:
        app.timezone = validate_timezone(timezone)
    if inbox_enabled is not None:
        app.inbox_enabled = inbox_enabled
    if rate_limit is not None:
        if rate_limit < 0:
            raise InvalidInput("the rate limit cannot be negative", field="rate_limit")
        app.rate_limit_per_second = rate_limit or None
    return app
