"""The delivery ledger on SQLite and PostgreSQL: idempotent writes, leases, fencing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from ftpush.models import (
    CampaignStatus,
    ImportKind,
    ImportSource,
    MessageStatus,
    Platform,
    TokenState,
)
from ftpush.storage import Database, apps, ledger
from ftpush.storage.ledger import LineInput, OutcomeRecord
from ftpush.storage.tables import App, Campaign, Device, ImportFile, InboxEntry, Message, User

T0 = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


def setup(db: Database, *, inbox: bool = True) -> tuple[int, int]:
    """App with users u1 (2 devices), u2 (no device), u3 (a dead device); a push file."""
    with db.transaction() as s:
        app = apps.create_app(s, key="demo")
        app.inbox_enabled = inbox
        users = {ext: User(app_id=app.id, external_id=ext) for ext in ("u1", "u2", "u3")}
        s.add_all(users.values())
        s.flush()
        s.add_all(
            [
                Device(app_id=app.id, user_id=users["u1"].id, token="a" * 64, platform="ios"),
                Device(app_id=app.id, user_id=users["u1"].id, token="fcm-1", platform="android"),
                Device(
                    app_id=app.id,
                    user_id=users["u3"].id,
                    token="fcm-dead",
                    platform="android",
                    token_state=TokenState.UNINSTALLED,
                ),
            ]
        )
        row = ImportFile(
            app_id=app.id,
            name="push.csv",
            kind=ImportKind.PUSH,
            sha256="0" * 64,
            size=1,
            source=ImportSource.CLI,
        )
        s.add(row)
        s.flush()
        return app.id, row.id


LINES = [
    LineInput(1, "u1", "Hello\nthere", "https://example.com"),
    LineInput(2, "u2", "No device", None),
    LineInput(3, "ghost", "Unknown", None),
    LineInput(4, "u3", "Dead token", None),
]


def write(db: Database, import_id: int, lines: list[LineInput]) -> ledger.WriteCounts:
    with db.transaction() as s:
        row = s.get(ImportFile, import_id)
        assert row is not None
        campaign = ledger.ensure_file_campaign(s, row)
        app = s.get(App, row.app_id)
        assert app is not None
        return ledger.write_lines(s, campaign, app, lines)


def count(db: Database, table: type) -> int:
    with db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def test_writing_lines_is_idempotent(db: Database) -> None:
    _, import_id = setup(db)
    first = write(db, import_id, LINES)
    assert (first.unknown_user, first.no_device, first.messages, first.inbox) == (1, 2, 2, 3)
    again = write(db, import_id, LINES[:2])  # a resumed run repeats a batch
    assert again.messages == 2
    assert count(db, Campaign) == 1
    assert count(db, Message) == 2
    assert count(db, InboxEntry) == 3
    with db.transaction() as s:
        campaign = s.scalar(select(Campaign))
        assert campaign is not None
        assert ledger.line_outcomes(s, campaign.id) == {
            "targeted": 1,
            "no_device": 2,
            "unknown_user": 1,
            "lines": 4,
        }
        entry = s.scalar(select(InboxEntry).where(InboxEntry.line_no == 1))
        assert entry is not None
        assert entry.text == "Hello\nthere"


def test_inbox_off_writes_no_entries(db: Database) -> None:
    _, import_id = setup(db, inbox=False)
    write(db, import_id, LINES)
    assert count(db, InboxEntry) == 0
    assert count(db, Message) == 2


def test_claim_lease_expiry_and_fencing(db: Database) -> None:
    _, import_id = setup(db)
    write(db, import_id, LINES)
    with db.transaction() as s:
        batch = ledger.claim(s, owner="w1", limit=10, lease_seconds=60, now=T0)
    assert [c.attempt for c in batch] == [1, 1]
    assert {c.platform for c in batch} == {Platform.IOS, Platform.ANDROID}
    assert batch[0].text == "Hello\nthere"
    assert batch[0].key.endswith(f":1:{batch[0].device_id}")
    with db.transaction() as s:  # nothing is due while the lease holds
        assert ledger.claim(s, owner="w2", limit=10, lease_seconds=60, now=T0) == []
    later = T0 + dt.timedelta(seconds=61)
    with db.transaction() as s:  # w1 died: its lease expired, w2 takes over
        taken = ledger.claim(s, owner="w2", limit=10, lease_seconds=60, now=later)
    assert [c.attempt for c in taken] == [2, 2]
    stale = [OutcomeRecord(c.message_id, c.attempt, MessageStatus.SENT, "log") for c in batch]
    fresh = [OutcomeRecord(c.message_id, c.attempt, MessageStatus.SENT, "log") for c in taken]
    with db.transaction() as s:
        assert ledger.record_outcomes(s, stale) == 0  # fenced out
        # one statement for many rows still counts, and fences, row by row
        assert ledger.record_outcomes(s, [stale[0], fresh[0], stale[1]]) == 1
        assert ledger.record_outcomes(s, fresh) == 1
        assert ledger.record_outcomes(s, fresh) == 0  # and only once
        assert ledger.record_outcomes(s, []) == 0
        campaign_id = taken[0].campaign_id
        assert ledger.message_status_counts(s, campaign_id) == {"sent": 2}
        assert ledger.open_message_counts(s, campaign_id) == 0


def test_retry_later_and_dead_tokens(db: Database) -> None:
    _, import_id = setup(db)
    write(db, import_id, LINES)
    with db.transaction() as s:
        ios, android = ledger.claim(s, owner="w", limit=10, lease_seconds=60, now=T0)
        retry_at = T0 + dt.timedelta(seconds=30)
        ledger.record_outcomes(
            s,
            [
                OutcomeRecord(ios.message_id, ios.attempt, MessageStatus.PENDING, "apns",
                              error_code="retry", next_attempt_at=retry_at),
                OutcomeRecord(android.message_id, android.attempt, MessageStatus.INVALID_TOKEN,
                              "fcm", error_code="invalid_token", error_reason="UNREGISTERED"),
            ],
            now=T0,
        )  # fmt: skip
        ledger.mark_devices_uninstalled(s, [android.device_id])
    with db.transaction() as s:
        assert ledger.claim(s, owner="w", limit=10, lease_seconds=60, now=T0) == []
        assert ledger.campaigns_with_due_messages(s, retry_at) == [ios.campaign_id]
        again = ledger.claim(s, owner="w", limit=10, lease_seconds=60, now=retry_at)
        assert [c.message_id for c in again] == [ios.message_id]
        dead = s.get(Device, android.device_id)
        assert dead is not None
        assert dead.token_state is TokenState.UNINSTALLED


def test_cancel_stops_what_is_not_sent(db: Database) -> None:
    _, import_id = setup(db)
    write(db, import_id, LINES)
    with db.transaction() as s:
        campaign = s.scalar(select(Campaign))
        assert campaign is not None
        [leased] = ledger.claim(s, owner="w", limit=1, lease_seconds=60, now=T0)
        assert ledger.cancel_campaign(s, campaign.id) == 1
        assert campaign.status is CampaignStatus.CANCELLED
        ledger.record_outcomes(
            s, [OutcomeRecord(leased.message_id, leased.attempt, MessageStatus.SENT, "log")]
        )
        assert ledger.message_status_counts(s, campaign.id) == {"cancelled": 1, "sent": 1}
        cancelled_at = campaign.cancelled_at
        assert ledger.cancel_campaign(s, campaign.id) == 0  # again: nothing changes
        assert campaign.cancelled_at == cancelled_at


def test_cancel_leaves_a_finished_campaign_as_it_is(db: Database) -> None:
    _, import_id = setup(db)
    write(db, import_id, LINES)
    with db.transaction() as s:
        campaign = s.scalar(select(Campaign))
        assert campaign is not None
        campaign.status = CampaignStatus.DONE
        assert ledger.cancel_campaign(s, campaign.id) == 0
        assert (campaign.status, campaign.cancelled_at) == (CampaignStatus.DONE, None)


def test_claims_never_overlap(db: Database) -> None:
    _, import_id = setup(db)
    with db.transaction() as s:
        app_id = s.scalar(select(ImportFile.app_id))
        many = [User(app_id=app_id, external_id=f"x{i}") for i in range(50)]
        s.add_all(many)
        s.flush()
        s.add_all(
            Device(app_id=app_id, user_id=u.id, token=f"t{u.id}", platform="android") for u in many
        )
    write(db, import_id, [LineInput(i + 10, f"x{i}", "hi", None) for i in range(50)])
    seen: list[int] = []
    owners = 0
    while True:
        with db.transaction() as s:
            batch = ledger.claim(s, owner=f"w{owners}", limit=7, lease_seconds=60, now=T0)
        if not batch:
            break
        owners += 1
        seen.extend(c.message_id for c in batch)
    assert len(seen) == len(set(seen)) == 50
