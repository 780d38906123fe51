"""Cursor pagination: ``?limit=N&cursor=<opaque>`` in, ``{"items": [...], "next_cursor"}`` out.

A cursor is the last item's id, base64-encoded so clients treat it as opaque; lists are
ordered newest first (id descending), so a page never shifts when new rows arrive.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from ftpush.errors import InvalidInput

T = TypeVar("T")

MAX_LIMIT = 500
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")]
Cursor = Annotated[
    str | None, Query(max_length=64, description="`next_cursor` of the previous page.")
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The id to continue below; InvalidInput (field ``cursor``) for a forged one."""
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind != "id" or not value.isdigit() or len(value) > 19:
            raise ValueError(text)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("the cursor is not one this API returned", field="cursor") from None


def next_cursor(ids: list[int], limit: int) -> str | None:
    """A cursor when the page was full (there may be more)."""
    return encode_cursor(ids[-1]) if len(ids) == limit and ids else None
