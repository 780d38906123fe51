"""``ftpush app``: create, list, show and change apps and their FTP offer.

Also an app's push providers, API keys and alert contacts (who is told when an export
fails for good; ``ftpush app test-alert`` tries them).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click

from ftpush.cli.context import CliContext, emit_json, emit_table, json_option, pass_cli
from ftpush.crypto import SecretBox
from ftpush.errors import InvalidInput
from ftpush.pipeline.alerts import Alerter, contacts_of, probe_alert, redact_url
from ftpush.pipeline.providers import configure_provider, describe_providers
from ftpush.push.factory import PROVIDER_KINDS
from ftpush.storage import api_keys, apps, push_providers
from ftpush.storage.tables import App


def app_dict(app: App) -> dict[str, Any]:
    return {
        "key": app.key,
        "name": app.name,
        "timezone": app.timezone,
        "ftp_enabled": app.ftp_enabled,
        "inbox_enabled": app.inbox_enabled,
        "rate_limit_per_second": app.rate_limit_per_second,
        "alert_emails": list(app.alert_emails or []),
        # Shown without its password and query values: it may carry a token.
        "alert_webhook_url": redact_url(app.alert_webhook_url) if app.alert_webhook_url else None,
        "created_at": app.created_at.isoformat(),
    }


def _echo_app(data: dict[str, Any]) -> None:
    for field, value in data.items():
        shown = ", ".join(value) or "-" if isinstance(value, list) else value
        click.echo(f"{field + ':':<15} {shown}")


@click.group("app")
def command() -> None:
    """Apps: the customers' applications."""


@command.command("create")
@click.argument("key")
@click.option("--name", help="Display name (default: the key).")
@click.option("--timezone", default="UTC", show_default=True, help="IANA timezone.")
@json_option
@pass_cli
def create(obj: CliContext, key: str, name: str | None, timezone: str, as_json: bool) -> None:
    """Create the app KEY (lowercase letters, digits, '-')."""
    with obj.session() as session:
        app = apps.create_app(session, key=key, name=name, timezone=timezone)
        data = app_dict(app)
    if as_json:
        emit_json(data)
    else:
        click.echo(f"created app {key} ({data['name']}, {timezone}); FTP offer on")


@command.command("list")
@json_option
@pass_cli
def list_(obj: CliContext, as_json: bool) -> None:
    """List every app."""
    with obj.session() as session:
        rows = [app_dict(a) for a in apps.list_apps(session)]
    if as_json:
        emit_json(rows)
    else:
        emit_table(rows, ["key", "name", "timezone", "ftp_enabled"])


@command.command("show")
@click.argument("key")
@json_option
@pass_cli
def show(obj: CliContext, key: str, as_json: bool) -> None:
    """Show one app."""
    with obj.session() as session:
        data = app_dict(apps.get_app(session, key))
    if as_json:
        emit_json(data)
    else:
        _echo_app(data)


def _switch(obj: CliContext, key: str, enabled: bool) -> None:
    with obj.session() as session:
        apps.set_ftp_enabled(session, key, enabled)
    click.echo(f"FTP offer of {key} is now {'on' if enabled else 'off'}")


@command.command("enable-ftp")
@click.argument("key")
@pass_cli
def enable_ftp(obj: CliContext, key: str) -> None:
    """Switch the FTP offer on: logins, pull polling and nightly exports."""
    _switch(obj, key, True)


@command.command("disable-ftp")
@click.argument("key")
@pass_cli
def disable_ftp(obj: CliContext, key: str) -> None:
    """Switch the FTP offer off: logins refused, pollers and exports stop."""
    _switch(obj, key, False)


# --- push providers ----------------------------------------------------------------

_PLATFORM = click.option(
    "--platform",
    type=click.Choice(["ios", "android", "any"]),
    default="any",
    show_default=True,
    help="Which devices this provider sends to ('any': platforms without their own).",
)


