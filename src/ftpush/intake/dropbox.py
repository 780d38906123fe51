"""An app's dropbox as its FTP accounts see it: fixed folders, confinement, permissions.

Every protocol adapter resolves a client's path through :meth:`Dropbox.resolve`
and asks :meth:`Dropbox.check` before acting, so SFTP and FTP enforce the same
rules (deny by default):

========================  ==========================================================
folder                    what a customer may do
========================  ==========================================================
``/``, ``/Profile``,      upload (create, write), rename within the folder, delete
``/validate``,            files not yet picked up, list, stat
``/validate/Profile``
``/results``, ``/failed``,  list, stat, download, delete
``/reports``
anything else             nothing: no mkdir, rmdir, symlink, link, chmod
========================  ==========================================================

Paths are virtual and POSIX: ``..`` never climbs above ``/`` (as in a chroot),
folder names match without case (``/profile`` is ``/Profile``), and names with
NUL, control characters or backslashes are refused. The real path is always
computed from the canonical folder and a single validated name, so no client
path reaches the file system. Symlinks are never followed (see ``O_NOFOLLOW``
in :func:`open_for_write`), and none can be created.

Example::

    >>> box = Dropbox(Path("/srv/ftpush-data/dropbox/demo"))
    >>> box.resolve("/profile/../PROFILE/users.txt").virtual
    '/Profile/users.txt'
"""

from __future__ import annotations

import enum
import os
import posixpath
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from ftpush.errors import InvalidInput, NotFound, PermissionDenied

UPLOAD_FOLDERS = ("", "Profile", "validate", "validate/Profile")
OUTPUT_FOLDERS = ("results", "failed", "reports")
FOLDERS = UPLOAD_FOLDERS + OUTPUT_FOLDERS
_CANONICAL = {f.lower(): f for f in FOLDERS}
TEMP_SUFFIXES = (".part", ".tmp", ".filepart")
SIDECAR_SUFFIX = ".sha256"
MAX_NAME_LENGTH = 255
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f\\/]")


class Op(enum.Enum):
    LIST = "list"
    STAT = "stat"
    READ = "read"
    WRITE = "write"
    DELETE = "delete"
    RENAME = "rename"
    MKDIR = "mkdir"
    RMDIR = "rmdir"
    SYMLINK = "symlink"
    SETSTAT = "setstat"


@dataclass(frozen=True)
class VPath:
    """A resolved client path: a known folder and, for files, one validated name."""

    folder: str
    name: str | None
    real: Path

    @property
    def virtual(self) -> str:
        parts = [p for p in (self.folder, self.name) if p]
        return "/" + "/".join(parts)

    @property
    def is_folder(self) -> bool:
        return self.name is None

    @property
    def is_upload_folder(self) -> bool:
        return self.folder in UPLOAD_FOLDERS

    @property
    def dry_run(self) -> bool:
        return self.folder.startswith("validate")


def is_temporary(name: str) -> bool:
    """Names a client uploads under before renaming to the final name (SPEC §2)."""
    return name.startswith(".") or name.lower().endswith(TEMP_SUFFIXES)


def is_sidecar(name: str) -> bool:
    return name.lower().endswith(SIDECAR_SUFFIX) and len(name) > len(SIDECAR_SUFFIX)


def validate_name(name: str) -> str:
    """A file name as a customer may give it: one component, printable, bounded."""
    if not name or name in {".", ".."} or _BAD_NAME.search(name):
        raise InvalidInput(
            f"file name {name!r} is not allowed: no '/', '\\\\', NUL or control characters",
            field="name",
        )
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_LENGTH:
        raise InvalidInput(f"file name is longer than {MAX_NAME_LENGTH} bytes", field="name")
    return name


class Dropbox:
    """The root folder of one app; all accounts of the app share it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def ensure_layout(self) -> None:
        """Create the fixed folders (idempotent)."""
        for folder in FOLDERS:
            (self.root / folder).mkdir(parents=True, exist_ok=True, mode=0o750)

    def folder_path(self, folder: str) -> Path:
        return self.root / folder if folder else self.root

    def resolve(self, path: str, cwd: str = "/") -> VPath:
        """Map a client path to a folder and a name, or refuse it."""
        if "\x00" in path:
            raise InvalidInput("path contains a NUL byte", field="path")
        joined = posixpath.join(cwd or "/", path)
        parts: list[str] = []
        for part in joined.split("/"):
            if part in {"", "."}:
                continue
            if part == "..":
                if parts:  # at the root ".." stays at the root, as in a chroot
                    parts.pop()
                continue
            parts.append(part)
        for split in (len(parts), len(parts) - 1):
            if split < 0:
                continue
            folder = _CANONICAL.get("/".join(parts[:split]).lower())
            if folder is None:
                continue
            rest = parts[split:]
            if not rest:
                return VPath(folder, None, self.folder_path(folder))
            name = validate_name(rest[0])
            return VPath(folder, name, self.folder_path(folder) / name)
        raise NotFound(f"no such folder: /{'/'.join(parts[:-1])}")

    @staticmethod
    def check(op: Op, target: VPath) -> None:
        """Raise :class:`PermissionDenied` unless ``op`` is allowed on ``target``."""
        allowed: bool
        if op in {Op.LIST, Op.STAT}:
            allowed = True
        elif target.is_folder:
            allowed = False  # folders are fixed: no mkdir/rmdir/rename/delete of them
        elif op is Op.WRITE:
            allowed = target.is_upload_folder
        elif op is Op.READ:
            allowed = not target.is_upload_folder
        elif op in {Op.DELETE, Op.SETSTAT, Op.RENAME}:
            allowed = op is Op.DELETE or target.is_upload_folder
        else:
            allowed = False
        if not allowed:
            raise PermissionDenied(f"{op.value} is not allowed on {target.virtual}")


def open_for_write(path: Path) -> int:
    """Create or truncate ``path`` for an upload without ever following a symlink."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        return os.open(path, flags, 0o640)
    except OSError as exc:
        if exc.errno == getattr(os, "ELOOP", 40):
            raise PermissionDenied(f"{path.name} is a symbolic link") from None
        raise


def open_for_read(path: Path) -> int:
    """Open a regular file for download, refusing symlinks and anything else."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise PermissionDenied(f"{path.name} is not a regular file")
    return fd


def entries(folder: Path) -> list[os.DirEntry[str]]:
    """Regular files and known sub-folders of a folder; symlinks and others are hidden."""
    try:
        with os.scandir(folder) as it:
            return [e for e in it if e.is_file(follow_symlinks=False) or _is_known_dir(e)]
    except FileNotFoundError:
        return []


def _is_known_dir(entry: os.DirEntry[str]) -> bool:
    return entry.is_dir(follow_symlinks=False) and not entry.name.startswith(".")
