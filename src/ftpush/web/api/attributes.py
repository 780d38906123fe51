"""`/attributes`: the app's declared profile attributes and their types (SPEC §4).

``PUT`` declares a list in one transaction: new names are added, names already declared
with the same type are left as they are (so the call is idempotent), and attributes not
in the list are kept — declaring never deletes. Changing the type of an attribute that
users have values for is refused (409, naming it); nothing of the list is applied then.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from ftpush.errors import Conflict, InvalidInput
from ftpush.models import AttributeType, normalize_column_name, parse_attribute_type
from ftpush.storage import attributes
from ftpush.storage.tables import AttributeDefinition
from ftpush.web.auth import AppCaller, Db

router = APIRouter(prefix="/attributes", tags=["attributes"])

MAX_DECLARED = 500
_TYPES = ", ".join(f"`{t.value}`" for t in AttributeType)


class AttributeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=64,
        description="Letters, digits and `_`, not starting with a digit.",
        examples=["loyalty_level"],
    )
    type: str = Field(
        min_length=1, max_length=32, description=f"One of {_TYPES}.", examples=["integer"]
    )


class AttributeOut(BaseModel):
    name: str
    type: str


class AttributesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attributes: list[AttributeIn] = Field(max_length=MAX_DECLARED)


class AttributesOut(BaseModel):
    attributes: list[AttributeOut]


class AttributeConflict(Conflict):
    """A 409 that names the item of the list it is about."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def _out(rows: list[AttributeDefinition]) -> AttributesOut:
    return AttributesOut(attributes=[AttributeOut(name=a.name, type=str(a.type)) for a in rows])


@router.get("", summary="The app's declared profile attributes and their types")
def list_attributes(caller: AppCaller, db: Db) -> AttributesOut:
    with db.read() as session:
        return _out(list(attributes.list_attributes(session, caller.app_key)))


@router.put(
    "",
    summary="Declare attributes (idempotent; never deletes; a used attribute keeps its type)",
    responses={409: {"description": "An attribute with values would change its type."}},
)
def declare_attributes(body: AttributesIn, caller: AppCaller, db: Db) -> AttributesOut:
    seen: dict[str, tuple[int, AttributeType]] = {}
    for index, item in enumerate(body.attributes):
        where = f"attributes.{index}"
        try:
            kind = parse_attribute_type(item.type)
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field=f"{where}.type") from None
        key = normalize_column_name(item.name)
        earlier = seen.get(key)
        if earlier is not None and earlier[1] is not kind:
            raise InvalidInput(
                f"attribute {item.name!r} is listed twice with different types "
                f"(attributes.{earlier[0]} and {where})",
                field=f"{where}.type",
            )
        seen.setdefault(key, (index, kind))
    with db.transaction() as session:
        for index, item in enumerate(body.attributes):
            where = f"attributes.{index}"
            try:
                attributes.declare_attribute(
                    session, app_key=caller.app_key, name=item.name, type_=item.type
                )
            except InvalidInput as exc:
                raise InvalidInput(exc.message, field=f"{where}.{exc.field or 'name'}") from None
            except Conflict as exc:
                raise AttributeConflict(exc.message, field=f"{where}.type") from None
        return _out(list(attributes.list_attributes(session, caller.app_key)))
