"""Applying profile rows (issue 6): users, identity fields, typed attributes, devices."""

from __future__ import annotations

import datetime as dt
from types import MappingProxyType

from sqlalchemy import select

from ftpush.formats.base import UNCHANGED, ProfileRow
from ftpush.models import Platform, TokenState
from ftpush.storage import Database, apps, profiles
from ftpush.storage.tables import Device, User

IOS = "ab" * 32


def row(line: int, ext: str, **fields: object) -> ProfileRow:
    attrs = fields.pop("attributes", {})
    return ProfileRow(line, ext, attributes=MappingProxyType(attrs), **fields)  # type: ignore[arg-type]


def users(db: Database) -> dict[str, tuple[str | None, str | None, dict[str, object]]]:
    with db.transaction() as s:
        return {
            u.external_id: (u.email, u.msisdn, u.attributes)
            for u in s.scalars(select(User).order_by(User.external_id))
        }


def devices(db: Database) -> dict[str, tuple[str, Platform, TokenState]]:
    with db.transaction() as s:
        rows = s.execute(
            select(Device.token, User.external_id, Device.platform, Device.token_state).join(
                User, User.id == Device.user_id
            )
        )
        return {token: (ext, platform, state) for token, ext, platform, state in rows}


def test_rows_create_set_remove_and_keep(db: Database) -> None:
    with db.transaction() as s:
        app_id = apps.create_app(s, key="demo").id
    first = [
        row(2, "1", email="a@example.com", msisdn="+33612345678", device_token=IOS,
            attributes={"name": "Ann", "age": 31, "born": dt.date(1990, 5, 1),
                        "tags": ["a", "b"], "vip": True, "score": 1.5}),
        row(3, "2", device_token="fcm-token-2"),
    ]  # fmt: skip
    with db.transaction() as s:
        counts = profiles.apply_profile_rows(s, app_id, first)
    assert (counts.rows, counts.users_created, counts.devices_created) == (2, 2, 2)
    assert users(db)["1"] == (
        "a@example.com", "+33612345678",
        {"name": "Ann", "age": 31, "born": "1990-05-01", "tags": ["a", "b"], "vip": True,
         "score": 1.5},
    )  # fmt: skip
    assert devices(db) == {
        IOS: ("1", Platform.IOS, TokenState.ACTIVE),
        "fcm-token-2": ("2", Platform.ANDROID, TokenState.ACTIVE),
    }
    second = [
        # e-mail removed, msisdn unchanged; age removed, name changed, the rest kept
        row(2, "1", email=None, attributes={"age": None, "name": "Anna"}),
        # the iOS token moves to user 2
        row(3, "2", email=UNCHANGED, device_token=IOS),
        row(4, "3"),  # a user with nothing else
    ]
    with db.transaction() as s:
        counts = profiles.apply_profile_rows(s, app_id, second)
    assert (counts.users_created, counts.devices_created, counts.devices_moved) == (1, 0, 1)
    after = users(db)
    assert after["1"] == (
        None, "+33612345678",
        {"name": "Anna", "born": "1990-05-01", "tags": ["a", "b"], "vip": True, "score": 1.5},
    )  # fmt: skip
    assert after["3"] == (None, None, {})
    assert devices(db)[IOS][0] == "2"
    # applying the same rows again changes nothing
    with db.transaction() as s:
        again = profiles.apply_profile_rows(s, app_id, second)
    assert (again.users_created, again.devices_created, again.devices_moved) == (0, 0, 0)
    assert users(db) == after


def test_the_same_user_twice_in_a_batch_applies_in_order(db: Database) -> None:
    with db.transaction() as s:
        app_id = apps.create_app(s, key="demo").id
        profiles.apply_profile_rows(s, app_id, [
            row(2, "9", attributes={"a": 1, "b": 2}),
            row(3, "9", attributes={"a": None, "c": 3}),
        ])  # fmt: skip
    assert users(db)["9"][2] == {"b": 2, "c": 3}


def test_updated_at_is_stamped(db: Database) -> None:
    with db.transaction() as s:
        app_id = apps.create_app(s, key="demo").id
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    with db.transaction() as s:
        profiles.apply_profile_rows(s, app_id, [row(2, "1")], now=when)
    with db.transaction() as s:
        user = s.scalar(select(User))
        assert user is not None
        assert user.updated_at == when
