"""One typed settings object for the whole of ftpush.

Settings come, highest priority first, from: keyword overrides given by the
CLI (``--data-dir``, ``--http-port``...), ``FTPUSH_SECTION__KEY`` environment
variables, the TOML file (``--config``, ``FTPUSH_CONFIG`` or
``<data dir>/ftpush.toml``), and the defaults declared here. Every field is
documented where it is declared; ``ftpush config show`` prints the result
with secrets masked.

This is the only module that reads ``os.environ``.

Example::

    >>> s = load_settings(data_dir="/tmp/ftpush-demo", environ={})
    >>> s.web.port, s.database_url().startswith("sqlite:///")
    (8080, True)
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ftpush.errors import ConfigError

ENV_PREFIX = "FTPUSH_"
DEFAULT_DATA_DIR = "ftpush-data"
CONFIG_FILE_NAME = "ftpush.toml"
# Values that are published in docs and examples; a production secret must never be one.
_KNOWN_WEAK_SECRETS = frozenset({"", "secret", "changeme", "change-me", "changethis", "password"})
_MIN_SECRET_LENGTH = 32


class Section(BaseModel):
    """Base of every settings section: unknown keys are a mistake, not a no-op."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(Section):
    url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL. Empty means SQLite at <data dir>/ftpush.db. "
            "postgresql://user:pass@host/db selects PostgreSQL (psycopg 3)."
        ),
    )
    echo: bool = Field(default=False, description="Log every SQL statement (debugging only).")
    auto_upgrade: bool = Field(
        default=True,
        description="Apply pending migrations when a command opens the database.",
    )
    busy_timeout_ms: int = Field(
        default=15_000, ge=0, description="SQLite: how long a writer waits for the lock."
    )
    pool_size: int = Field(default=10, ge=1, description="PostgreSQL: connections kept open.")


class WebSettings(Section):
    host: str = Field(default="127.0.0.1", description="Address the web app (API, panel) binds.")
    port: int = Field(default=8080, ge=0, le=65535, description="Port of the web app.")
    session_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Key that signs panel session cookies. Empty means a random key generated "
            "once and kept in <data dir>/keys/session.key."
        ),
    )
    max_request_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="Largest HTTP request body accepted (file uploads included).",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token that lets non-loopback clients read /metrics (deny when empty).",
    )
    max_json_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest JSON request body accepted by the API.",
    )


class SftpSettings(Section):
    enabled: bool = Field(default=True, description="Run the SFTP server in `ftpush serve`.")
    host: str = Field(default="127.0.0.1", description="Address the SFTP server binds.")
    port: int = Field(default=2222, ge=0, le=65535, description="Port of the SFTP server.")
    host_key_file: Path | None = Field(
        default=None,
        description="SSH host private key. Empty means <data dir>/keys/ssh_host_ed25519_key, "
        "generated on first start.",
    )


class FtpSettings(Section):
    enabled: bool = Field(default=True, description="Run the FTP/FTPS server in `ftpush serve`.")
    host: str = Field(default="127.0.0.1", description="Address the FTP server binds.")
    port: int = Field(default=2121, ge=0, le=65535, description="Port of the FTP control channel.")
    passive_ports: tuple[int, int] = Field(
        default=(30000, 30099), description="First and last port of the passive data range."
    )
    masquerade_address: str | None = Field(
        default=None, description="Address announced in PASV replies (behind NAT)."
    )
    allow_plain: bool = Field(
        default=False,
        description="Accept plain FTP without TLS. Weakest completion guarantee (226 only); "
        "refused outside the development profile unless `allow_plain_in_production` is set.",
    )
    allow_plain_in_production: bool = Field(
        default=False,
        description="The operator's acknowledgement that plain FTP is wanted in production.",
    )
    tls_cert_file: Path | None = Field(
        default=None,
        description="PEM certificate for FTPS. Empty means a self-signed one in <data dir>/tls/.",
    )
    tls_key_file: Path | None = Field(
        default=None, description="PEM private key of `tls_cert_file`."
    )


class IntakeSettings(Section):
    max_file_bytes: int = Field(
        default=5 * 1024**3, ge=1, description="Largest file accepted by any upload path."
    )
    archive_retention_days: int = Field(
        default=30, ge=1, description="Days an uploaded file is kept in the internal archive."
    )
    duplicate_window_days: int = Field(
        default=30, ge=0, description="A file with the same SHA-256 in this window is a duplicate."
    )
    login_timeout_seconds: int = Field(default=30, ge=1, description="Time allowed to log in.")
    idle_timeout_seconds: int = Field(
        default=600, ge=1, description="An idle file-transfer session is closed after this."
    )
    max_sessions_per_ip: int = Field(
        default=20, ge=1, description="Concurrent file-transfer sessions from one address."
    )
    ban_failures: int = Field(
        default=10, ge=1, description="Failed logins from one address that cause a ban."
    )
    ban_window_seconds: int = Field(
        default=300, ge=1, description="Window over which failed logins are counted."
    )
    ban_seconds: int = Field(default=900, ge=1, description="How long a ban lasts.")
    ban_exempt: tuple[str, ...] = Field(
        default=(), description="CIDRs never banned (monitoring probes)."
    )
    poll_interval_seconds: int = Field(
        default=60, ge=1, description="How often customers' servers are polled in pull mode."
    )


