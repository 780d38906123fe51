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

This is the hot path of a 10-million-line import, so it speaks SQL to the driver
directly (positional parameters, values already in the driver's form) instead of
through SQLAlchemy's per-row parameter processing, which cost five times the
database work (``bench/profile_import.py``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from ftpush.formats.base import UNCHANGED, ProfileRow
from ftpush.models import TokenState
from ftpush.storage.types import utcnow
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


class _Sql:
    """The two dialects' SQL for the batch, with the driver's placeholders."""

    def __init__(self, session: Session) -> None:
        self.connection = session.connection()
        self.pg = self.connection.dialect.name == "postgresql"
        self.mark = "%s" if self.pg else "?"

    def marks(self, count: int) -> str:
        return ", ".join([self.mark] * count)

    def sql(self, statement: str) -> str:
        return statement.replace("?", self.mark) if self.pg else statement

    def time(self, when: dt.datetime) -> Any:
        """A timestamp as the column stores it (SQLite: naive UTC text, as UtcDateTime)."""
        if self.pg:
            return when
        return when.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

    def rows(self, statement: str, params: Sequence[Any]) -> list[Any]:
        return list(self.connection.exec_driver_sql(self.sql(statement), tuple(params)))

    def many(self, statement: str, params: list[tuple[Any, ...]]) -> None:
        if params:
            self.connection.exec_driver_sql(self.sql(statement), params)


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]


def _user_ids(db: _Sql, app_id: int, external_ids: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(external_ids):
        rows = db.rows(
            "SELECT external_id, id FROM users WHERE app_id = ? "  # noqa: S608 - only placeholders
            f"AND external_id IN ({db.marks(len(chunk))})",
            [app_id, *chunk],
        )
        found.update(rows)
    return found


_MERGE_SQLITE = (
    "UPDATE users SET "
    "email = CASE WHEN ? THEN ? ELSE email END, "
    "msisdn = CASE WHEN ? THEN ? ELSE msisdn END, "
    "attributes = CASE WHEN ? IS NULL THEN attributes "
    "ELSE json_patch(COALESCE(attributes, '{}'), ?) END, "
    "updated_at = ? WHERE id = ?"
)
_MERGE_PG = (
    "UPDATE users SET "
    "email = CASE WHEN %s THEN %s::varchar ELSE email END, "
    "msisdn = CASE WHEN %s THEN %s::varchar ELSE msisdn END, "
    "attributes = CASE WHEN %s::text IS NULL THEN attributes "
    "ELSE (COALESCE(attributes, '{}'::jsonb) || jsonb_strip_nulls(%s::jsonb)) "
    "- %s::text[] END, "
    "updated_at = %s WHERE id = %s"
)


def _json_default(value: object) -> object:
    """What the JSON encoder cannot write itself: dates, datetimes, read-only mappings."""
    if isinstance(value, dt.date):  # datetimes too: ISO 8601 with their offset
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not an attribute value")


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _patch(row: ProfileRow) -> str | None:
    """The row's attributes as an RFC 7396 merge patch (``null`` removes)."""
    return _JSON.encode(row.attributes) if row.attributes else None


def _removed(row: ProfileRow) -> list[str]:
    return [name for name, value in row.attributes.items() if value is None]


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
    db = _Sql(session)
    stamp = db.time(now or utcnow())
    wanted = list(dict.fromkeys(row.external_id for row in rows))
    if db.pg:
        users = _upsert_users_pg(db, app_id, wanted, stamp, counts)
        missing = []
    else:
        users = _user_ids(db, app_id, wanted)
        missing = [ext for ext in wanted if ext not in users]
    if missing:
        db.many(
            "INSERT INTO users (app_id, external_id, attributes, created_at, updated_at) "
            "VALUES (?, ?, '{}', ?, ?) ON CONFLICT DO NOTHING",
            [(app_id, ext, stamp, stamp) for ext in missing],
        )
        created = _user_ids(db, app_id, missing)
        counts.users_created = len(created)
        users.update(created)
    params: list[tuple[Any, ...]] = []
    for row in rows:
        patch = _patch(row)
        email, msisdn = row.email, row.msisdn
        set_email, set_msisdn = email is not UNCHANGED, msisdn is not UNCHANGED
        identity = (
            set_email, email if set_email else None, set_msisdn, msisdn if set_msisdn else None
        )  # fmt: skip
        if db.pg:
            removed = _removed(row)
            params.append((*identity, patch, patch, removed, stamp, users[row.external_id]))
        else:
            params.append((*identity, patch, patch, stamp, users[row.external_id]))
    if db.pg:
        db.connection.exec_driver_sql(_MERGE_PG, params)
    else:
        db.many(_MERGE_SQLITE, params)
    _link_devices(db, app_id, rows, users, stamp, counts)
    return counts


def _upsert_users_pg(
    db: _Sql, app_id: int, wanted: list[str], stamp: Any, counts: ApplyCounts
) -> dict[str, int]:
    """Ids of the batch's users, creating the missing ones, in one statement.

    ``ON CONFLICT`` always goes through the unique (app_id, external_id) index; a
    ``SELECT … IN (…)`` would be planned from statistics, which lag behind a bulk load
    and made PostgreSQL scan every user of the app per batch.
    """
    rows = db.rows(
        "INSERT INTO users (app_id, external_id, attributes, created_at, updated_at) "
        "SELECT %s, ext, '{}'::jsonb, %s, %s FROM unnest(%s::varchar[]) AS ext "
        "ON CONFLICT (app_id, external_id) DO UPDATE SET updated_at = EXCLUDED.updated_at "
        "RETURNING external_id, id, xmax = 0",
        [app_id, stamp, stamp, wanted],
    )
    counts.users_created = sum(1 for _, _, inserted in rows if inserted)
    return {ext: uid for ext, uid, _ in rows}


def _link_devices_pg(
    db: _Sql, app_id: int, owner_of: dict[str, int], stamp: Any, counts: ApplyCounts
) -> None:
    """New tokens inserted, tokens of another user (or uninstalled) relinked: one statement."""
    tokens = list(owner_of)
    rows = db.rows(
        "INSERT INTO devices (app_id, token, platform, user_id, token_state, push_permission, "
        "installed_at, updated_at) "
        "SELECT %s, t.token, t.platform, t.owner, 'active', TRUE, %s, %s "
        "FROM unnest(%s::varchar[], %s::varchar[], %s::bigint[]) AS t(token, platform, owner) "
        "ON CONFLICT (app_id, token) DO UPDATE SET user_id = EXCLUDED.user_id, "
        "token_state = 'active', uninstalled_at = NULL, updated_at = EXCLUDED.updated_at "
        "WHERE devices.user_id IS DISTINCT FROM EXCLUDED.user_id "
        "OR devices.token_state <> 'active' "
        "RETURNING xmax = 0",
        [app_id, stamp, stamp, tokens, [platform_of_token(t).value for t in tokens],
         [owner_of[t] for t in tokens]],
    )  # fmt: skip
    counts.devices_created = sum(1 for (inserted,) in rows if inserted)
    counts.devices_moved = len(rows) - counts.devices_created


def _link_devices(
    db: _Sql,
    app_id: int,
    rows: Sequence[ProfileRow],
    users: dict[str, int],
    stamp: Any,
    counts: ApplyCounts,
) -> None:
    owner_of: dict[str, int] = {}
    for row in rows:  # the last line naming a token wins, as in file order
        if row.device_token:
            owner_of[row.device_token] = users[row.external_id]
    if not owner_of:
        return
    if db.pg:
        _link_devices_pg(db, app_id, owner_of, stamp, counts)
        return
    tokens = list(owner_of)
    existing: dict[str, tuple[int, int | None, str]] = {}
    for chunk in _chunks(tokens):
        found = db.rows(
            "SELECT token, id, user_id, token_state FROM devices "  # noqa: S608 - placeholders
            f"WHERE app_id = ? AND token IN ({db.marks(len(chunk))})",
            [app_id, *chunk],
        )
        existing.update((tok, (did, uid, state)) for tok, did, uid, state in found)
    new = [
        (app_id, token, platform_of_token(token).value, owner, stamp, stamp)
        for token, owner in owner_of.items()
        if token not in existing
    ]
    db.many(
        "INSERT INTO devices (app_id, token, platform, user_id, token_state, push_permission, "
        "installed_at, updated_at) VALUES (?, ?, ?, ?, 'active', TRUE, ?, ?) "
        "ON CONFLICT DO NOTHING",
        new,
    )
    counts.devices_created = len(new)
    active = TokenState.ACTIVE.value
    moves = [
        (owner_of[token], stamp, did)
        for token, (did, uid, state) in existing.items()
        if uid != owner_of[token] or state != active
    ]
    counts.devices_moved = len(moves)  # linked to another user, or reactivated
    db.many(
        "UPDATE devices SET user_id = ?, token_state = 'active', uninstalled_at = NULL, "
        "updated_at = ? WHERE id = ?",
        moves,
    )
