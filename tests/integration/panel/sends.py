"""Data for the Users, Campaigns and Attributes pages, made through the product's paths.

Devices by :func:`ftpush.storage.users.register_device` (behind ``POST /api/v1/devices``);
attributes declared by storage and set through ``PATCH /api/v1/users/{id}``; sends by
:func:`ftpush.pipeline.transactional.send_to_users` (behind ``POST /api/v1/push``) and
sent by a :class:`~ftpush.pipeline.dispatch.Dispatcher` whose provider refuses tokens
starting with ``fail-``, on a clock we choose; opens and other events through
``POST /api/v1/events``.

App ``alpha`` (Europe/Paris) then has:

* ``u1``: an iOS and an Android device, attributes ``tier`` (string) and ``age``
  (integer), three Inbox entries (one read by the open, one unread, one deleted), events;
* ``u2``: one Android device whose token the provider refuses;
* campaign *welcome* (transactional, done): 3 targeted, 2 sent at ``sent_at``, 1 failed,
  2 clicked at ``clicked_at``; the line for ``ghost`` has no user;
* campaign *cart* (automated, pending: never dispatched): 2 messages to ``u1``;
* campaign *notice* (transactional, done) to ``u1`` only, whose entry ``u1`` deleted.

App ``beta`` has a user ``b1`` with a device and a campaign of its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ftpush.models import InboxStatus
from ftpush.pipeline.dispatch import Dispatcher
from ftpush.pipeline.transactional import SendRequest, send_to_users
from ftpush.push.base import OnOutcome, Outcome, OutcomeKind, PushMessage
from ftpush.storage import apps, attributes, inbox, users
from ftpush.storage.types import utcnow
from tests.integration.api.conftest import Api

IOS = "a1" * 32
ANDROID = "fcm-u1-pixel-7-0123456789"
FAILING = "fail-u2-galaxy-s23"
BETA = "fcm-beta-b1"
WELCOME_TEXT = "Welcome <b>back</b> & enjoy"
CART_TEXT = "You left something in your cart"
NOTICE_TEXT = "Our terms change on Monday"


class RefusingProvider:
    """Sends everything, except to tokens starting with ``fail-``: those fail for good."""

    name = "test"

    async def send(
        self, messages: Sequence[PushMessage], on_outcome: OnOutcome | None = None
    ) -> list[Outcome]:
        outcomes = []
        for index, message in enumerate(messages):
            if message.token.startswith("fail-"):
                outcome = Outcome(message.message_id, OutcomeKind.FAILED, reason="refused")
            else:
                outcome = Outcome(message.message_id, OutcomeKind.SENT, f"t-{message.message_id}")
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(index, outcome)
        return outcomes

    async def aclose(self) -> None:
        return None


@dataclass(frozen=True)
class Seeded:
    welcome: str  # msg_ids
    cart: str
    notice: str
    beta: str
    queued_at: tuple[dt.datetime, dt.datetime]  # the welcome messages were queued in here
    sent_at: dt.datetime
    clicked_at: dt.datetime


def _dispatch(api: Api, campaign_id: int, when: dt.datetime) -> None:
    provider = RefusingProvider()
    dispatcher = Dispatcher(
        api.settings, api.db, lambda app_id, platform: provider, clock=lambda: when
    )
    # In a thread of its own: Playwright's sync API keeps an event loop in this one.
    with ThreadPoolExecutor(1) as worker:
        worker.submit(asyncio.run, dispatcher.run_campaign(campaign_id)).result()


def seed(api: Api) -> Seeded:
    db = api.db
    with db.transaction() as s:
        users.register_device(
            s, app_key="alpha", token=IOS, external_id="u1", platform="ios",
            app_version="3.2.0", os_version="17.5", push_permission=True,
        )  # fmt: skip
        users.register_device(
            s, app_key="alpha", token=ANDROID, external_id="u1", platform="android",
            app_version="3.1.9", os_version="14", push_permission=True,
        )  # fmt: skip
        users.register_device(s, app_key="alpha", token=FAILING, external_id="u2")
        users.register_device(s, app_key="beta", token=BETA, external_id="b1")
        attributes.declare_attribute(s, app_key="alpha", name="tier", type_="string")
        attributes.declare_attribute(s, app_key="alpha", name="age", type_="integer")
    patched = api.client("alpha").patch(
        "/api/v1/users/u1", json={"attributes": {"tier": "gold <vip>", "age": 25}}
    )
    assert patched.status_code == 200, patched.text

    before = utcnow()
    welcome = send_to_users(
        db, "alpha",
        SendRequest(["u1", "u2", "ghost"], WELCOME_TEXT, "https://shop.example/w", name="welcome"),
    )  # fmt: skip
    after = utcnow()
    sent_at = before + dt.timedelta(minutes=3)
    clicked_at = before + dt.timedelta(minutes=10)
    _dispatch(api, welcome.campaign_id, sent_at)
    cart = send_to_users(db, "alpha", SendRequest(["u1"], CART_TEXT, automated=True, name="cart"))
    notice = send_to_users(db, "alpha", SendRequest(["u1"], NOTICE_TEXT, name="notice"))
    _dispatch(api, notice.campaign_id, sent_at)
    beta = send_to_users(db, "beta", SendRequest(["b1"], "Beta only", name="beta-news"))
    _dispatch(api, beta.campaign_id, sent_at)

    stamp = clicked_at.isoformat()
    recorded = api.client("alpha").post(
        "/api/v1/events",
        json={
            "events": [
                {"name": "push_opened", "time": stamp, "external_id": "u1",
                 "device_token": token, "params": {"message_id": welcome.msg_id}}
                for token in (IOS, ANDROID)
            ]
            + [
                {"name": "purchase", "time": stamp, "external_id": "u1", "device_token": IOS,
                 "params": {"total": 129.9, "note": "<img src=x onerror=alert(1)>"}},
            ]
        },
    )  # fmt: skip
    assert recorded.json() == {"recorded": 3, "opened": 2}, recorded.text
    with db.transaction() as s:
        app_id = apps.get_app(s, "alpha").id
        user = users.get_user(s, app_id, "u1")
        [entry] = [
            e for e in inbox.recent_entries(s, user.id, limit=10) if e.msg_id == notice.msg_id
        ]
        inbox.set_status(entry.entry, InboxStatus.DELETED)  # as PATCH …/inbox/{id} does
    return Seeded(
        welcome.msg_id, cart.msg_id, notice.msg_id, beta.msg_id, (before, after), sent_at,
        clicked_at,
    )  # fmt: skip
