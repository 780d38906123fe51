"""The FTP adapter's pure parts: virtual path normalisation and the upload file object."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ftpush.errors import FileTooLarge
from ftpush.intake.dropbox import VPath
from ftpush.intake.ftp_fs import UploadFile, normalise


@pytest.mark.parametrize(
    ("path", "cwd", "expected"),
    [
        ("push.csv", "/", "/push.csv"),
        ("users.txt", "/Profile", "/Profile/users.txt"),
        ("../../../etc/passwd", "/Profile", "/etc/passwd"),
        ("/../..", "/", "/"),
        ("./a/./b/../c", "/", "/a/c"),
        ("//results//x.json", "/Profile", "/results/x.json"),
        ("", "/validate", "/validate"),
    ],
)
def test_normalise_clamps_at_the_root(path: str, cwd: str, expected: str) -> None:
    assert normalise(path, cwd) == expected


class FakeSession:
    """What UploadFile needs of a DropboxSession."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.closed: list[tuple[bool, str]] = []

    def check_extent(self, end_offset: int) -> None:
        if end_offset > self.limit:
            raise FileTooLarge(f"files are limited to {self.limit} bytes")

    def close_write(self, vpath: VPath, *, complete: bool, reason: str = "") -> str | None:
        self.closed.append((complete, reason))
        return "spool-id" if complete else None


def _upload(tmp_path: Path, limit: int = 1000) -> tuple[UploadFile, FakeSession, Path]:
    real = tmp_path / "push.csv"
    fd = os.open(real, os.O_WRONLY | os.O_CREAT, 0o600)
    session = FakeSession(limit)
    return UploadFile(session, VPath("", "push.csv", real), fd), session, real  # type: ignore[arg-type]


def test_writes_pieces_in_order_and_finishes_once(tmp_path: Path) -> None:
    upload, session, real = _upload(tmp_path)
    assert upload.write_chunks([b"abc", bytearray(b"def"), memoryview(b"g")]) == 7
    upload.write(b"hi")
    assert upload.finish(complete=True) == "spool-id"
    assert upload.closed
    assert upload.finish(complete=False, reason="late") is None  # only the first call acts
    upload.close()
    assert session.closed == [(True, "")]
    assert real.read_bytes() == b"abcdefghi"
    assert upload.name == "/push.csv"


def test_over_the_limit_is_refused_before_writing(tmp_path: Path) -> None:
    upload, session, real = _upload(tmp_path, limit=5)
    upload.write(b"12345")
    with pytest.raises(FileTooLarge):
        upload.write(b"6")
    upload.close()  # a plain close is an incomplete upload
    assert session.closed == [(False, "the transfer was cancelled before it finished")]
    assert real.read_bytes() == b"12345"
