"""SSH key pairs the platform makes for logging in to customers' SFTP servers.

"The platform can generate the key pair and show the public key" (SPEC §1): the
private half is stored encrypted (``ftpush.crypto.SecretBox``) and used as a
:class:`~ftpush.remote.base.RemoteTarget`'s ``private_key``; the public line is
what the customer appends to ``~/.ssh/authorized_keys`` on their server.

Ed25519 only: small, fast, and accepted by every OpenSSH since 6.5 (2014).

Example::

    >>> private, public = generate_key_pair("ftpush demo-shop")
    >>> public.startswith("ssh-ed25519 ") and public.endswith(" ftpush demo-shop")
    True
    >>> public_key_of(private) == public
    True
    >>> fingerprint(public).startswith("SHA256:")
    True
"""

from __future__ import annotations

import asyncssh

from ftpush.crypto import ssh_public_key_fingerprint
from ftpush.errors import InvalidInput


def generate_key_pair(comment: str = "ftpush") -> tuple[str, str]:
    """A new Ed25519 key: (private key in OpenSSH format, ``ssh-ed25519 AAAA... comment``)."""
    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    private = key.export_private_key("openssh").decode()
    public = key.export_public_key("openssh").decode().strip()
    return private, public


def public_key_of(private_key: str) -> str:
    """The OpenSSH public line of a stored private key (to show it again later)."""
    try:
        key = asyncssh.import_private_key(private_key)
    except (asyncssh.KeyImportError, ValueError):
        # from None: the parser's message could quote part of the key.
        raise InvalidInput(
            "not a readable private key (OpenSSH or PEM, without passphrase)",
            field="private_key",
        ) from None
    return key.export_public_key("openssh").decode().strip()


def fingerprint(public_line: str) -> str:
    """``SHA256:...`` of a public key line, as ``ssh-keygen -lf`` prints it."""
    try:
        return ssh_public_key_fingerprint(public_line)
    except ValueError:
        raise InvalidInput("not an OpenSSH public key line", field="public_key") from None
