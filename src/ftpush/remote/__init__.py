"""Clients for customers' servers (SFTP, FTPS, FTP) behind one protocol.

The public surface: :class:`RemoteTarget` says where to go, :func:`open_client`
returns the real :class:`RemoteClient` for it (any code that talks to servers
takes a :class:`ClientFactory`, so tests pass ``FakeServer(...).connect``),
:func:`deliver` puts a file in place whole-or-nothing and :func:`probe` is the
*Test connection*. Every failure is a :class:`ftpush.errors.RemoteError` with a
``stage``. ``docs/remote.md`` has the details.

Example::

    async with open_client(target) as client:
        await deliver(client, Path("report.xlsx"), target.path, "acme_EVENTS_20250101.xlsx")
"""

from ftpush.remote.base import (
    DEFAULT_TIMEOUT,
    ClientFactory,
    DeliveryReceipt,
    ProbeResult,
    RemoteClient,
    RemoteEntry,
    RemoteTarget,
    deliver,
    open_client,
    probe,
)
from ftpush.remote.keys import fingerprint, generate_key_pair, public_key_of

__all__ = [
    "DEFAULT_TIMEOUT",
    "ClientFactory",
    "DeliveryReceipt",
    "ProbeResult",
    "RemoteClient",
    "RemoteEntry",
    "RemoteTarget",
    "deliver",
    "fingerprint",
    "generate_key_pair",
    "open_client",
    "probe",
    "public_key_of",
]
