"""Declared profile attributes of an app and their types.

Example::

    >>> declare_attribute(session, app_key="demo", name="age", type_="integer")  # doctest: +SKIP
    >>> attribute_types(session, "demo")  # doctest: +SKIP
    {'age': <AttributeType.INTEGER: 'integer'>}
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ftpush.errors import Conflict
from ftpush.models import (
    AttributeType,
    normalize_column_name,
    parse_attribute_type,
    validate_attribute_name,
)
from ftpush.storage._util import unique_or_conflict
from ftpush.storage.apps import get_app
from ftpush.storage.tables import AttributeDefinition, User


def declare_attribute(
    session: Session, *, app_key: str, name: str, type_: str | AttributeType
) -> AttributeDefinition:
    """Declare a new attribute, or re-declare one with the same type (a no-op).

    Changing the type of an attribute that users already have values for is
    refused: existing values would silently stop matching their type.
    """
    app = get_app(session, app_key)
    validate_attribute_name(name)
    attr_type = parse_attribute_type(str(type_))
    key = normalize_column_name(name)
    existing = session.scalar(
        select(AttributeDefinition).where(
            AttributeDefinition.app_id == app.id, AttributeDefinition.name_key == key
        )
    )
    if existing is not None:
        if existing.type == attr_type:
            return existing
        if _has_values(session, app.id, existing.name):
            raise Conflict(
                f"attribute {existing.name!r} is {existing.type} and users have values for it; "
                f"its type cannot change to {attr_type}"
            )
        existing.type = attr_type
        return existing
    definition = AttributeDefinition(app_id=app.id, name=name, name_key=key, type=attr_type)
    with unique_or_conflict(session, f"attribute {name!r} already exists"):
        session.add(definition)
    return definition


def _has_values(session: Session, app_id: int, name: str) -> bool:
    # JSON key presence differs per dialect; a text probe on the JSON is portable and
    # this runs only when an operator changes a type.
    probe = session.scalars(
        select(User.attributes).where(User.app_id == app_id, User.attributes.is_not(None))
    )
    return any(name in (attrs or {}) for attrs in probe)


def list_attributes(session: Session, app_key: str) -> Sequence[AttributeDefinition]:
    app = get_app(session, app_key)
    return session.scalars(
        select(AttributeDefinition)
        .where(AttributeDefinition.app_id == app.id)
        .order_by(func.lower(AttributeDefinition.name))
    ).all()


def attribute_types(session: Session, app_key: str) -> dict[str, AttributeType]:
    """Declared attribute names and their types, for the parsers."""
    return {a.name: a.type for a in list_attributes(session, app_key)}
