"""``/apps/{key}/export``: where the app's reports go, *Test connection*, *Send*, the history.

Everything here calls the services the CLI and the API call (decision 0903):
``pipeline.destinations`` saves and describes the destination (checked when saved; a key
pair made on request; secrets never shown — an empty password or key keeps the stored
one), ``jobs.exports`` tests the connection, sends (the app's daily limit for members,
none for admins), retries and counts the day's sends, ``storage.exports`` lists the
deliveries and ``storage.apps`` keeps the alert contacts (the webhook shown redacted).

Test connection and Send run in the request (a plain ``def``: FastAPI's threadpool), so
the page answers when the server has.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import File, Form, Path, Query, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from ftpush.config import Settings
from ftpush.crypto import SecretBox
from ftpush.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ftpush.jobs.exports import (
    SendResult,
    connection_test,
    retry_delivery,
    send_quota,
    send_reports,
)
from ftpush.models import DeliveryStatus, ExportFormat, RemoteProtocol, ReportName
from ftpush.pipeline.alerts import contacts_of, redact_url
from ftpush.pipeline.destinations import (
    DROPBOX,
    DestinationView,
    configure_destination,
    describe_destination,
)
from ftpush.storage import apps, exports
from ftpush.storage.remotes import RemoteServerSpec
from ftpush.web.panel.deps import AppView, LoggedIn, Posted, ScopedApp
from ftpush.web.panel.rendering import flash, page, redirect
from ftpush.web.panel.routing import page_router
from ftpush.web.panel.security import Viewer
from ftpush.web.panel.state import database, panel_state
from ftpush.web.panel.templating import Section

SECTION = Section("export", "Export")

router = page_router()

FormText = Annotated[str, Form()]
FormList = Annotated[list[str] | None, Form()]
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1)]

REPORTS = tuple(r.value for r in ReportName)
FORMATS = tuple(f.value for f in ExportFormat)
KEY_ACTIONS = ("keep", "none", "upload", "generate")
HISTORY_PAGE = 20
TEST_TIMEOUT = 20.0  # seconds per connection step; the browser waits for the answer
MAX_KEY_BYTES = 64 * 1024

# Services name the setting they refused; the forms name their inputs.
_INPUT_OF = {
    "protocol": "kind",
    "url": "kind",
    "remote": "kind",
    "dropbox": "kind",
    "private_key": "key",
    "public_key": "key",
    "host_key_fingerprint": "host_key",
    "tls_cert_fingerprint": "tls_fingerprint",
    "from": "send_from",
    "window": "send_from",
    "to": "send_to",
}
_DESTINATION_INPUTS = {
    "kind", "host", "port", "username", "path", "password", "key", "host_key",
    "tls_fingerprint", "reports", "format", "delimiter",
}  # fmt: skip


def _settings(request: Request) -> Settings:
    return panel_state(request).settings


def _box(request: Request) -> SecretBox:
    return SecretBox.from_keys_dir(_settings(request).keys_dir)


def _errors(exc: InvalidInput, inputs: set[str], what: str) -> dict[str, Any]:
    """The page's context for a refused form: the message next to its input (when the
    form has one by that name) and, for the top of the page, what was not done and why."""
    name = _INPUT_OF.get(exc.field or "", exc.field)
    return {
        "errors": {name: exc.message} if name in inputs else {},
        "error": f"{what}: {exc.message}",
    }


@dataclass(frozen=True)
class DestinationForm:
    """What the destination form shows: stored or submitted values, never a secret."""

    kind: str = DROPBOX
    host: str = ""
    port: str = ""
    username: str = ""
    path: str = "/"
    host_key: str = ""
    tls_fingerprint: str = ""
    tls_verify: bool = True
    reports: tuple[str, ...] = REPORTS
    format: str = ExportFormat.XLSX.value
    delimiter: str = ","
    schedule: bool = True
    key_action: str = "none"


def _stored_form(request: Request, app: AppView) -> tuple[DestinationView | None, DestinationForm]:
    with database(request).read() as session:
        view = describe_destination(session, _box(request), app.key)
    if view is None:
        return None, DestinationForm()
    return view, DestinationForm(
        kind=view.kind,
        host=view.host or "",
        port=str(view.port or ""),
        username=view.username or "",
        path=view.path if view.kind != DROPBOX else "/",
        host_key=view.host_key_fingerprint or "",
        tls_fingerprint=view.tls_cert_fingerprint or "",
        tls_verify=view.tls_verify,
        reports=view.reports,
        format=view.format,
        delimiter=view.delimiter,
        schedule=view.schedule_enabled,
        key_action="keep" if view.has_private_key else "none",
    )


def _export_page(
    request: Request,
    app: AppView,
    viewer: Viewer,
    *,
    status: int = 200,
    before: int | None = None,
    **context: Any,
) -> Response:
    settings = _settings(request)
    destination, stored = _stored_form(request, app)
    with database(request).read() as session:
        rows = exports.describe_deliveries(
            session, app.key, limit=HISTORY_PAGE + 1, before_id=before
        )
        emails, webhook = contacts_of(apps.get_app(session, app.key))
    quota = send_quota(settings, database(request), app.key)
    values: dict[str, Any] = {
        "dest_form": stored,
        "send_form": {
            "first": quota.yesterday.isoformat(),
            "last": quota.yesterday.isoformat(),
            "reports": destination.reports if destination else REPORTS,
        },
        "alert_form": {"emails": "\n".join(emails)},
        "errors": {},
        "tested": None,
        "limit_reached": False,
    }
    values.update(context)
    return page(
        request, "exports.html", status=status, title=f"Export · {app.key}", app=app,
        section=SECTION.slug, destination=destination, deliveries=rows[:HISTORY_PAGE],
        older=rows[HISTORY_PAGE - 1].id if len(rows) > HISTORY_PAGE else None,
        paged=before is not None, quota=quota, unlimited=viewer.is_admin,
        webhook=redact_url(webhook) if webhook else None, reports=REPORTS, formats=FORMATS,
        **values,
    )  # fmt: skip


@router.get("/apps/{key}/export")
def export_page(
    request: Request,
    viewer: LoggedIn,
    app: ScopedApp,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    return _export_page(request, app, viewer, before=before)


# --- the destination ------------------------------------------------------------------------


def _port(text: str) -> int:
    text = text.strip()
    if not text:
        return 0  # the protocol's default
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise InvalidInput("the port is a number from 1 to 65535, or empty", field="port")
    return int(text)


def _key_text(upload: UploadFile | None) -> str | None:
    """The uploaded private key file's text, ``None`` when no file was chosen."""
    if upload is None or not upload.filename:
        return None
    data = upload.file.read(MAX_KEY_BYTES + 1)
    if not data:
        return None
    if len(data) > MAX_KEY_BYTES:
        raise InvalidInput("that file is too large for a private key", field="key")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(
            "not a readable private key (OpenSSH or PEM text, without passphrase)", field="key"
        ) from None


