"""FTP accounts: platform-hosted logins into an app's dropbox.

Passwords are generated here, returned once to the caller and stored only as
argon2 hashes. An account with no allowlisted network cannot log in from
anywhere: deny by default.

Example::

    >>> account, password = add_account(session, app_key="demo", username="acme",
    ...                                  cidrs=["203.0.113.0/24"])  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ftpush.crypto import generate_password, hash_password, ssh_public_key_fingerprint
from ftpush.errors import Conflict, InvalidInput, NotFound
from ftpush.models import parse_cidr, validate_username
from ftpush.storage._util import unique_or_conflict
from ftpush.storage.apps import get_app
from ftpush.storage.tables import App, FtpAccount, FtpAccountKey, FtpAccountNetwork

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class AccountView:
    """An account with its app key, keys and networks, for listing."""

    username: str
    app_key: str
    enabled: bool
    networks: list[str]
    ssh_keys: list[str]  # fingerprints


def _parse_ssh_key(line: str) -> FtpAccountKey:
    text = line.strip()
    try:
        fingerprint = ssh_public_key_fingerprint(text)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            f"not an OpenSSH public key ({exc}); expected a line like "
            "'ssh-ed25519 AAAA... comment'",
            field="ssh_key",
        ) from None
    parts = text.split(None, 2)
    return FtpAccountKey(
        algorithm=parts[0],
        public_key=f"{parts[0]} {parts[1]}",
        fingerprint=fingerprint,
        comment=parts[2] if len(parts) > 2 else None,
    )


def add_account(
    session: Session,
    *,
    app_key: str,
    username: str,
    ssh_keys: Iterable[str] = (),
    cidrs: Iterable[str] = (),
) -> tuple[FtpAccount, str]:
    """Create an account; returns it and its generated password (shown once)."""
    app = get_app(session, app_key)
    validate_username(username)
    networks = sorted({parse_cidr(c) for c in cidrs})
    keys = {k.fingerprint: k for k in (_parse_ssh_key(line) for line in ssh_keys)}
    if session.scalar(select(FtpAccount.id).where(FtpAccount.username == username)):
        raise Conflict(f"account {username!r} already exists")
    password = generate_password()
    account = FtpAccount(app_id=app.id, username=username, password_hash=hash_password(password))
    with unique_or_conflict(session, f"account {username!r} already exists"):
        session.add(account)
    session.add_all(FtpAccountNetwork(account_id=account.id, cidr=c) for c in networks)
    for key in keys.values():
        key.account_id = account.id
        session.add(key)
    session.flush()
    return account, password


def get_account(session: Session, username: str) -> FtpAccount:
    account = session.scalar(select(FtpAccount).where(FtpAccount.username == username))
    if account is None:
        raise NotFound(f"account {username!r} does not exist")
    return account


def get_app_account(session: Session, app_key: str, username: str) -> FtpAccount:
    """The account ``username`` of app ``app_key``; another app's account is :class:`NotFound`."""
    account = session.scalar(
        select(FtpAccount)
        .join(App, App.id == FtpAccount.app_id)
        .where(FtpAccount.username == username, App.key == app_key)
    )
    if account is None:
        raise NotFound(f"account {username!r} does not exist")
    return account


def remove_account(session: Session, username: str) -> None:
    session.delete(get_account(session, username))
    session.flush()


def allow_ip(session: Session, username: str, cidr: str) -> str:
    """Add a network to the account's allowlist; returns its normalised form."""
    account = get_account(session, username)
    network = parse_cidr(cidr)
    exists = session.scalar(
        select(FtpAccountNetwork.id).where(
            FtpAccountNetwork.account_id == account.id, FtpAccountNetwork.cidr == network
        )
    )
    if exists is None:
        session.add(FtpAccountNetwork(account_id=account.id, cidr=network))
        session.flush()
    return network


def add_ssh_key(session: Session, username: str, line: str) -> str:
    """Authorise an SSH public key for the account; returns its fingerprint."""
    account = get_account(session, username)
    key = _parse_ssh_key(line)
    key.account_id = account.id
    with unique_or_conflict(session, f"that key is already on account {username!r}"):
        session.add(key)
    return key.fingerprint


def remove_ssh_key(session: Session, username: str, fingerprint: str) -> None:
    """Withdraw one of the account's SSH keys (by fingerprint)."""
    account = get_account(session, username)
    key = session.scalar(
        select(FtpAccountKey).where(
            FtpAccountKey.account_id == account.id, FtpAccountKey.fingerprint == fingerprint
        )
    )
    if key is None:
        raise NotFound(f"account {username!r} has no key {fingerprint}")
    session.delete(key)
    session.flush()


def disallow_ip(session: Session, username: str, cidr: str) -> str:
    """Remove a network from the account's allowlist; returns its normalised form."""
    account = get_account(session, username)
    network = parse_cidr(cidr)
    row = session.scalar(
        select(FtpAccountNetwork).where(
            FtpAccountNetwork.account_id == account.id, FtpAccountNetwork.cidr == network
        )
    )
    if row is None:
        raise NotFound(f"{network} is not on the allowlist of {username!r}")
    session.delete(row)
    session.flush()
    return network