class QueueSettings(Section):
    url: str | None = Field(
        default=None,
        description="Task queue. Empty means SQLite at <data dir>/queue.db; redis://host:port/db "
        "selects Redis.",
    )
    workers: int = Field(default=2, ge=1, description="Worker threads per `serve`/`worker`.")
    sweep_seconds: float = Field(
        default=15.0,
        ge=0.5,
        description="How often the sweeper re-enqueues work a lost task left in the ledger.",
    )
    import_lease_seconds: int = Field(
        default=300,
        ge=5,
        description="How long a file being processed belongs to its worker between checkpoints.",
    )


class PushSettings(Section):
    batch_size: int = Field(
        default=500, ge=1, description="Messages claimed and committed per dispatch batch."
    )
    lease_seconds: int = Field(
        default=120, ge=5, description="How long a claimed batch belongs to its worker."
    )
    commit_every: int = Field(
        default=100,
        ge=1,
        description=(
            "Outcomes committed together while a batch is being sent; smaller shrinks what a "
            "crashed worker sends twice, larger costs fewer transactions."
        ),
    )
    max_attempts: int = Field(
        default=8, ge=1, description="Attempts before a throttled message is failed."
    )
    default_provider: Literal["log", "none"] = Field(
        default="log",
        description=(
            "What sends for an app with no provider for a platform (`ftpush app set-provider`): "
            "`log` records each message as sent without any network call; `none` fails them."
        ),
    )
    ca_file: Path | None = Field(
        default=None,
        description=(
            "Extra CA certificates (PEM) trusted for push provider connections instead of the "
            "system's, e.g. for a private APNs/FCM gateway."
        ),
    )
    settings_refresh_seconds: float = Field(
        default=10.0, ge=0, description="How often workers re-read apps' provider settings."
    )


class ExportSettings(Section):
    sends_per_day: int = Field(
        default=3, ge=0, description="Manual Send operations per app per day (admins unlimited)."
    )
    window_start_hour: int = Field(
        default=3, ge=0, le=23, description="Nightly exports start at or after this local hour."
    )
    window_end_hour: int = Field(
        default=6, ge=1, le=24, description="Nightly exports (and retries) end by this local hour."
    )
    catch_up_days: int = Field(
        default=3,
        ge=0,
        le=31,
        description="How many days back a night missed while no server ran is still sent when "
        "one comes back (0: today's only). Never a night before the destination was last changed.",
    )
    scheduler_seconds: float = Field(
        default=60.0, gt=0, description="How often the scheduler looks for nights and retries due."
    )
    claim_lease_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="A nightly run claimed by a process that stopped answering for this long is "
        "taken over by another.",
    )


class SmtpSettings(Section):
    host: str | None = Field(default=None, description="SMTP server for alert e-mails.")
    port: int = Field(default=587, ge=1, le=65535, description="SMTP port.")
    username: str | None = Field(default=None, description="SMTP login.")
    password: SecretStr | None = Field(default=None, description="SMTP password.")
    starttls: bool = Field(default=True, description="Use STARTTLS.")
    sender: str = Field(default="ftpush@localhost", description="From address of alerts.")
    ssl: bool = Field(default=False, description="Implicit TLS from the first byte (port 465).")
    timeout_seconds: float = Field(default=15.0, gt=0, description="SMTP and webhook timeout.")


