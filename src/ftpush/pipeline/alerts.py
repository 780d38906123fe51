"""Telling an app's alert contacts that something failed for good: e-mail and webhook.

When a nightly export is still undelivered at the end of its retry window (SPEC §5) the
scheduler builds an :class:`Alert` and hands it to :meth:`Alerter.notify` with the app's
contacts (:func:`contacts_of`). Each configured channel gets one attempt and one
:class:`AlertOutcome`; a delivery problem never raises.

* **E-mail**: one message to every address (``To:`` lists them all) through the SMTP server
  of ``settings.smtp`` — implicit TLS when ``smtp.ssl``, else STARTTLS when
  ``smtp.starttls``, login when ``smtp.username`` is set — sent by :mod:`smtplib` in a
  worker thread. No ``smtp.host``: the e-mail outcome says so and nothing is sent.
* **Webhook**: ``alert.data`` POSTed as JSON with ``X-Ftpush-Event: <data["event"]>``.
  Only a 2xx answer counts; redirects are not followed; the answer's body is ignored.
  A password or query in the URL never reaches an outcome, a log line or an error message
  (:func:`redact_url`); userinfo is sent as HTTP Basic authentication.

The subject is forced onto one line (control characters become spaces) when the
:class:`Alert` is made, so no header can be injected through it. See decision 0802.

Example::

    alerter = Alerter(settings)
    emails, webhook = contacts_of(app)
    outcomes = await alerter.notify(emails, webhook, Alert(
        app_key="demo", subject="demo: export of 2025-01-01 failed",
        text="The events report could not be delivered: auth: login refused.",
        data={"event": "export.failed", "run_id": 42},
    ))
    [o.ok for o in outcomes]   # [True, False]: e-mail sent, webhook answered HTTP 500
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import enum
import json
import logging
import os
import re
import smtplib
import socket
import ssl
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from ftpush import __version__
from ftpush.config import Settings, SmtpSettings
from ftpush.errors import InvalidInput
from ftpush.storage.apps import validate_contacts
from ftpush.storage.tables import App

__all__ = [
    "Alert",
    "AlertOutcome",
    "Alerter",
    "clean_subject",
    "contacts_of",
    "probe_alert",
    "redact_url",
    "validate_contacts",
]

log = logging.getLogger("ftpush.pipeline.alerts")

EVENT_HEADER = "X-Ftpush-Event"
MAX_SUBJECT = 200
_EVENT_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
_BLANKS = re.compile(r"\s+")


def clean_subject(subject: str) -> str:
    """One line: control and separator characters become spaces, at most 200 characters.

    >>> clean_subject("export failed\\r\\nBcc: victim@example.com")
    'export failed Bcc: victim@example.com'
    """
    chars = [
        " " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") or c.isspace() else c
        for c in subject
    ]
    line = _BLANKS.sub(" ", "".join(chars)).strip()
    return line if len(line) <= MAX_SUBJECT else line[: MAX_SUBJECT - 1] + "…"


@dataclass(frozen=True)
class Alert:
    """What to tell. ``subject`` is made one line on construction.

    ``data`` is the webhook's JSON document; ``event`` (default ``"alert"``), ``app``,
    ``subject`` and ``text`` are added when missing (so chat webhooks that read ``text``
    show the message as it is).
    """

    app_key: str
    subject: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        subject = clean_subject(self.subject)
        object.__setattr__(self, "subject", subject)
        defaults = {"event": "alert", "app": self.app_key, "subject": subject, "text": self.text}
        object.__setattr__(self, "data", {**defaults, **self.data})


@dataclass(frozen=True)
class AlertOutcome:
    """One channel's result; ``target`` never carries a secret."""

    channel: str  # "email" or "webhook"
    target: str  # the recipients joined by ", ", or the redacted webhook URL
    ok: bool
    error: str | None

    def to_json(self) -> dict[str, Any]:
        return {"channel": self.channel, "target": self.target, "ok": self.ok, "error": self.error}


def contacts_of(app: App) -> tuple[list[str], str | None]:
    """The app row's alert addresses and webhook URL, as :meth:`Alerter.notify` takes them."""
    return list(app.alert_emails or []), app.alert_webhook_url


def probe_alert(app_key: str) -> Alert:
    """The alert ``ftpush app test-alert`` sends: proof that the contacts are reachable."""
    return Alert(
        app_key=app_key,
        subject=f"ftpush: test alert for app {app_key}",
        text=(
            f"This is a test alert for the app {app_key}.\n\n"
            "ftpush sends alerts like this to this address when a nightly report cannot be "
            "delivered to the app's export destination before 06:00.\n"
            "Nothing failed: an operator asked for this message to check the alert contacts.\n"
        ),
        data={"event": "alert.test"},
    )