def _settings_from(
    config_file: Path | None, pairs: tuple[str, ...], files: tuple[str, ...]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if config_file is not None:
        try:
            loaded = json.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise click.BadParameter(f"{config_file}: {exc}", param_hint="--config") from None
        if not isinstance(loaded, dict):
            raise click.BadParameter(f"{config_file}: not a JSON object", param_hint="--config")
        values.update(loaded)
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r}: write NAME=VALUE", param_hint="--set")
        values[name.strip()] = value
    for pair in files:
        name, sep, path = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r}: write NAME=PATH", param_hint="--file")
        try:
            values[name.strip()] = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise click.BadParameter(f"{path}: {exc.strerror}", param_hint="--file") from None
    return values


@command.command("set-provider")
@click.argument("key")
@click.argument("kind", type=click.Choice(list(PROVIDER_KINDS)))
@_PLATFORM
@click.option("--set", "pairs", multiple=True, metavar="NAME=VALUE", help="One setting.")
@click.option(
    "--file", "files", multiple=True, metavar="NAME=PATH",
    help="A setting read from a file (private_key=AuthKey.p8, service_account_json=sa.json).",
)  # fmt: skip
@click.option(
    "--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
    help="All settings as one JSON object (--set and --file override it).",
)  # fmt: skip
@json_option
@pass_cli
def set_provider(
    obj: CliContext,
    key: str,
    kind: str,
    platform: str,
    pairs: tuple[str, ...],
    files: tuple[str, ...],
    config_file: Path | None,
    as_json: bool,
) -> None:
    """Send app KEY's pushes with KIND (log, webhook, apns, fcm); settings stored encrypted.

    \b
    apns:    --set key_id=.. --set team_id=.. --set topic=com.example.app
             --file private_key=AuthKey_XXXX.p8 [--set endpoint=sandbox]
    fcm:     --file service_account_json=service-account.json
    webhook: --set url=https://... [--set secret=...]
    """
    values = _settings_from(config_file, pairs, files)
    box = SecretBox.from_keys_dir(obj.settings.keys_dir)
    shown = configure_provider(obj.db, box, key, platform, kind, values)
    if as_json:
        emit_json(shown)
    else:
        click.echo(f"app {key} now sends {platform} pushes with {kind}")
        for name, value in shown.items():
            if name not in ("platform", "kind"):
                click.echo(f"  {name}: {value}")


@command.command("providers")
@click.argument("key")
@json_option
@pass_cli
def providers(obj: CliContext, key: str, as_json: bool) -> None:
    """Show app KEY's push providers (secrets masked)."""
    rows = describe_providers(obj.db, SecretBox.from_keys_dir(obj.settings.keys_dir), key)
    if as_json:
        emit_json(rows)
    elif not rows:
        default = obj.settings.push.default_provider
        click.echo(f"app {key} has no push provider; the default ({default}) applies")
    else:
        emit_table(rows, ["platform", "kind", "updated_at"])


@command.command("remove-provider")
@click.argument("key")
@_PLATFORM
@pass_cli
def remove_provider(obj: CliContext, key: str, platform: str) -> None:
    """Forget app KEY's provider for a platform."""
    with obj.session() as session:
        push_providers.delete_provider(session, key, platform)
    click.echo(f"app {key}: {platform} provider removed")


@command.command("set")
@click.argument("key")
@click.option("--name", help="Display name.")
@click.option("--timezone", help="IANA timezone.")
@click.option("--inbox/--no-inbox", default=None, help="Write an Inbox entry per push line.")
@click.option(
    "--rate-limit", type=click.IntRange(min=0), metavar="N",
    help="At most N messages per second for this app (0: no limit).",
)  # fmt: skip
@click.option(
    "--alert-email", "alert_emails", multiple=True, metavar="ADDRESS",
    help="Who is e-mailed when an export fails for good (repeat; replaces the list).",
)  # fmt: skip
@click.option("--no-alert-emails", is_flag=True, help="E-mail nobody about failed exports.")
@click.option(
    "--alert-webhook", metavar="URL",
    help="http(s) URL that gets a JSON POST when an export fails for good.",
)  # fmt: skip
@click.option("--no-alert-webhook", is_flag=True, help="Remove the alert webhook.")
@json_option
@pass_cli
def set_(
    obj: CliContext,
    key: str,
    name: str | None,
    timezone: str | None,
    inbox: bool | None,
    rate_limit: int | None,
    alert_emails: tuple[str, ...],
    no_alert_emails: bool,
    alert_webhook: str | None,
    no_alert_webhook: bool,
    as_json: bool,
) -> None:
    """Change app KEY's name, timezone, Inbox switch, send rate or alert contacts."""
    if alert_emails and no_alert_emails:
        raise click.UsageError("give --alert-email or --no-alert-emails, not both")
    if alert_webhook is not None and no_alert_webhook:
        raise click.UsageError("give --alert-webhook or --no-alert-webhook, not both")
    emails = list(alert_emails) if alert_emails else ([] if no_alert_emails else None)
    with obj.session() as session:
        app = apps.update_app(
            session, key, name=name, timezone=timezone, inbox_enabled=inbox, rate_limit=rate_limit
        )
        if emails is not None or alert_webhook is not None or no_alert_webhook:
            app = apps.set_alert_contacts(
                session, key, emails=emails, webhook_url=alert_webhook,
                clear_webhook=no_alert_webhook,
            )  # fmt: skip
        data = app_dict(app)
    if as_json:
        emit_json(data)
    else:
        _echo_app(data)


