"""Storage behind the panel: sessions, logins, password changes, app-scoped lookups."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ftpush.errors import InvalidInput, NotFound
from ftpush.models import Role
from ftpush.storage import Database, accounts, api_keys, apps, panel_sessions, panel_users
from ftpush.storage.types import utcnow

KEY = (Path(__file__).parent / "id_ed25519.pub").read_text().strip()


def _users(db: Database) -> tuple[int, int]:
    with db.transaction() as s:
        for key in ("alpha", "beta"):
            apps.create_app(s, key=key)
        admin = panel_users.create_panel_user(
            s, username="root", password="root-password-1", role=Role.ADMIN
        )
        member = panel_users.create_panel_user(
            s, username="alice", password="alice-password-1", role=Role.MEMBER, app_key="alpha"
        )
        return admin.id, member.id


def test_sessions_live_until_expiry_idleness_or_logout(db: Database) -> None:
    admin, member = _users(db)
    now = utcnow()
    idle = now - dt.timedelta(hours=2)
    with db.transaction() as s:
        panel_sessions.start_session(
            s, user_id=member, token_hash="a" * 64, expires_at=now + dt.timedelta(hours=1)
        )
        panel_sessions.start_session(
            s, user_id=admin, token_hash="b" * 64, expires_at=now + dt.timedelta(hours=1)
        )
        panel_sessions.start_session(
            s, user_id=admin, token_hash="c" * 64, expires_at=now - dt.timedelta(seconds=1)
        )
    with db.read() as s:
        found = panel_sessions.find_session(s, "a" * 64, now=now, idle_since=idle)
        assert found is not None
        assert (found.username, found.role, found.app_key) == ("alice", Role.MEMBER, "alpha")
        assert panel_sessions.find_session(s, "c" * 64, now=now, idle_since=idle) is None
        assert panel_sessions.find_session(s, "d" * 64, now=now, idle_since=idle) is None
        # Idle for longer than allowed: gone.
        later = now + dt.timedelta(minutes=30)
        idle_since = later - dt.timedelta(minutes=20)
        assert panel_sessions.find_session(s, "b" * 64, now=later, idle_since=idle_since) is None
    with db.transaction() as s:
        panel_sessions.touch_session(s, found.session_id, now + dt.timedelta(minutes=1))
        assert panel_sessions.purge_sessions(s, now=now, idle_since=idle) == 1  # "c"
        panel_sessions.end_session(s, "a" * 64)
    with db.read() as s:
        assert panel_sessions.find_session(s, "a" * 64, now=now, idle_since=idle) is None
        assert panel_sessions.find_session(s, "b" * 64, now=now, idle_since=idle) is not None


def test_login_and_password_change_end_every_session(db: Database) -> None:
    admin, _ = _users(db)
    now = utcnow()
    with db.transaction() as s:
        assert panel_users.verify_login(s, "root", "wrong-password") is None
        assert panel_users.verify_login(s, "nobody", "root-password-1") is None
        user = panel_users.verify_login(s, "root", "root-password-1")
        assert user is not None
        assert user.last_login_at is not None
        for token in ("e", "f"):
            panel_sessions.start_session(
                s, user_id=admin, token_hash=token * 64, expires_at=now + dt.timedelta(hours=1)
            )
    with pytest.raises(InvalidInput) as wrong, db.transaction() as s:
        panel_users.change_password(s, admin, "not-the-password", "new-password-123")
    assert wrong.value.field == "current_password"
    with pytest.raises(InvalidInput, match="at least 12"), db.transaction() as s:
        panel_users.change_password(s, admin, "root-password-1", "short")
    with pytest.raises(InvalidInput, match="differ"), db.transaction() as s:
        panel_users.change_password(s, admin, "root-password-1", "root-password-1")
    with db.transaction() as s:
        panel_users.change_password(s, admin, "root-password-1", "new-password-123")
    with db.transaction() as s:
        assert panel_users.verify_login(s, "root", "root-password-1") is None
        assert panel_users.verify_login(s, "root", "new-password-123") is not None
        for token in ("e", "f"):
            assert (
                panel_sessions.find_session(
                    s, token * 64, now=now, idle_since=now - dt.timedelta(hours=1)
                )
                is None
            )


def test_disabled_users_neither_log_in_nor_keep_sessions(db: Database) -> None:
    admin, _ = _users(db)
    now = utcnow()
    with db.transaction() as s:
        panel_sessions.start_session(
            s, user_id=admin, token_hash="g" * 64, expires_at=now + dt.timedelta(hours=1)
        )
        user = panel_users.verify_login(s, "root", "root-password-1")
        assert user is not None
        user.enabled = False
    with db.transaction() as s:
        assert panel_users.verify_login(s, "root", "root-password-1") is None
        assert (
            panel_sessions.find_session(
                s, "g" * 64, now=now, idle_since=now - dt.timedelta(hours=1)
            )
            is None
        )


def test_accounts_keys_and_networks_are_scoped_to_their_app(db: Database) -> None:
    _users(db)
    with db.transaction() as s:
        accounts.add_account(
            s, app_key="alpha", username="acme", cidrs=["10.0.0.0/8"], ssh_keys=[KEY]
        )
        accounts.add_account(s, app_key="beta", username="other")
    with db.transaction() as s:
        assert accounts.get_app_account(s, "alpha", "acme").username == "acme"
        with pytest.raises(NotFound):
            accounts.get_app_account(s, "alpha", "other")
        with pytest.raises(NotFound):
            accounts.describe_accounts(s, "alpha", "other")
        [detail] = accounts.describe_accounts(s, "alpha", "acme")
        assert detail.networks == ["10.0.0.0/8"]
        [key] = detail.keys
        assert key.algorithm == "ssh-ed25519"
        assert key.comment == "panel@test"
        assert [d.username for d in accounts.describe_accounts(s, "beta")] == ["other"]
        accounts.remove_ssh_key(s, "acme", key.fingerprint)
        with pytest.raises(NotFound):
            accounts.remove_ssh_key(s, "acme", key.fingerprint)
        assert accounts.disallow_ip(s, "acme", "10.0.0.0/8") == "10.0.0.0/8"
        with pytest.raises(NotFound):
            accounts.disallow_ip(s, "acme", "10.0.0.0/8")
        with pytest.raises(InvalidInput):
            accounts.disallow_ip(s, "acme", "not a network")
        [detail] = accounts.describe_accounts(s, "alpha")
        assert (detail.networks, detail.keys) == ([], [])


def test_api_keys_are_revoked_only_through_their_app(db: Database) -> None:
    _users(db)
    with db.transaction() as s:
        row, _ = api_keys.create_api_key(s, "beta", "backend")
        prefix = row.prefix
    with pytest.raises(NotFound), db.transaction() as s:
        api_keys.revoke_api_key(s, prefix, app_key="alpha")
    with db.transaction() as s:
        assert api_keys.revoke_api_key(s, prefix, app_key="beta").revoked_at is not None
