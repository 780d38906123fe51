"""Apps: create, read, switch the FTP offer, set the alert contacts.

Example::

    >>> create_app(session, key="demo", timezone="Europe/Istanbul")  # doctest: +SKIP
    >>> validate_contacts(["Ops@Example.com", "ops@example.COM"], "https://hooks.example/x")
    (['Ops@example.com'], 'https://hooks.example/x')
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

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


# --- alert contacts ----------------------------------------------------------------

MAX_ALERT_EMAILS = 20
MAX_EMAIL_LENGTH = 254
MAX_WEBHOOK_URL_LENGTH = 2000  # the column's size
# Deliberately narrower than RFC 5322: dot-atoms of ASCII only, no quoted local parts, no
# address literals — nothing that could break a header or an SMTP command line.
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DOMAIN_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_URL_CHARS = re.compile(r"[\x21-\x7e]+")  # printable ASCII: no spaces, CR, LF, NUL


def validate_email(address: str) -> str:
    """One alert address, surrounding blanks removed and the domain lowercased.

    >>> validate_email(" Ops@Example.COM ")
    'Ops@example.com'
    """
    if not isinstance(address, str):
        raise InvalidInput("an alert e-mail address must be text", field="alert_emails")
    value = address.strip(" \t")
    shown = repr(value[:80])
    if not value:
        raise InvalidInput("an alert e-mail address is empty", field="alert_emails")
    if len(value) > MAX_EMAIL_LENGTH:
        raise InvalidInput(
            f"alert e-mail address {shown}... is longer than {MAX_EMAIL_LENGTH} characters",
            field="alert_emails",
        )
    local, at, domain = value.partition("@")
    labels = domain.split(".")
    if (
        not at
        or len(local) > 64  # RFC 5321's limit of a local part
        or not _LOCAL_PART.fullmatch(local)
        or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels)
    ):
        raise InvalidInput(
            f"{shown} is not an e-mail address ftpush accepts (name@example.com: one @, "
            "ASCII letters, digits and .!#$%&'*+/=?^_`{|}~- only, no spaces or commas)",
            field="alert_emails",
        )
    return f"{local}@{domain.lower()}"


def validate_webhook_url(url: str) -> str:
    """An alert webhook URL: ``http``/``https`` with a host, printable ASCII, at most 2000.

    The message never repeats the URL: it may carry a password or a token.

    >>> validate_webhook_url("https://hooks.example/alerts?token=abc")
    'https://hooks.example/alerts?token=abc'
    """
    field = "alert_webhook_url"
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput("the alert webhook URL is empty", field=field)
    value = url.strip(" \t")
    if len(value) > MAX_WEBHOOK_URL_LENGTH:
        raise InvalidInput(
            f"the alert webhook URL is longer than {MAX_WEBHOOK_URL_LENGTH} characters",
            field=field,
        )
    if not _URL_CHARS.fullmatch(value):
        raise InvalidInput(
            "the alert webhook URL contains spaces, control characters (CR, LF...) or "
            "non-ASCII characters (percent-encode them)",
            field=field,
        )
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise InvalidInput("the alert webhook URL cannot be parsed", field=field) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidInput(
            "the alert webhook URL must be an http:// or https:// URL with a host", field=field
        )
    return value


def validate_contacts(
    emails: Sequence[str], webhook_url: str | None
) -> tuple[list[str], str | None]:
    """Checked alert contacts: addresses deduplicated (case-insensitively), at most 20.

    Raises :class:`~ftpush.errors.InvalidInput` (``field`` ``alert_emails`` or
    ``alert_webhook_url``) for anything that is not plainly an address or an http(s) URL.

    >>> validate_contacts(["a@example.com", "A@EXAMPLE.com"], None)
    (['a@example.com'], None)
    """
    if isinstance(emails, str):  # a lone string is a sequence of characters: refuse it
        raise InvalidInput("alert e-mails must be a list of addresses", field="alert_emails")
    checked: list[str] = []
    seen: set[str] = set()
    for address in emails:
        value = validate_email(address)
        if value.casefold() not in seen:
            seen.add(value.casefold())
            checked.append(value)
    if len(checked) > MAX_ALERT_EMAILS:
        raise InvalidInput(
            f"at most {MAX_ALERT_EMAILS} alert e-mail addresses, not {len(checked)}",
            field="alert_emails",
        )
    return checked, (None if webhook_url is None else validate_webhook_url(webhook_url))


def set_alert_contacts(
    session: Session,
    key: str,
    *,
    emails: Sequence[str] | None,
    webhook_url: str | None,
    clear_webhook: bool = False,
) -> App:
    """Set who is told when an export fails for good; ``None`` leaves that contact as it is.

    ``emails=[]`` removes every address; ``clear_webhook=True`` removes the webhook.
    """
    if clear_webhook and webhook_url is not None:
        raise InvalidInput(
            "give a webhook URL or clear the webhook, not both", field="alert_webhook_url"
        )
    checked, url = validate_contacts(emails or [], webhook_url)
    app = get_app(session, key)
    if emails is not None:
        app.alert_emails = checked
    if url is not None:
        app.alert_webhook_url = url
    elif clear_webhook:
        app.alert_webhook_url = None
    return app
