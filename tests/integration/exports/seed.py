"""A rich data set for app ``demo`` (Europe/Istanbul) and the report rows it must give.

Everything is made through the code paths the product uses: the app, the push file and
the cancel through the ``ftpush`` CLI; devices, events (push opens, app tracking) and the
inbox through the storage functions behind ``POST /api/v1/devices``, ``POST /api/v1/events``
and ``PATCH .../inbox/{id}``; transactional and automated sends through
:func:`~ftpush.pipeline.transactional.send_to_users`; and the sending through a
:class:`~ftpush.pipeline.dispatch.Dispatcher` with the app's real APNs and FCM providers
against the push peer, whose answers depend on the token (``dead…`` unregistered,
``fail…`` refused, ``throttle…`` 429 with Retry-After).

What it holds, all on today's app-local date:

* three campaigns, oldest first: a push file (``file``), a ``transactional`` send and an
  ``automated`` send;
* messages ``sent``, ``failed``, ``invalid_token``, ``pending`` (a retry later),
  ``leased`` (claimed by a worker that died) and ``cancelled``, and lines without a
  message (``unknown_user``, ``no_device``); two clicks; inbox entries read, unread and
  deleted;
* eight devices on iOS and Android (one uninstalled by a dead token, one without push
  permission, one without a user);
* seven events at fixed times (00:00:10 to 00:01:10 local), two of them ``app_tracking``.

:func:`expected` turns what was seeded into the rows each report must have; timestamps
the clock decides are :class:`Stamp` matchers (ISO 8601, ``+03:00``, within the seeding).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ftpush.config import Settings, load_settings
from ftpush.crypto import SecretBox
from ftpush.models import InboxStatus, ReportName
from ftpush.pipeline.dispatch import Dispatcher, DispatchSummary
from ftpush.pipeline.providers import StoredProviders, configure_provider
from ftpush.pipeline.transactional import SendRequest, send_to_users
from ftpush.storage import Database, Session, apps, events, inbox, ledger, users
from ftpush.storage.tables import InboxEntry, Message
from tests.integration.cli.conftest import Ftpush
from tests.peers.push_peer import PushPeer

APP = "demo"
ZONE = "Europe/Istanbul"
OFFSET = "+03:00"

# Tokens; the push peer answers by prefix.
U1_IOS = "a1" * 32
U1_ANDROID = "fcm-u1-pixel"
U2_IOS_DEAD = "dead" + "0" * 60  # APNs 410 Unregistered: invalid_token, device uninstalled
U3_ANDROID_FAIL = "fail-u3-galaxy"  # FCM 400 on a field that is not the token: failed
U4_IOS_THROTTLE = "throttle" + "4" * 56  # APNs 429 + Retry-After: pending
U5_ANDROID_NO_PUSH = "fcm-u5-no-permission"
U6_ANDROID = "fcm-u6-redmi"
ANON_ANDROID = "fcm-anonymous"
U6 = "+905321112233"  # a phone number as external ID: starts with '+', written as text
# The providers' reasons for those answers, as the recipients report shows them.
REASONS = {U2_IOS_DEAD: "Unregistered", U3_ANDROID_FAIL: "INVALID_ARGUMENT",
           U4_IOS_THROTTLE: "TooManyRequests"}  # fmt: skip

# external ID, token, platform, app version, OS version, push permission
DEVICES: list[tuple[str | None, str, str, str | None, str | None, bool]] = [
    ("u1", U1_IOS, "ios", "3.2.0", "17.5", True),
    ("u1", U1_ANDROID, "android", "3.2.0", "14", True),
    ("u2", U2_IOS_DEAD, "ios", "3.1.0", "16.7", True),
    ("u3", U3_ANDROID_FAIL, "android", "3.0.1", "13", True),
    ("u4", U4_IOS_THROTTLE, "ios", "3.2.0", "17.4", True),
    ("u5", U5_ANDROID_NO_PUSH, "android", "3.2.0", "14", False),
    (U6, U6_ANDROID, "android", "2.9.0", "12", True),
    (None, ANON_ANDROID, "android", "3.2.0", None, True),
]

FILE_TEXT = "-50% on everything today"  # starts with '-': escaped in the reports
PUSH_FILE = (
    "ExternalID;Text;Deeplink\n"
    f"u1;{FILE_TEXT};https://shop.example/sale\n"
    f"u2;{FILE_TEXT};\n"
    f"u3;{FILE_TEXT};\n"
    f"u4;{FILE_TEXT};\n"
    f"u5;{FILE_TEXT};\n"
    f"ghost;{FILE_TEXT};\n"
)
PUSH_FILE_NAME = "summer-sale.csv"
SHIPPED = "Your order #1234 has shipped"
CART = "You left something in your cart"


@dataclass
class Seeded:
    """What the seeding made, for building the expected rows."""

    day: dt.date
    started: dt.datetime  # UTC, just before the first row was written
    finished: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    msg_ids: dict[str, str] = field(default_factory=dict)  # type -> msgID
    event_times: list[str] = field(default_factory=list)  # local ISO, as the report shows
    opened_message: int = 0  # the ledger id the first push_opened names

    @property
    def stamp(self) -> str:
        return self.day.strftime("%Y%m%d")


def local_now() -> dt.datetime:
    return dt.datetime.now(ZoneInfo(ZONE))


def seed(ftpush: Ftpush, peer: PushPeer, work: Path, database_url: str | None = None) -> Seeded:
    """Create app ``demo`` in ``ftpush.data_dir`` with the whole data set; see the module.

    ``database_url``: the PostgreSQL database the CLI uses too (``FTPUSH_DATABASE__URL``);
    None for the data directory's SQLite.
    """
    now = local_now()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    seeded = Seeded(day=now.date(), started=dt.datetime.now(dt.UTC).replace(microsecond=0))
    peer.reset()  # the peer is shared by the session: its knobs back to their defaults
    ftpush("app", "create", APP, "--timezone", ZONE)
    settings = load_settings(
        data_dir=ftpush.data_dir, environ={"FTPUSH_PUSH__CA_FILE": peer.ca_file},
        database={"url": database_url},
    )  # fmt: skip
    db = Database.open(settings)
    try:
        box = SecretBox.from_keys_dir(settings.keys_dir)
        configure_provider(db, box, APP, "ios", "apns", peer.apns_settings())
        configure_provider(db, box, APP, "android", "fcm", peer.fcm_settings())
        with db.transaction() as s:
            assert apps.get_app(s, APP).timezone == ZONE
            for ext, token, platform, app_v, os_v, permission in DEVICES:
                users.register_device(
                    s, app_key=APP, token=token, external_id=ext, platform=platform,
                    app_version=app_v, os_version=os_v, push_permission=permission,
                )  # fmt: skip

        # 1. A push file, imported like an upload, sent by the real providers.
        push_file = work / PUSH_FILE_NAME
        push_file.write_text(PUSH_FILE, encoding="utf-8")
        imported = ftpush("import", str(push_file), "--app", APP, "--json").json()
        assert imported["counts"]["messages"] == 5, imported
        seeded.msg_ids["file"] = imported["campaign"]
        # 2. A transactional send to four recipients (one unknown, one without a device).
        shipped = send_to_users(db, APP, SendRequest(["u1", U6, "u5", "nobody"], SHIPPED,
                                                     name="order-shipped"))  # fmt: skip
        seeded.msg_ids["transactional"] = shipped.msg_id
        with db.read() as s:
            file_id = ledger.get_campaign(s, seeded.msg_ids["file"]).id
        summaries = _dispatch(settings, db, box, [file_id, shipped.campaign_id])
        # What the push peer answered (a changed peer shows here, not in a report diff).
        assert [(x.sent, x.invalid_token, x.failed, x.retry) for x in summaries] == [
            (2, 1, 1, 1), (3, 0, 0, 0),
        ], summaries  # fmt: skip

        # 3. An automated send: a worker claims one message and dies; then it is cancelled.
        cart = send_to_users(
            db, APP, SendRequest(["u1", "u3"], CART, automated=True, inbox=False, name="cart")
        )
        seeded.msg_ids["automated"] = cart.msg_id
        with db.transaction() as s:
            [claimed] = ledger.claim(
                s, owner="worker-that-died", limit=1, lease_seconds=3600,
                campaign_id=cart.campaign_id,
            )  # fmt: skip
            assert claimed.token == U1_IOS
        cancelled = ftpush("campaign", "cancel", cart.msg_id, "--json").json()
        assert cancelled["cancelled"] == 2, cancelled

        # 4. Events at fixed times of the day (the API's path: resolve, mark opened, insert).
        times = [midnight + dt.timedelta(seconds=10 * (i + 1)) for i in range(7)]
        seeded.event_times = [t.isoformat(timespec="seconds") for t in times]
        with db.transaction() as s:
            app_id = apps.get_app(s, APP).id
            _record_events(s, app_id, seeded, times, file_id)
            # The customer's app deletes U6's inbox entry of the transactional send.
            user = users.get_user(s, app_id, U6)
            entry = s.scalar(
                select(InboxEntry).where(
                    InboxEntry.user_id == user.id,
                    InboxEntry.campaign_id == shipped.campaign_id,
                )
            )
            assert entry is not None
            found = inbox.get_entry(s, app_id, user.id, entry.id)
            inbox.set_status(found.entry, InboxStatus.DELETED)
    finally:
        db.close()
    seeded.finished = dt.datetime.now(dt.UTC)
    return seeded


def _dispatch(
    settings: Settings, db: Database, box: SecretBox, campaign_ids: list[int]
) -> list[DispatchSummary]:
    """Send the campaigns as a worker does, with the app's stored providers."""

    async def run() -> list[DispatchSummary]:
        providers = StoredProviders(settings, db, box)
        try:
            dispatcher = Dispatcher(settings, db, providers)
            return [await dispatcher.run_campaign(campaign_id) for campaign_id in campaign_ids]
        finally:
            await providers.aclose()

    return asyncio.run(run())


