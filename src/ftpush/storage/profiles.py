"""Applying parsed profile lines to users and devices, many rows per statement.

:func:`apply_profile_rows` is the write side of a profile import (SPEC §4): for a
batch of accepted lines it creates missing users, sets or removes e-mail and
msisdn, merges typed attributes into each user's JSON document (a value sets,
``None`` removes, an absent name stays), links device tokens to their user —
creating the device (platform from the token's shape) or moving it from its
previous owner — and stamps ``updated_at`` (the exports' "users updated in the
window"). Everything is set, never incremented, so applying the same rows again
changes nothing: a resumed import may overlap its last checkpoint safely.

The attribute merge runs in the database, one ``executemany`` for the batch, so
concurrent writers (an import and the API) never lose each other's keys:
``json_patch`` on SQLite (RFC 7396: ``null`` removes), ``||`` and ``-`` on
PostgreSQL's JSONB (docs/decisions/0600-profile-storage.md).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ftpush.formats.base import UNCHANGED, ProfileRow
from ftpush.formats.values import to_json_value
from ftpush.models import TokenState
from ftpush.storage.tables import Device, User
from ftpush.storage.types import UtcDateTime, utcnow
from ftpush.storage.users import platform_of_token

_IN_CHUNK = 500  # bound parameters per IN (...) list: safe on every SQLite build


@dataclass
class ApplyCounts:
    rows: int = 0
    users_created: int = 0
    devices_created: int = 0
    devices_moved: int = 0

    def add(self, other: ApplyCounts) -> None:
        self.rows += other.rows
        self.users_created += other.users_created
        self.devices_created += other.devices_created
        self.devices_moved += other.devices_moved


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]


def _user_ids(session: Session, app_id: int, external_ids: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(external_ids):
        rows = session.execute(
            select(User.external_id, User.id).where(
                User.app_id == app_id, User.external_id.in_(chunk)
            )
        )
        found.update((ext, uid) for ext, uid in rows)
    return found


def _insert_ignore(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(table).on_conflict_do_nothing(), rows)


_MERGE = {
    "sqlite": (
        "UPDATE users SET "
        "email = CASE WHEN :set_email THEN :email ELSE email END, "
        "msisdn = CASE WHEN :set_msisdn THEN :msisdn ELSE msisdn END, "
        "attributes = CASE WHEN :patch IS NULL THEN attributes "
        "ELSE json_patch(COALESCE(attributes, '{}'), :patch) END, "
        "updated_at = :now WHERE id = :id"
    ),
    "postgresql": (
        "UPDATE users SET "
        "email = CASE WHEN :set_email THEN CAST(:email AS VARCHAR) ELSE email END, "
        "msisdn = CASE WHEN :set_msisdn THEN CAST(:msisdn AS VARCHAR) ELSE msisdn END, "
        "attributes = CASE WHEN CAST(:patch AS TEXT) IS NULL THEN attributes "
        "ELSE (COALESCE(attributes, '{}'::jsonb) || jsonb_strip_nulls(CAST(:patch AS jsonb))) "
        "- CAST(:removed AS TEXT[]) END, "
        "updated_at = :now WHERE id = :id"
    ),
}


def _patch(row: ProfileRow) -> tuple[str | None, list[str]]:
    """The row's attributes as a JSON merge patch, and the names it removes."""
    if not row.attributes:
        return None, []
    patch = {name: to_json_value(value) for name, value in row.attributes.items()}
    removed = [name for name, value in row.attributes.items() if value is None]
    return json.dumps(patch, ensure_ascii=False, separators=(",", ":")), removed


def apply_profile_rows(
    session: Session,
    app_id: int,
    rows: Sequence[ProfileRow],
    *,
    now: dt.datetime | None = None,
) -> ApplyCounts:
    """Apply accepted profile lines (in file order); see the module docstring."""
    counts = ApplyCounts(rows=len(rows))
    if not rows:
        return counts
    now = now or utcnow()
    wanted = list(dict.fromkeys(row.external_id for row in rows))
    users = _user_ids(session, app_id, wanted)
    missing = [ext for ext in wanted if ext not in users]
    if missing:
        _insert_ignore(
            session,
            User.__table__,
            [
                {"app_id": app_id, "external_id": ext, "attributes": {}, "created_at": now,
                 "updated_at": now}
                for ext in missing
            ],
        )  # fmt: skip
        created = _user_ids(session, app_id, missing)
        counts.users_created = len(created)
        users.update(created)
    dialect = session.get_bind().dialect.name
    params = []
    for row in rows:
        patch, removed = _patch(row)
        params.append(
            {
                "id": users[row.external_id],
                "set_email": row.email is not UNCHANGED,
                "email": None if row.email is UNCHANGED else row.email,
                "set_msisdn": row.msisdn is not UNCHANGED,
                "msisdn": None if row.msisdn is UNCHANGED else row.msisdn,
                "patch": patch,
                "removed": removed,
                "now": now,
            }
        )
    if dialect != "postgresql":
        for p in params:
            del p["removed"]
    merge = text(_MERGE["postgresql" if dialect == "postgresql" else "sqlite"])
    session.execute(merge.bindparams(bindparam("now", type_=UtcDateTime())), params)
    _link_devices(session, app_id, rows, users, now, counts)
    return counts


def _link_devices(
    session: Session,
    app_id: int,
    rows: Sequence[ProfileRow],
    users: dict[str, int],
    now: dt.datetime,
    counts: ApplyCounts,
) -> None:
    owner_of: dict[str, int] = {}
    for row in rows:  # the last line naming a token wins, as in file order
        if row.device_token:
            owner_of[row.device_token] = users[row.external_id]
    if not owner_of:
        return
    tokens = list(owner_of)
    existing: dict[str, tuple[int, int | None, TokenState]] = {}
    for chunk in _chunks(tokens):
        found = session.execute(
            select(Device.token, Device.id, Device.user_id, Device.token_state).where(
                Device.app_id == app_id, Device.token.in_(chunk)
            )
        )
        existing.update((tok, (did, uid, state)) for tok, did, uid, state in found)
    new = [
        {
            "app_id": app_id, "token": token, "platform": platform_of_token(token).value,
            "user_id": owner, "token_state": TokenState.ACTIVE.value, "push_permission": True,
            "installed_at": now, "updated_at": now,
        }
        for token, owner in owner_of.items()
        if token not in existing
    ]  # fmt: skip
    _insert_ignore(session, Device.__table__, new)
    counts.devices_created = len(new)
    moves = [
        {"d_id": did, "d_user": owner_of[token], "d_now": now}
        for token, (did, uid, state) in existing.items()
        if uid != owner_of[token] or state is not TokenState.ACTIVE
    ]
    counts.devices_moved = sum(
        1 for token, (_, uid, _) in existing.items() if uid != owner_of[token]
    )
    if moves:
        move = text(
            "UPDATE devices SET user_id = :d_user, token_state = 'active', "
            "uninstalled_at = NULL, updated_at = :d_now WHERE id = :d_id"
        ).bindparams(bindparam("d_now", type_=UtcDateTime()))
        session.execute(move, moves)
