"""The gatekeeper against a real database: allowlists, offers, passwords, keys, caps."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ftpush.crypto import ssh_public_key_fingerprint
from ftpush.intake.access import AccessDenied, Gatekeeper
from ftpush.storage import accounts, apps
from tests.integration.intake.conftest import Intake, make_settings


def test_password_login(intake: Intake) -> None:
    alice = intake.accounts["alice"]
    principal = intake.gate.authenticate_password("alice", alice.password, "127.0.0.1", "sftp")
    assert (principal.username, principal.app_key) == ("alice", "alpha")
    assert principal.remote_addr == "127.0.0.1"


@pytest.mark.parametrize(
    ("username", "password", "address", "reason"),
    [
        ("alice", "Hunter2-guess", "127.0.0.1", "wrong password"),
        ("nobody", "whatever", "127.0.0.1", "unknown user"),
        ("alice", None, "192.0.2.1", "not in the account's allowlist"),
    ],
)
def test_refused_logins_give_nothing_away(
    intake: Intake,
    caplog: pytest.LogCaptureFixture,
    username: str,
    password: str | None,
    address: str,
    reason: str,
) -> None:
    secret = password or intake.accounts["alice"].password
    with caplog.at_level(logging.WARNING), pytest.raises(AccessDenied) as info:
        intake.gate.authenticate_password(username, secret, address, "ftps")
    assert str(info.value) == "access denied"  # what a client may learn
    assert reason in info.value.reason
    assert reason in caplog.text
    assert address in caplog.text
    assert secret not in caplog.text  # never a password in the logs


def test_offer_off_and_disabled_accounts(intake: Intake) -> None:
    alice = intake.accounts["alice"]
    with intake.db.transaction() as s:
        apps.set_ftp_enabled(s, "alpha", False)
    with pytest.raises(AccessDenied) as info:
        intake.gate.authenticate_password("alice", alice.password, "127.0.0.1", "sftp")
    assert "offer of app alpha is off" in info.value.reason
    with intake.db.transaction() as s:
        apps.set_ftp_enabled(s, "alpha", True)
        accounts.set_enabled(s, "alice", False)
    with pytest.raises(AccessDenied) as info:
        intake.gate.authenticate_password("alice", alice.password, "127.0.0.1", "sftp")
    assert info.value.reason == "account disabled"


def test_public_keys(intake: Intake) -> None:
    alice = intake.accounts["alice"]
    fingerprint = ssh_public_key_fingerprint(Path(f"{alice.key_file}.pub").read_text())
    assert intake.gate.authorised_key_fingerprints("alice", "127.0.0.1") == {fingerprint}
    assert intake.gate.authorised_key_fingerprints("alice", "192.0.2.1") == set()
    assert intake.gate.authorised_key_fingerprints("ghost", "127.0.0.1") == set()
    principal = intake.gate.authenticate_key("alice", fingerprint, "127.0.0.1", "sftp")
    assert principal.app_key == "alpha"
    with pytest.raises(AccessDenied) as info:
        intake.gate.authenticate_key("bob", fingerprint, "127.0.0.1", "sftp")
    assert info.value.reason == "unknown key"


def test_connect_time_allowlist_and_session_cap(tmp_path: Path) -> None:
    from ftpush.storage import Database

    settings = make_settings(tmp_path, max_sessions_per_ip=2)
    db = Database.open(settings)
    try:
        gate = Gatekeeper(db, settings, allowlist_ttl=0.0)
        with pytest.raises(AccessDenied) as info:
            gate.connection_opened("127.0.0.1")  # no account anywhere yet
        assert "no account's allowlist" in info.value.reason
        with db.transaction() as s:
            apps.create_app(s, key="alpha")
            accounts.add_account(s, app_key="alpha", username="a", cidrs=["127.0.0.0/8"])
        gate.connection_opened("127.0.0.1")
        gate.connection_opened("127.0.0.1")
        with pytest.raises(AccessDenied) as info:
            gate.connection_opened("127.0.0.1")
        assert "too many sessions" in info.value.reason
        gate.connection_opened("127.0.0.2")  # another address has its own count
        gate.connection_closed("127.0.0.1")
        gate.connection_opened("127.0.0.1")
        assert gate.sessions_from("127.0.0.1") == 2
        with db.transaction() as s:
            apps.set_ftp_enabled(s, "alpha", False)
        with pytest.raises(AccessDenied):
            gate.connection_opened("127.0.0.3")  # offer off: nobody's allowlist counts
    finally:
        db.close()


def test_brute_force_bans_the_address_not_the_allowlisted_neighbour(intake: Intake) -> None:
    alice = intake.accounts["alice"]
    intake.add_account("alpha", "carol", cidrs=("127.0.0.2",))
    for _ in range(5):  # the fixture's threshold
        with pytest.raises(AccessDenied):
            intake.gate.authenticate_password("alice", "guess", "127.0.0.1", "sftp")
    with pytest.raises(AccessDenied) as info:
        intake.gate.connection_opened("127.0.0.1")
    assert "banned" in info.value.reason
    with pytest.raises(AccessDenied) as info:
        intake.gate.authenticate_password("alice", alice.password, "127.0.0.1", "ftps")
    assert "banned" in info.value.reason
    carol = intake.accounts["carol"]
    intake.gate.connection_opened("127.0.0.2")
    intake.gate.authenticate_password("carol", carol.password, "127.0.0.2", "sftp")
    assert intake.gate.failed_logins == 5  # refusals while banned are not re-counted
