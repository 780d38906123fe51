"""Customer-hosted servers of an app: credentials encrypted at rest, pull settings.

Passwords and private keys are stored only as Fernet tokens under the data
directory's ``keys/secrets.key`` (:class:`ftpush.crypto.SecretBox`); reading
them back needs that box, so a copied database alone reveals nothing.

Example::

    >>> save_remote_server(session, box, RemoteServerSpec(app_key="demo", name="pull",
    ...     protocol=RemoteProtocol.SFTP, host="sftp.example.com", username="acme",
    ...     password="s3cret", import_path="/outbox", import_enabled=True))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ftpush.crypto import SecretBox
from ftpush.errors import InvalidInput, NotFound
from ftpush.models import RemoteProtocol
from ftpush.storage.apps import get_app
from ftpush.storage.tables import App, RemoteServer

DEFAULT_PORTS = {RemoteProtocol.SFTP: 22, RemoteProtocol.FTPS: 21, RemoteProtocol.FTP: 21}


@dataclass(frozen=True)
class RemoteServerSpec:
    """What an operator says about a remote server; secrets in clear, only in memory."""

    app_key: str
    name: str
    protocol: RemoteProtocol
    host: str
    username: str
    port: int = 0
    password: str | None = None
    private_key: str | None = None
    public_key: str | None = None
    host_key_fingerprint: str | None = None
    tls_verify: bool = True
    tls_cert_fingerprint: str | None = None
    import_path: str | None = None
    import_enabled: bool = False
    move_processed: bool = False

    def __repr__(self) -> str:  # never show secrets, even in a traceback
        return (
            f"RemoteServerSpec(app_key={self.app_key!r}, name={self.name!r}, "
            f"url={self.protocol}://{self.username}@{self.host}:{self.port})"
        )


@dataclass(frozen=True)
class Credentials:
    password: str | None
    private_key: str | None


def save_remote_server(session: Session, box: SecretBox, spec: RemoteServerSpec) -> RemoteServer:
    """Create or replace the app's server called ``spec.name``."""
    app = get_app(session, spec.app_key)
    if not spec.name or len(spec.name) > 100:
        raise InvalidInput("a remote server needs a name of 1-100 characters", field="name")
    if spec.import_enabled and not spec.import_path:
        raise InvalidInput("pull mode needs the remote folder to import from", field="path")
    server = session.scalar(
        select(RemoteServer).where(RemoteServer.app_id == app.id, RemoteServer.name == spec.name)
    )
    if server is None:
        server = RemoteServer(app_id=app.id, name=spec.name)
        session.add(server)
    server.protocol = RemoteProtocol(spec.protocol)
    server.host = spec.host
    server.port = spec.port or DEFAULT_PORTS[server.protocol]
    server.username = spec.username
    server.password_encrypted = box.encrypt(spec.password) if spec.password else None
    server.private_key_encrypted = box.encrypt(spec.private_key) if spec.private_key else None
    server.public_key = spec.public_key
    server.host_key_fingerprint = spec.host_key_fingerprint
    server.tls_verify = spec.tls_verify
    server.tls_cert_fingerprint = spec.tls_cert_fingerprint
    server.import_path = spec.import_path
    server.import_enabled = spec.import_enabled
    server.move_processed = spec.move_processed
    session.flush()
    return server


def get_remote_server(session: Session, app_key: str, name: str) -> RemoteServer:
    app = get_app(session, app_key)
    server = session.scalar(
        select(RemoteServer).where(RemoteServer.app_id == app.id, RemoteServer.name == name)
    )
    if server is None:
        raise NotFound(f"app {app_key!r} has no remote server {name!r}")
    return server


def list_remote_servers(session: Session, app_key: str) -> Sequence[RemoteServer]:
    app = get_app(session, app_key)
    return session.scalars(
        select(RemoteServer).where(RemoteServer.app_id == app.id).order_by(RemoteServer.name)
    ).all()


def credentials(box: SecretBox, server: RemoteServer) -> Credentials:
    """Decrypt the server's secrets for one use; never store the result."""
    return Credentials(
        password=box.decrypt(server.password_encrypted) if server.password_encrypted else None,
        private_key=(
            box.decrypt(server.private_key_encrypted) if server.private_key_encrypted else None
        ),
    )


def pull_sources(session: Session) -> Sequence[tuple[RemoteServer, App]]:
    """Servers to poll: pull mode on, app's FTP offer on."""
    rows = session.execute(
        select(RemoteServer, App)
        .join(App, App.id == RemoteServer.app_id)
        .where(RemoteServer.import_enabled.is_(True), App.ftp_enabled.is_(True))
        .order_by(RemoteServer.id)
    ).all()
    return [(server, app) for server, app in rows]
