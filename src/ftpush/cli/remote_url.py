"""Reading ``--url sftp://user@host:port/path`` options into remote-server settings."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ftpush.errors import InvalidInput
from ftpush.models import RemoteProtocol


@dataclass(frozen=True)
class RemoteUrl:
    protocol: RemoteProtocol
    host: str
    port: int
    username: str
    path: str


def parse_remote_url(url: str) -> RemoteUrl:
    """Split a remote URL; passwords in URLs are refused (they end up in shell history).

    >>> parse_remote_url("sftp://acme@sftp.example.com:2200/outbox")
    RemoteUrl(protocol=<RemoteProtocol.SFTP: 'sftp'>, host='sftp.example.com', port=2200, \
username='acme', path='/outbox')
    """
    parts = urlsplit(url)
    try:
        protocol = RemoteProtocol(parts.scheme.lower())
    except ValueError:
        raise InvalidInput(
            f"unsupported URL scheme {parts.scheme!r}: use sftp://, ftps:// or ftp://", field="url"
        ) from None
    if parts.password is not None:
        raise InvalidInput("do not put the password in the URL; use --password-stdin", field="url")
    if not parts.hostname or not parts.username:
        raise InvalidInput("the URL needs a user and a host: sftp://user@host/path", field="url")
    try:
        port = parts.port or 0
    except ValueError:
        raise InvalidInput(f"invalid port in {url!r}", field="url") from None
    return RemoteUrl(protocol, parts.hostname, port, unquote(parts.username), parts.path or "/")


def read_secret_stdin() -> str:
    """One line from standard input (for --password-stdin)."""
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise InvalidInput("no password on standard input", field="password")
    return line


def read_key_file(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read key file {path}: {exc}", field="key") from None
    if "PRIVATE KEY" not in text:
        raise InvalidInput(f"{path} holds no private key", field="key")
    return text
