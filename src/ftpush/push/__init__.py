"""Push providers behind one protocol: log, webhook, APNs, FCM.

The rest of ftpush sees :class:`~ftpush.push.base.Provider` and builds providers
with :func:`~ftpush.push.factory.make_provider` from an app's stored settings::

    provider = make_provider("apns", stored_settings)   # once per app, then reused
    outcomes = await provider.send(messages)             # one Outcome per message
    await provider.aclose()

:class:`~ftpush.push.factory.ProviderCache` keeps one provider per app for a worker.
"""

from ftpush.push.base import Outcome, OutcomeKind, Provider, PushMessage
from ftpush.push.factory import (
    PROVIDER_KINDS,
    ProviderCache,
    make_provider,
    parse_provider_config,
)

__all__ = [
    "PROVIDER_KINDS",
    "Outcome",
    "OutcomeKind",
    "Provider",
    "ProviderCache",
    "PushMessage",
    "make_provider",
    "parse_provider_config",
]
