"""A compact "seen before?" set of strings, for duplicate ExternalIDs in push files.

A Python ``set`` of 10 million ExternalIDs costs about 1 GB; this keeps only a
64-bit fingerprint (the string's ``hash()``, SipHash keyed per process, so no
one can craft collisions from outside) in an open-addressing table of machine
words: about 13 bytes per distinct ID at most, 134 MB for 10 million.

The price is a false "duplicate" when two different IDs share a fingerprint:
probability about n² / 2⁶⁵, i.e. 3·10⁻⁶ for a whole 10-million-line file.

Example::

    >>> seen = FingerprintSet()
    >>> seen.add_many(["42", "43", "42"]), seen.add_many(["44", "43"])
    ([2], [1])
"""

from __future__ import annotations

from array import array
from typing import Protocol

from ftpush.formats import _accel


class SeenIds(Protocol):
    """Anything that can tell whether ExternalIDs were already accepted."""

    def add_many(self, keys: list[str]) -> list[int]:
        """Record ``keys`` in order; return the indexes of those seen before.

        A key repeated inside ``keys`` counts as seen from its second place on.
        """
        ...


class FingerprintSet:
    """Open-addressing table of 64-bit fingerprints, doubled at 3/4 load.

    ``expected`` sizes the table up front (e.g. from the file size): growing
    re-inserts every fingerprint in Python, which a good guess avoids.
    """

    __slots__ = ("_count", "_limit", "_mask", "_table")

    def __init__(self, expected: int = 0) -> None:
        slots = 1 << 10
        while slots * 3 // 4 < expected:
            slots <<= 1
        self._mask = slots - 1
        self._table = array("q", [0]) * slots
        self._count = 0
        self._limit = slots * 3 // 4

    def __len__(self) -> int:
        return self._count

    def add(self, key: str) -> bool:
        """Record ``key``; ``True`` if it was new."""
        return not self.add_many([key])

    def add_many(self, keys: list[str]) -> list[int]:
        """See :meth:`SeenIds.add_many`; one tight loop per batch keeps it cheap."""
        while self._count + len(keys) > self._limit:
            self._grow()
        accel = _accel.speedups
        if accel is not None:
            seen_before = accel.fingerprint_add(
                self._table, self._mask, keys if type(keys) is list else list(keys)
            )
            self._count += len(keys) - len(seen_before)
            return seen_before
        table = self._table
        mask = self._mask
        seen_before = []
        # hash() is 0 only for "" (and, for other strings, with odds of 2**-64): a
        # fingerprint of 0 would read as an empty slot, so "" is never reported seen.
        for index, fingerprint in enumerate(map(hash, keys)):
            slot = fingerprint & mask
            stored = table[slot]
            while stored:
                if stored == fingerprint:
                    seen_before.append(index)
                    break
                slot = (slot + 1) & mask
                stored = table[slot]
            else:
                table[slot] = fingerprint
        self._count += len(keys) - len(seen_before)
        return seen_before

    def _grow(self) -> None:
        old = self._table
        mask = (self._mask << 1) | 1
        table = array("q", [0]) * (mask + 1)
        for fingerprint in filter(None, old):
            slot = fingerprint & mask
            while table[slot]:
                slot = (slot + 1) & mask
            table[slot] = fingerprint
        self._table = table
        self._mask = mask
        self._limit = (3 * (mask + 1)) // 4
