"""Helpers shared by the query modules."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ftpush.errors import Conflict


@contextmanager
def unique_or_conflict(session: Session, message: str) -> Iterator[None]:
    """Flush inside a savepoint; a uniqueness race becomes :class:`Conflict`.

    Callers check for duplicates first to give a friendly message; this turns
    the race between the check and the insert into the same answer.
    """
    try:
        with session.begin_nested():
            yield
            session.flush()
    except IntegrityError:
        raise Conflict(message) from None
