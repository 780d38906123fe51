"""The data directory: create its layout and the key material kept in it.

Layout (everything ftpush keeps, in one place)::

    ftpush-data/
      ftpush.db          SQLite database (unless database.url says otherwise)
      ftpush.toml        optional settings file
      keys/              0700: ssh_host_ed25519_key, session.key, secrets.key
      tls/               cert.pem and key.pem of FTPS (self-signed unless configured)
      dropbox/<app>/     what FTP accounts see
      spool/             files being received and processed (never visible)
      archive/           processed files kept for the retention period

Example::

    >>> info = prepare(settings)   # doctest: +SKIP
    >>> info.ssh_host_key.name
    'ssh_host_ed25519_key'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ftpush.config import Settings
from ftpush.crypto import ensure_ssh_host_key, ensure_tls_certificate
from ftpush.errors import ConfigError


@dataclass(frozen=True)
class DataDir:
    root: Path
    ssh_host_key: Path
    ssh_host_public: str
    tls_cert: Path
    tls_key: Path


def prepare(settings: Settings) -> DataDir:
    """Create the directory tree and generate missing keys; idempotent."""
    root = settings.data_dir
    try:
        root.mkdir(parents=True, exist_ok=True, mode=0o750)
        settings.keys_dir.mkdir(exist_ok=True, mode=0o700)
        settings.keys_dir.chmod(0o700)
        for path in (settings.dropbox_dir, settings.spool_dir, settings.archive_dir):
            path.mkdir(exist_ok=True, mode=0o750)
        host_key = settings.sftp.host_key_file or settings.keys_dir / "ssh_host_ed25519_key"
        public = ensure_ssh_host_key(host_key)
        cert = settings.ftp.tls_cert_file or root / "tls" / "cert.pem"
        key = settings.ftp.tls_key_file or root / "tls" / "key.pem"
        if settings.ftp.tls_cert_file is None:
            ensure_tls_certificate(cert, key, ["localhost", "127.0.0.1", "::1"])
        elif not (cert.is_file() and key.is_file()):
            raise ConfigError(f"ftp.tls_cert_file/tls_key_file not found: {cert}, {key}")
    except OSError as exc:
        raise ConfigError(f"cannot prepare the data directory {root}: {exc}") from None
    return DataDir(
        root=root.resolve(),
        ssh_host_key=host_key,
        ssh_host_public=public,
        tls_cert=cert,
        tls_key=key,
    )