@command.command("test-alert")
@click.argument("key")
@click.option(
    "--timeout", type=click.FloatRange(1, 300), default=None, metavar="SECONDS",
    help="Per channel (default: smtp.timeout_seconds).",
)  # fmt: skip
@json_option
@pass_cli
def test_alert(obj: CliContext, key: str, timeout: float | None, as_json: bool) -> None:
    """Send a test alert to app KEY's alert contacts; exit 1 if any of them failed."""
    with obj.db.read() as session:
        emails, webhook_url = contacts_of(apps.get_app(session, key))
    if not emails and not webhook_url:
        raise InvalidInput(
            f"app {key} has no alert contacts: add them with "
            f"`ftpush app set {key} --alert-email ADDRESS --alert-webhook URL`"
        )
    alerter = Alerter(obj.settings, timeout=timeout)
    outcomes = asyncio.run(alerter.notify(emails, webhook_url, probe_alert(key)))
    if as_json:
        emit_json([o.to_json() for o in outcomes])
    else:
        for o in outcomes:
            result = "sent" if o.ok else f"FAILED: {o.error}"
            click.echo(f"{o.channel:<8} {o.target}: {result}")
    if not all(o.ok for o in outcomes):
        raise click.exceptions.Exit(1)


# --- API keys ------------------------------------------------------------------------


@command.group("api-key")
def api_key() -> None:
    """REST API keys of an app (shown once, stored hashed)."""


@api_key.command("create")
@click.argument("key")
@click.option("--name", required=True, help="What the key is for (e.g. 'backend').")
@json_option
@pass_cli
def api_key_create(obj: CliContext, key: str, name: str, as_json: bool) -> None:
    """Create an API key for app KEY; it is printed once and never again."""
    with obj.session() as session:
        row, secret = api_keys.create_api_key(session, key, name)
        data = {"app": key, "name": row.name, "prefix": row.prefix, "key": secret}
    if as_json:
        emit_json(data)
    else:
        click.echo(f"API key {row.prefix} ({name}) for app {key}:")
        click.echo(f"  {secret}")
        click.echo("store it now: it is kept only as a hash and cannot be shown again")


@api_key.command("list")
@click.argument("key")
@json_option
@pass_cli
def api_key_list(obj: CliContext, key: str, as_json: bool) -> None:
    """App KEY's API keys (prefixes only)."""
    with obj.session() as session:
        rows = [
            {
                "prefix": r.prefix,
                "name": r.name,
                "created_at": r.created_at.isoformat(),
                "last_used_at": r.last_used_at.isoformat() if r.last_used_at else None,
                "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
            }
            for r in api_keys.list_api_keys(session, key)
        ]
    if as_json:
        emit_json(rows)
    else:
        emit_table(rows, ["prefix", "name", "created_at", "last_used_at", "revoked_at"])


@api_key.command("revoke")
@click.argument("prefix")
@pass_cli
def api_key_revoke(obj: CliContext, prefix: str) -> None:
    """Revoke the API key with this PREFIX; requests with it are refused at once."""
    with obj.session() as session:
        api_keys.revoke_api_key(session, prefix)
    click.echo(f"API key {prefix} revoked")
