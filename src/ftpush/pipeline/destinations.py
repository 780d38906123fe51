"""An app's export destination as people set and see it: the CLI and the panel share this.

:func:`configure_destination` saves a :class:`~ftpush.storage.exports.DestinationSpec`
after the checks every interface needs — a key pair made here when asked (Ed25519,
:mod:`ftpush.remote.keys`), an uploaded private key read and its public half derived,
keys only for SFTP, and the whole login checked the way delivery will build it
(:func:`~ftpush.pipeline.exports.target_for`), so a setting that cannot work is refused
when saved (an :class:`~ftpush.errors.InvalidInput` naming the field), not at 03:00.
:func:`describe_destination` is what may be shown: never a password or a private key;
the public key, again and again, so it can be installed later.

Example::

    view = configure_destination(db, box, DestinationSpec(app_key="demo", remote=spec,
                                 path="/in"), generate_key=True)
    print(view.public_key)     # ssh-ed25519 AAAA... ftpush export demo
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ftpush.crypto import SecretBox
from ftpush.errors import InvalidInput
from ftpush.models import RemoteProtocol, ReportName
from ftpush.pipeline.exports import target_for
from ftpush.remote.keys import generate_key_pair, public_key_of
from ftpush.storage import Database, Session, exports
from ftpush.storage.exports import DestinationSpec
from ftpush.storage.remotes import credentials
from ftpush.storage.tables import ExportDestination, RemoteServer

DROPBOX = "dropbox"


@dataclass(frozen=True)
class DestinationView:
    """An app's destination, safe to show: no password, no private key."""

    label: str  # sftp://user@host:port/path or dropbox:/reports
    kind: str  # dropbox, sftp, ftps or ftp
    path: str
    reports: tuple[str, ...]  # those sent; every report when none was chosen
    format: str
    delimiter: str  # "tab" for a tab
    schedule_enabled: bool
    host: str | None = None
    port: int | None = None
    username: str | None = None
    has_password: bool = False
    has_private_key: bool = False
    public_key: str | None = None  # of the stored private key, to install on the server
    host_key_fingerprint: str | None = None
    tls_verify: bool = True
    tls_cert_fingerprint: str | None = None

    @property
    def auth(self) -> str | None:
        """``key`` or ``password`` for a server (a key wins when both are stored)."""
        if self.kind == DROPBOX:
            return None
        return "key" if self.has_private_key else "password"


def view_of(
    dest: ExportDestination, server: RemoteServer | None, *, box: SecretBox
) -> DestinationView:
    view = DestinationView(
        label=exports.destination_label(dest, server),
        kind=DROPBOX,
        path=dest.path,
        reports=tuple(dest.reports) or tuple(r.value for r in ReportName),
        format=str(dest.format),
        delimiter="tab" if dest.delimiter == "\t" else dest.delimiter,
        schedule_enabled=dest.schedule_enabled,
    )
    if server is None:
        return view
    public = server.public_key
    if server.private_key_encrypted and not public:  # stored before public keys were kept
        key = credentials(box, server).private_key
        try:
            public = public_key_of(key) if key else None
        except InvalidInput:
            public = None
    return replace(
        view,
        kind=str(server.protocol),
        host=server.host,
        port=server.port,
        username=server.username,
        has_password=server.password_encrypted is not None,
        has_private_key=server.private_key_encrypted is not None,
        public_key=public,
        host_key_fingerprint=server.host_key_fingerprint,
        tls_verify=server.tls_verify,
        tls_cert_fingerprint=server.tls_cert_fingerprint,
    )


def describe_destination(session: Session, box: SecretBox, app_key: str) -> DestinationView | None:
    """The app's destination, or ``None`` when it has none yet."""
    found = exports.find_destination(session, app_key)
    return view_of(*found, box=box) if found is not None else None


def configure_destination(
    db: Database, box: SecretBox, spec: DestinationSpec, *, generate_key: bool = False
) -> DestinationView:
    """Check and save the app's destination; ``generate_key`` makes it a new key pair.

    The spec's ``private_key`` (an uploaded key) must be readable; its public half is
    stored with it. Everything is written in one transaction, and nothing is when a
    check fails.
    """
    remote = spec.remote
    if remote is not None and (generate_key or remote.private_key):
        if RemoteProtocol(remote.protocol) is not RemoteProtocol.SFTP:
            raise InvalidInput("a key pair is for sftp:// destinations", field="key")
        if generate_key and remote.private_key:
            raise InvalidInput("upload a private key or generate a key pair, not both", field="key")
        if generate_key:
            private, public = generate_key_pair(f"ftpush export {spec.app_key}")
        else:
            private, public = remote.private_key or "", public_key_of(remote.private_key or "")
        spec = replace(spec, remote=replace(remote, private_key=private, public_key=public))
    with db.transaction() as session:
        dest = exports.set_destination(session, box, spec)
        server = exports.get_destination(session, spec.app_key)[1]
        if server is not None:
            target_for(box, server, dest.path)  # InvalidInput: rolled back, nothing saved
        return view_of(dest, server, box=box)
