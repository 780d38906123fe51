"""Query functions and schema rules, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from ftpush.crypto import verify_password
from ftpush.errors import Conflict, InvalidInput, NotFound
from ftpush.models import CampaignType, ImportKind, ImportSource, Platform, Role
from ftpush.storage import Database, accounts, apps, attributes, panel_users
from ftpush.storage.tables import (
    Campaign,
    Device,
    Event,
    ExportRun,
    FtpAccountNetwork,
    ImportFile,
    InboxEntry,
    JobRun,
    Message,
    User,
)


def _app(db: Database, key: str = "demo") -> int:
    with db.transaction() as s:
        return apps.create_app(s, key=key, name="Demo", timezone="Europe/Istanbul").id


def test_apps(db: Database) -> None:
    _app(db)
    with db.transaction() as s:
        app = apps.get_app(s, "demo")
        assert (app.name, app.timezone, app.ftp_enabled) == ("Demo", "Europe/Istanbul", True)
        assert app.created_at.tzinfo is not None
        apps.set_ftp_enabled(s, "demo", False)
    with db.transaction() as s:
        assert not apps.get_app(s, "demo").ftp_enabled
        assert [a.key for a in apps.list_apps(s)] == ["demo"]
        apps.update_app(s, "demo", name="Renamed", timezone="UTC")
    with pytest.raises(Conflict, match="already exists"), db.transaction() as s:
        apps.create_app(s, key="demo")
    with pytest.raises(NotFound, match="'nope' does not exist"), db.transaction() as s:
        apps.get_app(s, "nope")
    with pytest.raises(InvalidInput, match="unknown timezone"), db.transaction() as s:
        apps.create_app(s, key="other", timezone="Nowhere/City")


def test_accounts_hash_passwords_and_deny_by_default(db: Database, tmp_path: Path) -> None:
    _app(db)
    key_file = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key_file)], check=True)
    public = (tmp_path / "id.pub").read_text()
    with db.transaction() as s:
        account, password = accounts.add_account(
            s, app_key="demo", username="acme", ssh_keys=[public], cidrs=["10.1.0.0/16", "::1"]
        )
        assert verify_password(account.password_hash, password)
        assert password not in account.password_hash
        bare, _ = accounts.add_account(s, app_key="demo", username="bare")
    with db.transaction() as s:
        views = {v.username: v for v in accounts.list_accounts(s, "demo")}
        assert views["acme"].networks == ["10.1.0.0/16", "::1/128"]
        assert views["acme"].ssh_keys[0].startswith("SHA256:")
        assert views["bare"].networks == []  # nobody may log in
        assert accounts.allow_ip(s, "bare", "192.0.2.1") == "192.0.2.1/32"
        accounts.allow_ip(s, "bare", "192.0.2.1")  # idempotent
        assert accounts.networks_of(s, bare.id) == ["192.0.2.1/32"]
    with pytest.raises(Conflict), db.transaction() as s:
        accounts.add_ssh_key(s, "acme", public)
    with pytest.raises(Conflict, match="already exists"), db.transaction() as s:
        accounts.add_account(s, app_key="demo", username="acme")
    with pytest.raises(InvalidInput, match="invalid CIDR"), db.transaction() as s:
        accounts.add_account(s, app_key="demo", username="x", cidrs=["10.0.0.1/8"])
    with pytest.raises(InvalidInput, match="OpenSSH public key"), db.transaction() as s:
        accounts.add_account(s, app_key="demo", username="y", ssh_keys=["ssh-rsa garbage"])
    with pytest.raises(NotFound), db.transaction() as s:
        accounts.add_account(s, app_key="ghost", username="z")
    with db.transaction() as s:
        accounts.remove_account(s, "acme")
    with db.transaction() as s:
        # Removing an account removes its networks (ON DELETE CASCADE on both backends).
        assert s.scalar(select(func.count()).select_from(FtpAccountNetwork)) == 1
    with pytest.raises(NotFound), db.transaction() as s:
        accounts.remove_account(s, "acme")


def test_attributes(db: Database) -> None:
    _app(db)
    with db.transaction() as s:
        attributes.declare_attribute(s, app_key="demo", name="membershipTier", type_="string")
        attributes.declare_attribute(s, app_key="demo", name="age", type_="integer")
        # Same name compared without case: same type is a no-op, a new type replaces it
        # while nobody has a value.
        attributes.declare_attribute(s, app_key="demo", name="AGE", type_="integer")
        attributes.declare_attribute(s, app_key="demo", name="age", type_="number")
    with db.transaction() as s:
        assert {k: str(v) for k, v in attributes.attribute_types(s, "demo").items()} == {
            "age": "number",
            "membershipTier": "string",
        }
        app_id = apps.get_app(s, "demo").id
        s.add(User(app_id=app_id, external_id="u1", attributes={"age": 3}))
    with pytest.raises(Conflict, match="cannot change"), db.transaction() as s:
        attributes.declare_attribute(s, app_key="demo", name="age", type_="string")
    with pytest.raises(InvalidInput, match="unknown attribute type"), db.transaction() as s:
        attributes.declare_attribute(s, app_key="demo", name="x", type_="float")


def test_panel_users(db: Database) -> None:
    _app(db)
    with db.transaction() as s:
        admin = panel_users.create_panel_user(
            s, username="root", password="a-long-password", role=Role.ADMIN
        )
        assert verify_password(admin.password_hash, "a-long-password")
        member = panel_users.create_panel_user(
            s, username="eng", password="another-long-one", role=Role.MEMBER, app_key="demo"
        )
        assert member.app_id is not None
    with pytest.raises(Conflict), db.transaction() as s:
        panel_users.create_panel_user(s, username="root", password="x" * 20, role=Role.ADMIN)
    with pytest.raises(InvalidInput, match="at least 12"), db.transaction() as s:
        panel_users.create_panel_user(s, username="weak", password="short", role=Role.ADMIN)
    with pytest.raises(InvalidInput, match="belongs to an app"), db.transaction() as s:
        panel_users.create_panel_user(s, username="m", password="x" * 20, role=Role.MEMBER)
    with pytest.raises(IntegrityError), db.transaction() as s:
        # The CHECK constraint holds even when code is bypassed.
        s.execute(
            text(
                "INSERT INTO panel_users (username, password_hash, role, enabled, created_at,"
                " password_changed_at) VALUES ('m2', 'x', 'member', true, :t, :t)"
            ),
            {"t": dt.datetime(2026, 1, 1)},
        )


def _campaign(db: Database, app_id: int) -> tuple[int, int, int]:
    with db.transaction() as s:
        user = User(app_id=app_id, external_id="12345", attributes={})
        s.add(user)
        s.flush()
        device = Device(app_id=app_id, user_id=user.id, token="a" * 64, platform=Platform.IOS)
        f = ImportFile(
            app_id=app_id,
            name="push.csv",
            kind=ImportKind.PUSH,
            sha256="0" * 64,
            size=10,
            source=ImportSource.SFTP,
        )
        s.add_all([device, f])
        s.flush()
        campaign = Campaign(
            app_id=app_id, msg_id="m1", type=CampaignType.FILE, name="push.csv", import_file_id=f.id
        )
        s.add(campaign)
        s.flush()
        return campaign.id, user.id, device.id


def test_unique_keys_make_the_ledger_idempotent(db: Database) -> None:
    app_id = _app(db)
    campaign_id, user_id, device_id = _campaign(db, app_id)
    with db.transaction() as s:
        s.add(
            Message(
                campaign_id=campaign_id,
                line_no=1,
                device_id=device_id,
                user_id=user_id,
                platform=Platform.IOS,
            )
        )
        s.add(
            InboxEntry(
                app_id=app_id, user_id=user_id, campaign_id=campaign_id, line_no=1, text="Hi"
            )
        )
    duplicates = [
        Message(campaign_id=campaign_id, line_no=1, device_id=device_id, platform=Platform.IOS),
        InboxEntry(app_id=app_id, user_id=user_id, campaign_id=campaign_id, line_no=1, text="x"),
        User(app_id=app_id, external_id="12345"),
        Device(app_id=app_id, token="a" * 64, platform=Platform.IOS),
        JobRun(name="nightly", key="demo:2026-11-25"),
        JobRun(name="nightly", key="demo:2026-11-25"),
        ExportRun(
            app_id=app_id,
            trigger="nightly",
            idempotency_key="nightly:demo:2026-11-25",
            window_start=dt.date(2026, 11, 25),
            window_end=dt.date(2026, 11, 25),
        ),
        ExportRun(
            app_id=app_id,
            trigger="nightly",
            idempotency_key="nightly:demo:2026-11-25",
            window_start=dt.date(2026, 11, 25),
            window_end=dt.date(2026, 11, 25),
        ),
    ]
    failures = 0
    for row in duplicates:
        try:
            with db.transaction() as s:
                s.add(row)
        except IntegrityError:
            failures += 1
    # Every row above except the first JobRun and the first ExportRun is a duplicate.
    assert failures == len(duplicates) - 2


def test_foreign_keys_are_enforced_and_cascade(db: Database) -> None:
    app_id = _app(db)
    _campaign(db, app_id)
    with pytest.raises(IntegrityError), db.transaction() as s:
        s.add(User(app_id=987654, external_id="orphan"))
    with db.transaction() as s:
        s.delete(apps.get_app(s, "demo"))
    with db.transaction() as s:
        for table in (User, Device, Campaign, ImportFile):
            assert s.scalar(select(func.count()).select_from(table)) == 0


def test_datetimes_come_back_aware_in_utc(db: Database) -> None:
    app_id = _app(db)
    moment = dt.datetime(2026, 3, 29, 3, 30, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    with db.transaction() as s:
        s.add(Event(app_id=app_id, name="app_open", occurred_at=moment, params={"a": [1, "é"]}))
    with db.transaction() as s:
        stored = s.scalar(select(Event.occurred_at))
        params = s.scalar(select(Event.params))
    assert stored == moment
    assert stored is not None
    assert stored.utcoffset() == dt.timedelta(0)
    assert params == {"a": [1, "é"]}
    naive = dt.datetime(2026, 1, 1)
    with pytest.raises(StatementError, match="naive datetime"), db.transaction() as s:
        s.add(Event(app_id=app_id, name="x", occurred_at=naive))


def test_sqlite_runs_in_wal_with_foreign_keys(db: Database) -> None:
    if db.dialect != "sqlite":
        pytest.skip("SQLite pragmas")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 15000