def _record_events(
    s: Session, app_id: int, seeded: Seeded, times: list[dt.datetime], file_id: int
) -> None:
    """What ``POST /api/v1/events`` does for this batch, through the same storage calls."""
    devices = events.devices_by_token(s, app_id, [U1_IOS, U1_ANDROID, ANON_ANDROID])
    people = events.ensure_users(s, app_id, ["u1", "u2", U6])
    u1_ios = devices[U1_IOS]
    opened_file = s.scalar(
        select(Message.id).where(Message.campaign_id == file_id, Message.device_id == u1_ios.id)
    )
    assert opened_file is not None
    seeded.opened_message = opened_file
    file_ref = events.message_by_id(s, app_id, seeded.opened_message)
    shipped_ref = events.line_of_user(
        s, app_id, seeded.msg_ids["transactional"], people["u1"], u1_ios.id
    )
    assert file_ref is not None
    assert shipped_ref is not None
    when = [t.astimezone(dt.UTC) for t in times]
    events.mark_opened(s, [(file_ref, when[0]), (shipped_ref, when[1])])
    rows = [
        events.EventRow(people["u1"], u1_ios.id, "push_opened", when[0],
                        {"message_id": seeded.opened_message}),
        events.EventRow(people["u1"], u1_ios.id, "push_opened", when[1],
                        {"message_id": seeded.msg_ids["transactional"]}),
        events.EventRow(people[U6], None, "add_to_cart", when[2],
                        {"sku": "A-1", "qty": 2, "price": 9.5}),
        events.EventRow(devices[U1_ANDROID].user_id, devices[U1_ANDROID].id, "purchase",
                        when[3], {"total": 129.9, "city": "İstanbul", "coupon": "=SUM(A1)"}),
        events.EventRow(None, devices[ANON_ANDROID].id, "app_tracking", when[4],
                        {"tracked_app": "com.rival.shop", "installed": True}),
        events.EventRow(people["u1"], u1_ios.id, "app_tracking", when[5],
                        {"tracked_app": "com.other.app", "installed": False}),
        events.EventRow(people["u2"], None, "app_open", when[6], {}),
    ]  # fmt: skip
    events.insert_events(s, app_id, rows)