def redact_url(url: str) -> str:
    """The URL without its userinfo, query values and fragment: fit for logs and outcomes.

    >>> redact_url("https://user:pw@hooks.example:8443/a?token=s3cret&x=1#frag")
    'https://hooks.example:8443/a?token=***&x=***'
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(unparseable URL)"
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    query = "&".join(
        f"{pair.partition('=')[0]}=***" if "=" in pair else "***"
        for pair in parts.query.split("&")
        if pair
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _secrets_of(url: str) -> list[str]:
    """The pieces of a webhook URL that must not show up in a message, longest first."""
    try:
        parts = urlsplit(url)
        userinfo = parts.netloc.rpartition("@")[0]
        pieces = [url, userinfo, parts.query, parts.fragment]
        for piece in (parts.username, parts.password):
            pieces += [piece or "", unquote(piece or "")]
        pieces += [value for _, _, value in (p.partition("=") for p in parts.query.split("&"))]
    except ValueError:
        pieces = [url]
    return sorted({p for p in pieces if len(p) >= 3}, key=len, reverse=True)


def _scrub(text: str, url: str) -> str:
    for piece in _secrets_of(url):
        text = text.replace(piece, "***")
    return text


def _json_default(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


class Alerter:
    """Sends :class:`Alert` s to e-mail addresses and a webhook; see the module docstring."""

    def __init__(self, settings: Settings, *, timeout: float | None = None) -> None:
        self.smtp = settings.smtp
        self.timeout = timeout if timeout is not None else settings.smtp.timeout_seconds
        self.user_agent = f"ftpush/{__version__}"

    async def notify(
        self, emails: Sequence[str], webhook_url: str | None, alert: Alert
    ) -> list[AlertOutcome]:
        """Send to every channel configured, at the same time; never raises for a delivery.

        Returns the e-mail outcome first (when ``emails`` is not empty), then the webhook's
        (when ``webhook_url`` is set); nothing at all when neither is given.
        """
        jobs = []
        if emails:
            jobs.append(self.send_email(emails, alert))
        if webhook_url:
            jobs.append(self.send_webhook(webhook_url, alert))
        outcomes = list(await asyncio.gather(*jobs))
        for outcome in outcomes:
            if outcome.ok:
                log.info(
                    "alert %r for app %s sent by %s to %s",
                    alert.data.get("event"), alert.app_key, outcome.channel, outcome.target,
                )  # fmt: skip
            else:
                log.warning(
                    "alert %r for app %s not sent by %s to %s: %s",
                    alert.data.get("event"), alert.app_key, outcome.channel, outcome.target,
                    outcome.error,
                )  # fmt: skip
        return outcomes

    # --- e-mail -------------------------------------------------------------------

    async def send_email(self, emails: Sequence[str], alert: Alert) -> AlertOutcome:
        """One message to every address; the outcome's ``target`` lists them."""
        try:
            recipients, _ = validate_contacts(emails, None)
        except InvalidInput as exc:
            shown = ", ".join(repr(e)[:80] for e in emails) if not isinstance(emails, str) else ""
            return AlertOutcome("email", shown, False, exc.message)
        target = ", ".join(recipients)
        if not self.smtp.host:
            return AlertOutcome("email", target, False, "smtp.host is not set")
        try:
            message = self._message(recipients, alert)
        except (ValueError, TypeError) as exc:  # e.g. a smtp.sender with CR/LF in it
            return AlertOutcome("email", target, False, f"cannot build the message: {exc}")
        try:
            refused = await asyncio.to_thread(_smtp_send, self.smtp, self.timeout, message)
        except Exception as exc:  # noqa: BLE001 - every failure becomes an outcome
            return AlertOutcome("email", target, False, self._smtp_error(exc))
        if refused:
            listed = "; ".join(f"{rcpt} ({code} {_text(msg)})" for rcpt, (code, msg) in refused)
            return AlertOutcome(
                "email", target, False, f"the SMTP server refused {listed}; sent to the others"
            )
        return AlertOutcome("email", target, True, None)

    def _message(self, recipients: list[str], alert: Alert) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.smtp.sender
        message["To"] = ", ".join(recipients)
        message["Subject"] = alert.subject
        message["Date"] = formatdate(usegmt=True)
        domain = self.smtp.sender.rpartition("@")[2].strip(" <>") or "localhost"
        message["Message-ID"] = make_msgid("ftpush", domain=domain)
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
        message["X-Ftpush-Event"] = clean_subject(str(alert.data.get("event", "alert")))
        message.set_content(alert.text)
        return message

    def _smtp_error(self, exc: BaseException) -> str:  # noqa: PLR0911 - one per kind
        where = f"{self.smtp.host}:{self.smtp.port}"
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            answer = f"{exc.smtp_code} {_text(exc.smtp_error)}"
            return f"SMTP login as {self.smtp.username!r} refused: {answer}"
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return f"SMTP server {where}: {exc}"
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            listed = "; ".join(
                f"{rcpt} ({code} {_text(msg)})" for rcpt, (code, msg) in exc.recipients.items()
            )
            return f"the SMTP server refused every recipient: {listed}"
        if isinstance(exc, smtplib.SMTPResponseException):
            return f"SMTP server {where} answered {exc.smtp_code} {_text(exc.smtp_error)}"
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return f"SMTP server {where} closed the connection: {exc}"
        if isinstance(exc, ssl.SSLError):
            return f"TLS with SMTP server {where} failed: {exc.reason or exc}"
        if isinstance(exc, TimeoutError):
            return f"SMTP server {where} did not answer within {self.timeout:g} s"
        if isinstance(exc, OSError):
            return f"cannot reach SMTP server {where}: {exc.strerror or exc}"
        return f"SMTP to {where} failed: {exc.__class__.__name__}: {exc}"

    # --- webhook -------------------------------------------------------------------

    async def send_webhook(self, url: str, alert: Alert) -> AlertOutcome:
        """POST ``alert.data`` as JSON; the outcome's ``target`` is :func:`redact_url` of it."""
        target = redact_url(url)
        try:
            _, checked = validate_contacts([], url)
        except InvalidInput as exc:
            return AlertOutcome("webhook", target, False, exc.message)
        assert checked is not None
        try:
            body = json.dumps(alert.data, default=_json_default, ensure_ascii=False).encode()
        except ValueError as exc:  # circular data, NaN...
            return AlertOutcome("webhook", target, False, f"the alert is not JSON: {exc}")
        try:
            async with asyncio.timeout(self.timeout * 2):
                status = await self._post(checked, body, alert)
        except (TimeoutError, httpx.TimeoutException):
            error = f"no answer within {self.timeout:g} s"
        except httpx.HTTPError as exc:
            error = _scrub(_http_error(exc), url)
        except (OSError, ssl.SSLError, ValueError) as exc:
            error = _scrub(f"{exc.__class__.__name__}: {exc}", url)
        else:
            if 200 <= status < 300:
                return AlertOutcome("webhook", target, True, None)
            error = f"HTTP {status}"
            if 300 <= status < 400:
                error += " (a redirect: not followed; set the final URL)"
        return AlertOutcome("webhook", target, False, error)

    async def _post(self, url: str, body: bytes, alert: Alert) -> int:
        """Send one request straight through a transport; returns the status code.

        Not through ``httpx.AsyncClient``: the client logs every request's full URL (with
        its query, where webhook tokens live) at INFO level, and follows nothing we need.
        """
        parts = urlsplit(url)
        headers = {
            "User-Agent": self.user_agent,
            "Content-Type": "application/json",
            "Accept": "*/*",
        }
        event = str(alert.data.get("event", ""))
        if _EVENT_NAME.fullmatch(event):
            headers[EVENT_HEADER] = event
        if parts.username or parts.password:  # sent as a header, never in the request line
            login = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
            headers["Authorization"] = "Basic " + base64.b64encode(login.encode()).decode()
        host = parts.netloc.rpartition("@")[2]
        url = urlunsplit((parts.scheme, host, parts.path, parts.query, ""))
        timeout = httpx.Timeout(self.timeout)
        request = httpx.Request(
            "POST", url, headers=headers, content=body, extensions={"timeout": timeout.as_dict()}
        )
        async with httpx.AsyncHTTPTransport(retries=0) as transport:
            response = await transport.handle_async_request(request)
            try:
                return response.status_code
            finally:
                await response.aclose()