def _spec(
    app_key: str, form: DestinationForm, password: str, forget_password: bool, key: str | None
) -> tuple[exports.DestinationSpec, bool]:
    """The submitted form as a destination spec, and whether to generate a key pair.

    Inputs of another protocol than the chosen one are ignored (the form groups them).
    """
    if not form.reports:
        raise InvalidInput("tick at least one report", field="reports")
    try:
        fmt = ExportFormat(form.format)
    except ValueError:
        raise InvalidInput("choose xlsx or csv", field="format") from None
    common: dict[str, Any] = {
        "app_key": app_key,
        "reports": form.reports,
        "format": fmt,
        "delimiter": form.delimiter,
        "schedule_enabled": form.schedule,
    }
    if form.kind == DROPBOX:
        return exports.DestinationSpec(**common), False
    try:
        protocol = RemoteProtocol(form.kind)
    except ValueError:
        raise InvalidInput("choose dropbox, SFTP, FTPS or FTP", field="kind") from None
    sftp = protocol is RemoteProtocol.SFTP
    action = form.key_action if sftp else "none"
    if sftp and key is not None and action != "generate":
        action = "upload"  # a chosen file is what the user means
    if action == "upload" and key is None:
        raise InvalidInput("choose the private key file to upload", field="key")
    remote = RemoteServerSpec(
        app_key=app_key,
        name=exports.EXPORT_SERVER_NAME,
        protocol=protocol,
        host=form.host.strip(),
        port=_port(form.port),
        username=form.username.strip(),
        password=password or None,
        private_key=key if action == "upload" else None,
        host_key_fingerprint=(form.host_key.strip() or None) if sftp else None,
        tls_verify=form.tls_verify if protocol is RemoteProtocol.FTPS else True,
        tls_cert_fingerprint=(
            (form.tls_fingerprint.strip() or None) if protocol is RemoteProtocol.FTPS else None
        ),
    )
    spec = exports.DestinationSpec(
        remote=remote,
        path=form.path.strip() or "/",
        keep_password=not forget_password,
        keep_private_key=action == "keep",
        **common,
    )
    return spec, action == "generate"