def networks_of(session: Session, account_id: int) -> list[str]:
    rows = session.scalars(
        select(FtpAccountNetwork.cidr)
        .where(FtpAccountNetwork.account_id == account_id)
        .order_by(FtpAccountNetwork.cidr)
    )
    return list(rows)


def list_accounts(session: Session, app_key: str) -> Sequence[AccountView]:
    app = get_app(session, app_key)
    accounts = session.scalars(
        select(FtpAccount).where(FtpAccount.app_id == app.id).order_by(FtpAccount.username)
    ).all()
    return [_view(session, app, account) for account in accounts]


def _view(session: Session, app: App, account: FtpAccount) -> AccountView:
    fingerprints = session.scalars(
        select(FtpAccountKey.fingerprint).where(FtpAccountKey.account_id == account.id)
    )
    return AccountView(
        username=account.username,
        app_key=app.key,
        enabled=account.enabled,
        networks=networks_of(session, account.id),
        ssh_keys=list(fingerprints),
    )


@dataclass(frozen=True)
class KeyView:
    """An authorised SSH key, as an operator recognises it."""

    fingerprint: str
    algorithm: str
    comment: str | None


@dataclass(frozen=True)
class AccountDetail:
    """Everything an operator sees about an account (never its password hash)."""

    username: str
    enabled: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None
    networks: list[str]
    keys: list[KeyView]


def describe_accounts(
    session: Session, app_key: str, username: str | None = None
) -> list[AccountDetail]:
    """The app's accounts (or only ``username``, :class:`NotFound` unless it is the app's)."""
    if username is not None:
        found: Sequence[FtpAccount] = [get_app_account(session, app_key, username)]
    else:
        app = get_app(session, app_key)
        found = session.scalars(
            select(FtpAccount).where(FtpAccount.app_id == app.id).order_by(FtpAccount.username)
        ).all()
    details = []
    for account in found:
        keys = session.scalars(
            select(FtpAccountKey)
            .where(FtpAccountKey.account_id == account.id)
            .order_by(FtpAccountKey.id)
        )
        details.append(
            AccountDetail(
                username=account.username,
                enabled=account.enabled,
                created_at=account.created_at,
                last_login_at=account.last_login_at,
                networks=networks_of(session, account.id),
                keys=[KeyView(k.fingerprint, k.algorithm, k.comment) for k in keys],
            )
        )
    return details


@dataclass(frozen=True)
class LoginRecord:
    """What a login check needs about an account, read in one go."""

    account_id: int
    username: str
    password_hash: str
    enabled: bool
    require_checksum: bool
    app_id: int
    app_key: str
    app_ftp_enabled: bool
    networks: list[IpNetwork]
    key_fingerprints: list[str]


def record_login(
    session: Session, account_id: int, *, now: dt.datetime, every: float = 60.0
) -> None:
    """Note a successful login as the account's last; at most one write per ``every``
    seconds, so a client that logs in for each file does not write each time."""
    session.execute(
        update(FtpAccount)
        .where(
            FtpAccount.id == account_id,
            (FtpAccount.last_login_at.is_(None))
            | (FtpAccount.last_login_at < now - dt.timedelta(seconds=every)),
        )
        .values(last_login_at=now)
        .execution_options(synchronize_session=False)
    )


def login_record(session: Session, username: str) -> LoginRecord | None:
    """The account ``username`` with its app, networks and keys; None if unknown."""
    row = session.execute(
        select(FtpAccount, App)
        .join(App, App.id == FtpAccount.app_id)
        .where(FtpAccount.username == username)
    ).first()
    if row is None:
        return None
    account, app = row
    fingerprints = session.scalars(
        select(FtpAccountKey.fingerprint).where(FtpAccountKey.account_id == account.id)
    )
    return LoginRecord(
        account_id=account.id,
        username=account.username,
        password_hash=account.password_hash,
        enabled=account.enabled,
        require_checksum=account.require_checksum,
        app_id=app.id,
        app_key=app.key,
        app_ftp_enabled=app.ftp_enabled,
        networks=[ipaddress.ip_network(c) for c in networks_of(session, account.id)],
        key_fingerprints=list(fingerprints),
    )


def all_login_networks(session: Session) -> list[str]:
    """Every CIDR that some enabled account of an app with its offer on may log in from."""
    rows = session.scalars(
        select(FtpAccountNetwork.cidr)
        .join(FtpAccount, FtpAccount.id == FtpAccountNetwork.account_id)
        .join(App, App.id == FtpAccount.app_id)
        .where(FtpAccount.enabled.is_(True), App.ftp_enabled.is_(True))
        .distinct()
    )
    return list(rows)


def set_enabled(session: Session, username: str, enabled: bool) -> None:
    get_account(session, username).enabled = enabled


def set_require_checksum(session: Session, username: str, required: bool) -> None:
    get_account(session, username).require_checksum = required
