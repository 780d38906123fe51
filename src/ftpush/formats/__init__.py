"""Pure streaming parsers and writers of the customer file formats (SPEC §3, §4).

Bytes in, rows and line errors out; no I/O, bounded memory, never an
exception for a bad line. The rules, decisions and error codes are in
``docs/formats.md``.

Example::

    >>> from ftpush.formats import parse_push
    >>> [row.text for row in parse_push([b"1;Hello\\\\nworld;\\n"])]
    ['Hello\\nworld']
"""

from __future__ import annotations

from pathlib import PurePath

from ftpush.formats._idset import FingerprintSet, SeenIds
from ftpush.formats.base import UNCHANGED, LineError, ProfileRow, PushRow, Unchanged
from ftpush.formats.profile_txt import parse_profile, parse_profile_batches, write_profile_txt
from ftpush.formats.push_csv import parse_push, parse_push_batches
from ftpush.formats.push_writer import write_push_csv
from ftpush.models import ImportKind

__all__ = [
    "UNCHANGED",
    "FingerprintSet",
    "LineError",
    "ProfileRow",
    "PushRow",
    "SeenIds",
    "Unchanged",
    "kind_of_path",
    "parse_profile",
    "parse_profile_batches",
    "parse_push",
    "parse_push_batches",
    "write_profile_txt",
    "write_push_csv",
]


def kind_of_path(path: str | PurePath) -> ImportKind | None:
    """The file kind its place says: in a ``Profile`` folder (any case) or ``.txt``
    → profile, ``.csv`` → push; ``None`` when neither.

    >>> kind_of_path("validate/Profile/day1.txt"), kind_of_path("offers.CSV")
    (<ImportKind.PROFILE: 'profile'>, <ImportKind.PUSH: 'push'>)
    >>> kind_of_path("notes.md") is None
    True
    """
    pure = PurePath(path)
    suffix = pure.suffix.lower()
    if any(part.lower() == "profile" for part in pure.parts[:-1]) or suffix == ".txt":
        return ImportKind.PROFILE
    if suffix == ".csv":
        return ImportKind.PUSH
    return None