@router.post("/apps/{key}/export/destination")
def save_destination(
    request: Request,
    _: Posted,
    viewer: LoggedIn,
    app: ScopedApp,
    kind: FormText = DROPBOX,
    host: FormText = "",
    port: FormText = "",
    username: FormText = "",
    path: FormText = "/",
    password: FormText = "",
    forget_password: FormText = "",
    key_action: FormText = "none",
    private_key_file: Annotated[UploadFile | None, File()] = None,
    host_key: FormText = "",
    tls_fingerprint: FormText = "",
    tls_verify: FormText = "",
    reports: FormList = None,
    format: FormText = ExportFormat.XLSX.value,
    delimiter: FormText = ",",
    schedule: FormText = "",
) -> Response:
    form = DestinationForm(
        kind=kind, host=host, port=port, username=username, path=path, host_key=host_key,
        tls_fingerprint=tls_fingerprint, tls_verify=bool(tls_verify),
        reports=tuple(reports or ()), format=format, delimiter=delimiter,
        schedule=bool(schedule), key_action=key_action if key_action in KEY_ACTIONS else "none",
    )  # fmt: skip
    try:
        spec, generate = _spec(
            app.key, form, password, bool(forget_password), _key_text(private_key_file)
        )
        view = configure_destination(database(request), _box(request), spec, generate_key=generate)
    except InvalidInput as exc:
        return _export_page(
            request, app, viewer, status=422, dest_form=form,
            **_errors(exc, _DESTINATION_INPUTS, "The destination was not saved"),
        )  # fmt: skip
    flash(request, "success", f"Saved: the reports of {app.key} go to {view.label}.")
    if generate:
        flash(
            request,
            "info",
            "A new key pair was made. Add its public key (shown under Destination) to "
            f"~/.ssh/authorized_keys of {view.username} on {view.host}, then test the connection.",
        )
    return redirect(f"/apps/{app.key}/export")


@router.post("/apps/{key}/export/test")
def check_connection(request: Request, _: Posted, viewer: LoggedIn, app: ScopedApp) -> Response:
    try:
        result = connection_test(
            _settings(request), database(request), app.key, timeout=TEST_TIMEOUT
        )
    except NotFound:
        return _export_page(
            request, app, viewer, status=409, error="Set a destination first, then test it."
        )
    return _export_page(request, app, viewer, tested=result)


# --- Send and Retry -------------------------------------------------------------------------


def _day(text: str, field: str) -> dt.date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a date (YYYY-MM-DD)", field=field) from None


def _sent_note(result: SendResult, first: dt.date | None, last: dt.date | None) -> tuple[str, str]:
    delivered = [d for d in result.run.deliveries if d.status is DeliveryStatus.DELIVERED]
    missed = [d for d in result.run.deliveries if d.status is not DeliveryStatus.DELIVERED]
    window = f"{first} to {last}" if first and last and first != last else str(last or first)
    files, rows = result.files, result.rows
    head = f"Sent {files} file{'s' if files != 1 else ''} ({rows} row{'s' if rows != 1 else ''})"
    if first is None and last is None:
        head += " for yesterday"
    else:
        head += f" for {window}"
    if not result.run.deliveries:
        return "info", f"{head}: nothing to deliver (no campaign in that window, for instance)."
    if not missed:
        return "success", f"{head}: all delivered."
    return "error", (
        f"{head}: {len(delivered)} delivered, {len(missed)} not "
        f"({missed[0].error or missed[0].status}). They are retried; see the history below."
    )