class Settings(BaseSettings):
    """Everything ftpush can be told. Build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    profile: Literal["development", "production"] = Field(
        default="production",
        description="`development` tolerates insecure settings (weak secrets, plain FTP); "
        "`production` refuses to start with them.",
    )
    data_dir: Path = Field(
        default=Path(DEFAULT_DATA_DIR),
        description="Where everything lives: database, queue, keys, dropboxes, archive.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Least severe log level written."
    )
    event_loop: Literal["auto", "uvloop", "asyncio"] = Field(
        default="auto",
        description="Event loop of `serve` and `worker`: `uvloop` (libuv; about a sixth less "
        "CPU per SFTP packet), `asyncio` (the standard one), or `auto` (uvloop when installed).",
    )
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    sftp: SftpSettings = Field(default_factory=SftpSettings)
    ftp: FtpSettings = Field(default_factory=FtpSettings)
    intake: IntakeSettings = Field(default_factory=IntakeSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    push: PushSettings = Field(default_factory=PushSettings)
    export: ExportSettings = Field(default_factory=ExportSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)

    @model_validator(mode="after")
    def _refuse_insecure(self) -> Settings:
        """Refuse settings that are only acceptable on a developer's machine."""
        if self.profile == "development":
            return self
        problems = []
        secret = self.web.session_secret
        if secret is not None and (
            secret.get_secret_value().lower() in _KNOWN_WEAK_SECRETS
            or len(secret.get_secret_value()) < _MIN_SECRET_LENGTH
        ):
            problems.append(
                f"web.session_secret must be at least {_MIN_SECRET_LENGTH} random characters "
                "(or empty, to generate one)"
            )
        if self.ftp.allow_plain and not self.ftp.allow_plain_in_production:
            problems.append(
                "ftp.allow_plain sends passwords in clear text; set "
                "ftp.allow_plain_in_production too if that is really wanted"
            )
        if self.export.window_end_hour <= self.export.window_start_hour:
            problems.append("export.window_end_hour must be after export.window_start_hour")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # --- derived paths ---------------------------------------------------------

    def database_url(self) -> str:
        """The database URL, defaulting to SQLite in the data directory."""
        if self.database.url:
            return self.database.url
        return f"sqlite:///{(self.data_dir / 'ftpush.db').resolve()}"

    @property
    def keys_dir(self) -> Path:
        """Host keys, TLS material and the secrets' encryption key (mode 0700)."""
        return self.data_dir / "keys"

    @property
    def dropbox_dir(self) -> Path:
        """One folder per app: the roots the FTP accounts see."""
        return self.data_dir / "dropbox"

    @property
    def spool_dir(self) -> Path:
        """Files being received and processed; never visible to customers."""
        return self.data_dir / "spool"

    @property
    def archive_dir(self) -> Path:
        """Processed files kept for audit and reprocessing."""
        return self.data_dir / "archive"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file is merged into init_settings by load_settings(); environment
        # variables are read by load_settings() from the mapping it is given, so that
        # tests never depend on the real environment.
        return (init_settings,)


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _env_tree(environ: Mapping[str, str]) -> dict[str, Any]:
    """Turn ``FTPUSH_WEB__PORT=9000`` into ``{"web": {"port": "9000"}}``."""
    tree: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == f"{ENV_PREFIX}CONFIG":
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        # Other tools share the prefix (FTPUSH_TEST_DATABASE_URL, FTPUSH_CONFIG): only
        # variables naming a known section or field are ours. Inside a section an
        # unknown key is an error (a typo must not be silently ignored).
        if not all(path) or path[0] not in Settings.model_fields:
            continue
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment variable {name} conflicts with another")
        node[path[-1]] = _env_value(value)
    return tree


def _env_value(value: str) -> Any:
    """Environment values are strings; lists and tables are written as JSON."""
    if value.startswith(("[", "{")):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _format_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "settings"
        message = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "invalid settings: " + "; ".join(parts)


def load_settings(
    *,
    config_file: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build the effective settings.

    ``environ`` defaults to ``os.environ``; tests pass their own mapping.
    ``overrides`` use the nested shape (``web={"port": 0}``) or top-level
    fields (``data_dir=...``); ``None`` values are ignored so CLI options that
    were not given do not mask lower layers.
    """
    env = dict(os.environ if environ is None else environ)
    env_tree = _env_tree(env)
    top = {k: v for k, v in overrides.items() if v is not None}
    data_dir = Path(top.get("data_dir") or env_tree.get("data_dir") or DEFAULT_DATA_DIR)
    if config_file is None:
        config_file = env.get(f"{ENV_PREFIX}CONFIG")
        if config_file is None and (data_dir / CONFIG_FILE_NAME).is_file():
            config_file = data_dir / CONFIG_FILE_NAME
    values: dict[str, Any] = _load_toml(Path(config_file)) if config_file else {}
    values = _deep_merge(values, env_tree)
    values = _deep_merge(values, top)
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc)) from None


def mask_url(url: str) -> str:
    """Hide the password of a URL: ``postgresql://u:***@h/db``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def describe_settings(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data, secrets masked (``config show``)."""
    data: dict[str, Any] = settings.model_dump(mode="json")
    # SecretStr already dumps as "**********"; URLs may carry passwords in clear.
    for section, key in (("database", "url"), ("queue", "url")):
        value = data[section][key]
        if isinstance(value, str):
            data[section][key] = mask_url(value)
    data["database"]["effective_url"] = mask_url(settings.database_url())
    return data


def _show_default(value: Any) -> str:
    if value is None:
        return "(empty)"
    if isinstance(value, Path | str):
        return str(value)
    return json.dumps(value)


def field_docs(model: type[BaseModel] = Settings, prefix: str = "") -> list[tuple[str, str, str]]:
    """(dotted name, default, description) of every setting, for the docs."""
    rows: list[tuple[str, str, str]] = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, Section):
            rows.extend(field_docs(annotation, f"{prefix}{name}."))
            continue
        default = info.get_default(call_default_factory=True)
        rows.append((f"{prefix}{name}", _show_default(default), info.description or ""))
    return rows
