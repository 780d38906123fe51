"""The pure parts of the SFTP adapter: error mapping and the idle timer."""

from __future__ import annotations

import asyncio
import errno

import asyncssh
import pytest

from ftpush.errors import (
    ChecksumMismatch,
    Conflict,
    FileTooLarge,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from ftpush.intake.access import AccessDenied
from ftpush.intake.sftp_files import sftp_error
from ftpush.intake.sftp_session import IdleWatch


@pytest.mark.parametrize(
    ("error", "status", "reason"),
    [
        (NotFound("no such file: /x.csv"), asyncssh.SFTPNoSuchFile, "no such file: /x.csv"),
        (PermissionDenied("write is not allowed"), asyncssh.SFTPPermissionDenied, None),
        (AccessDenied("banned"), asyncssh.SFTPPermissionDenied, "access denied"),
        (Conflict("/x.csv already exists"), asyncssh.SFTPFileAlreadyExists, None),
        (FileTooLarge("files are limited to 10 bytes"), asyncssh.SFTPQuotaExceeded, None),
        (InvalidInput("bad name", field="name"), asyncssh.SFTPInvalidFilename, None),
        (InvalidInput("bad flag"), asyncssh.SFTPInvalidParameter, None),
        (ChecksumMismatch("differs"), asyncssh.SFTPFailure, "differs"),
        (OSError(errno.ENOSPC, "No space", "/srv/data/x"), asyncssh.SFTPNoSpaceOnFilesystem, None),
        (
            OSError(errno.ELOOP, "Too many links", "/srv/data/x"),
            asyncssh.SFTPPermissionDenied,
            None,
        ),
        (OSError(errno.EIO, "I/O error", "/srv/data/x"), asyncssh.SFTPFailure, "server error"),
        (RuntimeError("boom /srv/data"), asyncssh.SFTPFailure, "server error"),
    ],
)
def test_core_errors_become_sftp_statuses(
    error: BaseException, status: type[asyncssh.SFTPError], reason: str | None
) -> None:
    mapped = sftp_error(error)
    assert type(mapped) is status
    assert "/srv/data" not in mapped.reason  # real paths never reach the client
    if reason is not None:
        assert mapped.reason == reason


def test_the_idle_watch_fires_only_after_a_quiet_period() -> None:
    async def scenario() -> list[float]:
        loop = asyncio.get_running_loop()
        fired: list[float] = []
        start = loop.time()
        watch = IdleWatch(0.2, lambda: fired.append(loop.time() - start))
        for _ in range(3):  # activity keeps it quiet
            await asyncio.sleep(0.1)
            watch.enter()
            watch.leave()
        watch.enter()  # a long request is not idleness
        await asyncio.sleep(0.35)
        assert fired == []
        watch.leave()
        await asyncio.sleep(0.35)
        watch.cancel()
        return fired

    [when] = asyncio.run(scenario())
    assert 0.8 < when < 1.2


def test_a_cancelled_idle_watch_never_fires() -> None:
    async def scenario() -> list[int]:
        fired: list[int] = []
        watch = IdleWatch(0.05, lambda: fired.append(1))
        watch.cancel()
        await asyncio.sleep(0.15)
        return fired

    assert asyncio.run(scenario()) == []
