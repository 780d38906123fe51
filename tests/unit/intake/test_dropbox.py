"""Path resolution and permissions of the dropbox: hostile paths never escape."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftpush.errors import InvalidInput, NotFound, PermissionDenied
from ftpush.intake.dropbox import (
    Dropbox,
    Op,
    entries,
    is_sidecar,
    is_temporary,
    open_for_read,
    open_for_write,
)

ROOT = Path("/srv/data/dropbox/demo")


@pytest.fixture
def box() -> Dropbox:
    return Dropbox(ROOT)


@pytest.mark.parametrize(
    ("path", "cwd", "virtual", "folder", "name"),
    [
        ("/", "/", "/", "", None),
        ("push.csv", "/", "/push.csv", "", "push.csv"),
        ("/profile/users.txt", "/", "/Profile/users.txt", "Profile", "users.txt"),
        ("users.txt", "/PROFILE", "/Profile/users.txt", "Profile", "users.txt"),
        ("/Validate/profile", "/", "/validate/Profile", "validate/Profile", None),
        ("/validate/profile/u.txt", "/", "/validate/Profile/u.txt", "validate/Profile", "u.txt"),
        ("/validate/x.csv", "/", "/validate/x.csv", "validate", "x.csv"),
        ("../../../../etc", "/results", "/etc", "", "etc"),
        ("/results/../../x.csv", "/", "/x.csv", "", "x.csv"),
        ("..", "/", "/", "", None),
        ("./results/./a.json", "/", "/results/a.json", "results", "a.json"),
        ("//reports//r.xlsx", "/", "/reports/r.xlsx", "reports", "r.xlsx"),
        ("ümlaut ✓.csv", "/", "/ümlaut ✓.csv", "", "ümlaut ✓.csv"),
    ],
)
def test_resolve_stays_inside(
    box: Dropbox, path: str, cwd: str, virtual: str, folder: str, name: str | None
) -> None:
    vpath = box.resolve(path, cwd)
    assert vpath.virtual == virtual
    assert (vpath.folder, vpath.name) == (folder, name)
    assert vpath.real.is_relative_to(ROOT)
    assert ".." not in vpath.real.parts


@pytest.mark.parametrize(
    "path",
    ["/etc/passwd", "/Profile/sub/x.txt", "/nope/x.csv", "/results/a/b", "/../etc/shadow/x"],
)
def test_unknown_folders_do_not_exist(box: Dropbox, path: str) -> None:
    with pytest.raises(NotFound, match="no such folder"):
        box.resolve(path)


@pytest.mark.parametrize("path", ["/a\x00b.csv", "/a\\b.csv", "/line\nbreak.csv", "/tab\t.csv"])
def test_hostile_names_are_refused(box: Dropbox, path: str) -> None:
    with pytest.raises(InvalidInput):
        box.resolve(path)


def test_overlong_names_are_refused(box: Dropbox) -> None:
    with pytest.raises(InvalidInput, match="longer than 255"):
        box.resolve("/" + "é" * 200 + ".csv")


# The table of SPEC §2, written out: what a customer may do where.
UPLOAD_FILE_OPS = {Op.LIST, Op.STAT, Op.WRITE, Op.DELETE, Op.RENAME, Op.SETSTAT}
OUTPUT_FILE_OPS = {Op.LIST, Op.STAT, Op.READ, Op.DELETE}
FOLDER_OPS = {Op.LIST, Op.STAT}
EXPECTED = {
    "/": FOLDER_OPS,
    "/results": FOLDER_OPS,
    "/x.csv": UPLOAD_FILE_OPS,
    "/Profile/x.txt": UPLOAD_FILE_OPS,
    "/validate/Profile/x.txt": UPLOAD_FILE_OPS,
    "/results/x.json": OUTPUT_FILE_OPS,
    "/failed/x.csv": OUTPUT_FILE_OPS,
    "/reports/r.xlsx": OUTPUT_FILE_OPS,
}


@pytest.mark.parametrize(
    "path",
    list(EXPECTED),
)
@pytest.mark.parametrize("op", list(Op))
def test_permissions_deny_by_default(box: Dropbox, path: str, op: Op) -> None:
    vpath = box.resolve(path)
    if op in EXPECTED[path]:
        Dropbox.check(op, vpath)
    else:
        with pytest.raises(PermissionDenied):
            Dropbox.check(op, vpath)


@pytest.mark.parametrize(
    ("name", "temporary"),
    [("a.part", True), ("A.TMP", True), ("x.filepart", True), (".hidden.csv", True),
     ("push.csv", False), ("push.csv.sha256", False), ("part", False)],
)  # fmt: skip
def test_temporary_names(name: str, temporary: bool) -> None:
    assert is_temporary(name) is temporary


def test_sidecars() -> None:
    assert is_sidecar("push.csv.sha256")
    assert is_sidecar("X.SHA256")
    assert not is_sidecar(".sha256")
    assert not is_sidecar("push.csv")


def test_symlinks_are_never_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("top secret")
    folder = tmp_path / "box"
    folder.mkdir()
    (folder / "link.csv").symlink_to(secret)
    (folder / "dirlink").symlink_to(tmp_path)
    (folder / "ok.csv").write_text("x")
    with pytest.raises(PermissionDenied, match="symbolic link"):
        open_for_write(folder / "link.csv")
    assert secret.read_text() == "top secret"
    with pytest.raises(OSError):  # noqa: PT011 - ELOOP from the kernel
        open_for_read(folder / "link.csv")
    assert [e.name for e in entries(folder)] == ["ok.csv"]
    assert entries(tmp_path / "missing") == []
