"""An intake world for tests: a database, two apps, accounts with passwords and keys.

``intake`` gives the spool and gatekeeper that the SFTP and FTP adapters are
built on; adapter tests start their server on port 0 around these.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ftpush.config import Settings, load_settings
from ftpush.intake.access import Gatekeeper
from ftpush.intake.spool import Spool
from ftpush.storage import Database, accounts, apps


@dataclass
class Account:
    username: str
    password: str
    app_key: str
    key_file: Path  # private key; the public one is key_file + ".pub"


@dataclass
class Intake:
    settings: Settings
    db: Database
    spool: Spool
    gate: Gatekeeper
    accounts: dict[str, Account] = field(default_factory=dict)
    received: list[int] = field(default_factory=list)

    def dropbox(self, app_key: str) -> Path:
        return self.settings.dropbox_dir / app_key

    def add_account(
        self, app_key: str, username: str, cidrs: tuple[str, ...] = ("127.0.0.1", "::1")
    ) -> Account:
        key_file = self.settings.data_dir.parent / f"{username}_id"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key_file)], check=True
        )
        with self.db.transaction() as s:
            _, password = accounts.add_account(
                s,
                app_key=app_key,
                username=username,
                ssh_keys=[Path(f"{key_file}.pub").read_text()],
                cidrs=cidrs,
            )
        self.gate.forget_allowlists()
        account = Account(username, password, app_key, key_file)
        self.accounts[username] = account
        return account


def make_settings(tmp_path: Path, **intake: object) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data",
        environ={},
        intake={"ban_failures": 5, "ban_window_seconds": 60, "ban_seconds": 60, **intake},
    )


@pytest.fixture
def intake(tmp_path: Path) -> Iterator[Intake]:
    """Apps ``alpha`` and ``beta`` with accounts ``alice`` (alpha) and ``bob`` (beta)."""
    settings = make_settings(tmp_path)
    db = Database.open(settings)
    received: list[int] = []
    spool = Spool(settings, db, on_received=received.append)
    gate = Gatekeeper(db, settings, allowlist_ttl=0.0)
    world = Intake(settings, db, spool, gate, received=received)
    with db.transaction() as s:
        apps.create_app(s, key="alpha")
        apps.create_app(s, key="beta")
    world.add_account("alpha", "alice")
    world.add_account("beta", "bob")
    yield world
    spool.close()
    db.close()
