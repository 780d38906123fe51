"""Claims on periodic jobs: (name, key) runs once across every process sharing the database.

A claim is a ``job_runs`` row. The unique ``(name, key)`` pair makes the first
:func:`claim` win and every later one lose — on SQLite and PostgreSQL alike —
while the winner works. A claim still ``running`` after ``lease`` seconds
belongs to a process that died: the next :func:`claim` takes it over with a
conditional update, so exactly one process takes it over.

Example::

    >>> if claim(session, "nightly-export", "demo:2026-11-27", owner="host:42", now=now,
    ...          lease=3600):
    ...     ...  # do the work, then
    ...     finish(session, "nightly-export", "demo:2026-11-27", owner="host:42", now=now)
    ... # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ftpush.models import JobStatus
from ftpush.storage.tables import JobRun

_CHUNK = 500  # keys per IN (...) list


def claim(
    session: Session, name: str, key: str, *, owner: str, now: dt.datetime, lease: float
) -> bool:
    """Claim ``(name, key)`` for ``owner``; ``False`` when someone else holds or finished it."""
    run = JobRun(name=name, key=key, owner=owner, status=JobStatus.RUNNING, started_at=now)
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
        return True
    except IntegrityError:
        pass
    stale = now - dt.timedelta(seconds=lease)
    result = session.execute(
        update(JobRun)
        .where(
            JobRun.name == name,
            JobRun.key == key,
            JobRun.status == JobStatus.RUNNING,
            JobRun.started_at < stale,
        )
        .values(owner=owner, started_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def finish(
    session: Session,
    name: str,
    key: str,
    *,
    owner: str,
    now: dt.datetime,
    error: str | None = None,
) -> bool:
    """Mark ``owner``'s claim done (or failed with ``error``); ``False`` if it was taken over."""
    result = session.execute(
        update(JobRun)
        .where(JobRun.name == name, JobRun.key == key, JobRun.owner == owner)
        .values(
            status=JobStatus.FAILED if error else JobStatus.DONE,
            finished_at=now,
            error=error,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def held_keys(
    session: Session, name: str, keys: Collection[str], *, stale_before: dt.datetime
) -> set[str]:
    """Those of ``keys`` claimed and finished, or claimed since ``stale_before``.

    The others are free: never claimed, or claimed by a process that stopped.
    """
    wanted, found = list(keys), set[str]()
    for i in range(0, len(wanted), _CHUNK):
        chunk = wanted[i : i + _CHUNK]
        found.update(
            session.scalars(
                select(JobRun.key).where(
                    JobRun.name == name,
                    JobRun.key.in_(chunk),
                    (JobRun.status != JobStatus.RUNNING) | (JobRun.started_at >= stale_before),
                )
            )
        )
    return found


def get(session: Session, name: str, key: str) -> JobRun | None:
    return session.scalar(select(JobRun).where(JobRun.name == name, JobRun.key == key))
