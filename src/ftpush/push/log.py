"""The log provider: every message counts as delivered, nothing leaves the machine.

It is the default provider (SPEC §6), so a fresh installation without
credentials runs the whole path — ledger, outcomes, reports — end to end. It
counts what it "sent" and can keep the messages in memory for tests.

Example::

    >>> import asyncio
    >>> from ftpush.models import Platform
    >>> provider = LogProvider(record=True)
    >>> message = PushMessage(1, "c1:1:7", "tok", Platform.IOS, "Hi", None, "c1")
    >>> [o.kind for o in asyncio.run(provider.send([message]))]
    [<OutcomeKind.SENT: 'sent'>]
    >>> provider.sent, provider.messages[0].text
    (1, 'Hi')
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

from ftpush.push.base import OnOutcome, Outcome, OutcomeKind, PushMessage

log = logging.getLogger(__name__)


class LogProvider:
    """Records every message as delivered (``provider_message_id`` = ``log-<id>``)."""

    name = "log"

    def __init__(self, *, record: bool = False) -> None:
        self.sent = 0
        self.batches = 0
        self.by_platform: Counter[str] = Counter()
        self.messages: list[PushMessage] = []
        self._record = record
        self.closed = False

    async def send(
        self, messages: Sequence[PushMessage], on_outcome: OnOutcome | None = None
    ) -> list[Outcome]:
        """Every message SENT, in order; logged at DEBUG one line per message."""
        self.batches += 1
        self.sent += len(messages)
        if self._record:
            self.messages.extend(messages)
        outcomes = []
        for index, message in enumerate(messages):
            self.by_platform[message.platform.value] += 1
            log.debug("push %s to %s: %r", message.key, message.platform.value, message.text)
            outcome = Outcome(message.message_id, OutcomeKind.SENT, f"log-{message.message_id}")
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(index, outcome)
        return outcomes

    async def aclose(self) -> None:
        self.closed = True
