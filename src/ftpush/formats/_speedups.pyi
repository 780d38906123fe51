"""Types of the optional C accelerator (``_speedups.c``, decision 0105)."""

from array import array
from typing import Any

STRING: int
INTEGER: int
NUMBER: int
BOOLEAN: int
DATE: int
OTHER: int

def push_lines(
    lines: list[str], first: int, max_payload_bytes: int, row_type: type[tuple[Any, ...]], /
) -> tuple[list[Any], int]: ...
def profile_lines(
    lines: list[str], first: int, spec: tuple[Any, ...], /
) -> tuple[list[Any], int]: ...
def fingerprint_add(table: array[int], mask: int, keys: list[str], /) -> list[int]: ...
