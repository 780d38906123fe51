"""Which implementation of the parsers' hot path runs: the C accelerator or pure Python.

:mod:`ftpush.formats._speedups` is an optional C extension (decision 0105),
built by ``pip install -e .`` when a compiler is present. The parsers read
:data:`speedups` when a file starts: the module, or ``None`` for the
pure-Python implementation, which is always there and is the reference.
:func:`use_compiled` switches for the whole process (tests, ``bench/formats.py
--pure-python``); only ``config.py`` reads the environment, so there is no
variable for it.

Example::

    >>> previous = use_compiled(False)
    >>> speedups is None
    True
    >>> _ = use_compiled(previous)
"""

from __future__ import annotations

from array import array
from typing import Any, Protocol


class Speedups(Protocol):
    """What the parsers use of the C module (its full types: ``_speedups.pyi``)."""

    STRING: int
    INTEGER: int
    NUMBER: int
    BOOLEAN: int
    DATE: int
    OTHER: int

    def push_lines(
        self,
        lines: list[str],
        first: int,
        max_payload_bytes: int,
        row_type: type[tuple[Any, ...]],
        /,
    ) -> tuple[list[Any], int]: ...

    def profile_lines(
        self, lines: list[str], first: int, spec: tuple[Any, ...], /
    ) -> tuple[list[Any], int]: ...

    def fingerprint_add(self, table: array[int], mask: int, keys: list[str], /) -> list[int]: ...


compiled: Speedups | None
try:
    from ftpush.formats import _speedups as compiled
except ImportError:  # pragma: no cover - built wherever a C compiler is present
    compiled = None

speedups: Speedups | None = compiled


def use_compiled(enabled: bool) -> bool:
    """Run the C accelerator (if built) or pure Python; returns whether C was on before."""
    global speedups  # noqa: PLW0603 - one process-wide switch, read when a parse starts
    before = speedups is not None
    speedups = compiled if enabled else None
    return before