@router.post("/apps/{key}/export/send")
def send(
    request: Request,
    _: Posted,
    viewer: LoggedIn,
    app: ScopedApp,
    send_from: FormText = "",
    send_to: FormText = "",
    send_reports_: Annotated[list[str] | None, Form(alias="send_reports")] = None,
) -> Response:
    chosen = list(send_reports_ or ())
    shown = {"first": send_from, "last": send_to, "reports": tuple(chosen)}
    try:
        first, last = _day(send_from, "send_from"), _day(send_to, "send_to")
        if not chosen:
            raise InvalidInput("tick at least one report to send", field="send_reports")
        result = send_reports(
            _settings(request), database(request), app.key, chosen, first=first, last=last,
            requested_by=f"panel:{viewer.username}", unlimited=viewer.is_admin,
        )  # fmt: skip
    except InvalidInput as exc:
        return _export_page(
            request, app, viewer, status=422, send_form=shown,
            **_errors(exc, {"send_from", "send_to", "send_reports"}, "Nothing was sent"),
        )  # fmt: skip
    except PermissionDenied:  # the app's daily limit (members only)
        return _export_page(
            request, app, viewer, status=403, send_form=shown, limit_reached=True,
            error="Nothing was sent: this app has used its manual sends for today.",
        )  # fmt: skip
    except NotFound:
        return _export_page(
            request, app, viewer, status=409, error="Set a destination first, then send."
        )
    flash(request, *_sent_note(result, first, last))
    return redirect(f"/apps/{app.key}/export")


@router.post("/apps/{key}/export/deliveries/{delivery_id}/retry")
def retry(
    request: Request, _: Posted, viewer: LoggedIn, app: ScopedApp, delivery_id: DeliveryId
) -> Response:
    try:
        retry_delivery(_settings(request), database(request), app.key, delivery_id)
    except Conflict as exc:
        flash(request, "error", f"Not retried: {exc.message}.")
        return redirect(f"/apps/{app.key}/export")
    with database(request).read() as session:
        record = exports.delivery_record(*exports.get_app_delivery(session, app.key, delivery_id))
    if record.status == DeliveryStatus.DELIVERED:
        flash(request, "success", f"{record.file_name} delivered (attempt {record.attempts}).")
    else:
        flash(
            request,
            "error",
            f"{record.file_name} failed again (attempt {record.attempts}): {record.error}",
        )
    return redirect(f"/apps/{app.key}/export")


# --- alert contacts -------------------------------------------------------------------------


@router.post("/apps/{key}/export/alerts")
def save_alerts(
    request: Request,
    _: Posted,
    viewer: LoggedIn,
    app: ScopedApp,
    alert_emails: FormText = "",
    alert_webhook_url: FormText = "",
    clear_webhook: FormText = "",
) -> Response:
    emails = [part for part in re.split(r"[\s,;]+", alert_emails) if part]
    try:
        with database(request).transaction() as session:
            apps.set_alert_contacts(
                session, app.key, emails=emails, webhook_url=alert_webhook_url.strip() or None,
                clear_webhook=bool(clear_webhook),
            )  # fmt: skip
    except InvalidInput as exc:
        return _export_page(
            request, app, viewer, status=422, alert_form={"emails": alert_emails},
            **_errors(exc, {"alert_emails", "alert_webhook_url"}, "The contacts were not saved"),
        )  # fmt: skip
    addresses = f"{len(emails)} address{'es' if len(emails) != 1 else ''}"
    hook = (
        "webhook removed" if clear_webhook
        else "webhook set" if alert_webhook_url.strip()
        else "webhook unchanged"
    )  # fmt: skip
    flash(request, "success", f"Alert contacts saved: {addresses}, {hook}.")
    return redirect(f"/apps/{app.key}/export")