# --- the expected rows ------------------------------------------------------------------


class Stamp:
    """A timestamp cell: ISO 8601 to the second with the app's offset, within the seeding."""

    PATTERN = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+03:00")

    def __init__(self, lo: dt.datetime, hi: dt.datetime) -> None:
        self.lo = lo - dt.timedelta(seconds=1)
        self.hi = hi + dt.timedelta(seconds=1)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, str) or not self.PATTERN.fullmatch(other):
            return False
        return self.lo <= dt.datetime.fromisoformat(other) <= self.hi

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return f"<a time {self.lo:%H:%M:%S}..{self.hi:%H:%M:%S}Z with {OFFSET}>"


def expected(seeded: Seeded) -> dict[str, tuple[ReportName, list[tuple[Any, ...]]]]:
    """File name stem -> (its report, the data rows it must have, header not included).

    Cells are text as the writers put it (formula-like text quoted), ints for counts,
    floats for the conversion rate, "" for an empty cell, :class:`Stamp` for clock times.
    """
    t = Stamp(seeded.started, seeded.finished)
    at = seeded.event_times
    day, ids, why = seeded.stamp, seeded.msg_ids, REASONS
    text = "'" + FILE_TEXT
    u6 = "'" + U6
    # Message ID, Type, Name, Text, Created, Started, Finished,
    # Targeted, Sent, Failed, Clicked, Conversion rate, iOS t/s/f/c, Android t/s/f/c,
    # Inbox read, unread, deleted
    campaigns = {
        "file": (
            ids["file"], "file", PUSH_FILE_NAME, text, t, t, "",
            5, 2, 2, 1, 0.5, 3, 1, 1, 1, 2, 1, 1, 0, 1, 4, 0,
        ),
        "transactional": (
            ids["transactional"], "transactional", "order-shipped", SHIPPED, t, t, t,
            3, 3, 0, 1, 0.3333, 1, 1, 0, 1, 2, 2, 0, 0, 1, 1, 1,
        ),
        "automated": (
            ids["automated"], "automated", "cart", CART, t, "", "",
            3, 0, 0, 0, 0.0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0,
        ),
    }  # fmt: skip
    recipients: dict[str, list[tuple[Any, ...]]] = {
        "file": [
            ("u1", "ios", U1_IOS, "sent", "", t, at[0]),
            ("u1", "android", U1_ANDROID, "sent", "", t, ""),
            ("u2", "ios", U2_IOS_DEAD, "invalid_token", why[U2_IOS_DEAD], "", ""),
            ("u3", "android", U3_ANDROID_FAIL, "failed", why[U3_ANDROID_FAIL], "", ""),
            ("u4", "ios", U4_IOS_THROTTLE, "pending", why[U4_IOS_THROTTLE], "", ""),
            ("u5", "", "", "no_device", "", "", ""),
            ("ghost", "", "", "unknown_user", "", "", ""),
        ],
        "transactional": [
            ("u1", "ios", U1_IOS, "sent", "", t, at[1]),
            ("u1", "android", U1_ANDROID, "sent", "", t, ""),
            (u6, "android", U6_ANDROID, "sent", "", t, ""),
            ("u5", "", "", "no_device", "", "", ""),
            ("nobody", "", "", "unknown_user", "", "", ""),
        ],
        "automated": [
            ("u1", "ios", U1_IOS, "leased", "", "", ""),
            ("u1", "android", U1_ANDROID, "cancelled", "", "", ""),
            ("u3", "android", U3_ANDROID_FAIL, "cancelled", "", "", ""),
        ],
    }
    opened = f'{{"message_id":{seeded.opened_message}}}'
    events_rows = [
        ("u1", U1_IOS, "push_opened", at[0], opened),
        ("u1", U1_IOS, "push_opened", at[1], f'{{"message_id":"{ids["transactional"]}"}}'),
        (u6, "", "add_to_cart", at[2], '{"price":9.5,"qty":2,"sku":"A-1"}'),
        ("u1", U1_ANDROID, "purchase", at[3],
         '{"city":"İstanbul","coupon":"=SUM(A1)","total":129.9}'),
        ("", ANON_ANDROID, "app_tracking", at[4],
         '{"installed":true,"tracked_app":"com.rival.shop"}'),
        ("u1", U1_IOS, "app_tracking", at[5], '{"installed":false,"tracked_app":"com.other.app"}'),
        ("u2", "", "app_open", at[6], "{}"),
    ]  # fmt: skip
    installations = [
        ("" if ext is None else u6 if ext == U6 else ext, platform, token, app_v or "",
         os_v or "", t, t, "yes" if permission else "no",
         "uninstalled" if token == U2_IOS_DEAD else "active")
        for ext, token, platform, app_v, os_v, permission in DEVICES
    ]  # fmt: skip
    tracking = [
        ("", ANON_ANDROID, "com.rival.shop", "yes", at[4]),
        ("u1", U1_IOS, "com.other.app", "no", at[5]),
    ]
    files: dict[str, tuple[ReportName, list[tuple[Any, ...]]]] = {
        f"{APP}_PUSH_REPORTS_{day}": (ReportName.CAMPAIGNS, list(campaigns.values())),
        f"{APP}_TRANSACTIONAL_PUSH_REPORTS_{day}": (
            ReportName.TRANSACTIONAL_CAMPAIGNS, [campaigns["transactional"]],
        ),
        f"{APP}_AUTOMATED_PUSH_REPORTS_{day}": (
            ReportName.AUTOMATED_CAMPAIGNS, [campaigns["automated"]],
        ),
        f"{APP}_EVENTS_{day}": (ReportName.EVENTS, events_rows),
        f"{APP}_INSTALLATIONS_{day}": (ReportName.INSTALLATIONS, installations),
        f"{APP}_APP_TRACKING_{day}": (ReportName.APP_TRACKING, tracking),
    }  # fmt: skip
    for kind, rows in recipients.items():
        files[f"{APP}_{ids[kind]}_PUSH_REPORTS_{day}"] = (ReportName.CAMPAIGN_RECIPIENTS, rows)
    return files
