"""Login rate limiting, in this process's memory (decision 0901).

A username tried from one address may fail :attr:`per_user` times in a sliding window
(default 5 in 15 minutes); an address may fail :attr:`per_address` times whatever the
usernames (default 30), which stops spraying one password over many names. While a
limit is reached, logins are refused without even checking the password; a success
clears that username's count for that address.

Each ``ftpush serve`` front-end counts on its own: behind a load balancer of N
front-ends, an attacker gets at most N times the allowance.

Example::

    >>> limiter = LoginLimiter(per_user=2, window=60.0, clock=lambda: 0.0)
    >>> limiter.failed("root", "192.0.2.1"); limiter.failed("root", "192.0.2.1")
    >>> limiter.retry_after("root", "192.0.2.1")
    60
    >>> limiter.retry_after("other", "192.0.2.1") is None
    True
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

MAX_TRACKED = 100_000  # keys kept before the oldest are forgotten (bounded memory)


class LoginLimiter:
    """Failed logins per (username, address) and per address, in a sliding window."""

    def __init__(
        self,
        *,
        per_user: int = 5,
        per_address: int = 30,
        window: float = 15 * 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_user = per_user
        self.per_address = per_address
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], deque[float]] = {}

    @staticmethod
    def _keys(username: str, address: str) -> tuple[tuple[str, str], tuple[str, str]]:
        return ("user", f"{username.strip().lower()}\0{address}"), ("address", address)

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, username: str, address: str) -> int | None:
        """Seconds until this username may be tried again from there; None if it may now."""
        now = self._clock()
        user_key, address_key = self._keys(username, address)
        with self._lock:
            waits = [
                times[-limit] + self.window - now
                for key, limit in ((user_key, self.per_user), (address_key, self.per_address))
                if len(times := self._recent(key, now)) >= limit
            ]
        return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, username: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            if len(self._failures) >= MAX_TRACKED:
                for key in list(self._failures)[: MAX_TRACKED // 10]:
                    del self._failures[key]
            for key in self._keys(username, address):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, username: str, address: str) -> None:
        with self._lock:
            self._failures.pop(self._keys(username, address)[0], None)