def _smtp_send(
    smtp: SmtpSettings, timeout: float, message: EmailMessage
) -> list[tuple[str, tuple[int, bytes]]]:
    """Blocking: connect, secure, log in, send; returns the recipients the server refused."""
    assert smtp.host is not None
    client: smtplib.SMTP
    if smtp.ssl:
        client = smtplib.SMTP_SSL(
            smtp.host, smtp.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)
    with client:
        client.ehlo()
        if smtp.starttls and not smtp.ssl:
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        if smtp.username:
            password = smtp.password.get_secret_value() if smtp.password else ""
            client.login(smtp.username, password)
        refused = client.send_message(message)
    return sorted(refused.items())


def _text(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return clean_subject(text)


def _http_error(exc: httpx.HTTPError) -> str:
    """``cannot connect: Connection refused`` rather than httpx's "All connection attempts…"."""
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect: {_os_reason(exc) or exc}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"bad HTTP answer: {exc}"
    return f"{exc.__class__.__name__}: {exc}"


def _os_reason(exc: BaseException) -> str | None:
    """The innermost OS error's reason (``Connection refused``) in an exception's chain."""
    reason = None
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            verify = getattr(current, "verify_message", None)
            reason = f"TLS failed: {verify or current.reason or current}"
        elif isinstance(current, OSError) and current.errno is not None:
            if isinstance(current, socket.gaierror) or current.errno < 0:
                reason = current.strerror
            else:
                reason = os.strerror(current.errno)
        current = current.__cause__ or current.__context__
    return reason
