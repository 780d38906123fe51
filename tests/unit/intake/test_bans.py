"""The ban list, with a clock the test controls."""

from __future__ import annotations

import ipaddress

from ftpush.intake.access import BanList, in_networks, parse_address


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_in_the_window_ban_then_the_ban_expires() -> None:
    clock = Clock()
    bans = BanList(failures=3, window_seconds=60, ban_seconds=300, clock=clock)
    assert not bans.record_failure("192.0.2.1")
    assert not bans.record_failure("192.0.2.1")
    assert not bans.is_banned("192.0.2.1")
    assert bans.record_failure("192.0.2.1")
    assert bans.is_banned("192.0.2.1")
    assert not bans.is_banned("192.0.2.2")
    clock.now += 299
    assert bans.is_banned("192.0.2.1")
    clock.now += 2
    assert not bans.is_banned("192.0.2.1")
    assert bans.bans_total == 1


def test_old_failures_leave_the_window() -> None:
    clock = Clock()
    bans = BanList(failures=3, window_seconds=60, ban_seconds=300, clock=clock)
    bans.record_failure("192.0.2.1")
    bans.record_failure("192.0.2.1")
    clock.now += 61
    assert not bans.record_failure("192.0.2.1")
    assert not bans.is_banned("192.0.2.1")


def test_success_resets_the_count() -> None:
    bans = BanList(failures=2, window_seconds=60, ban_seconds=300, clock=Clock())
    bans.record_failure("192.0.2.1")
    bans.record_success("192.0.2.1")
    assert not bans.record_failure("192.0.2.1")


def test_exempt_monitors_are_never_banned() -> None:
    exempt = [ipaddress.ip_network("198.51.100.0/24")]
    bans = BanList(failures=1, window_seconds=60, ban_seconds=300, exempt=exempt, clock=Clock())
    for _ in range(10):
        assert not bans.record_failure("198.51.100.7")
    assert not bans.is_banned("198.51.100.7")


def test_addresses() -> None:
    assert str(parse_address("::ffff:192.0.2.1")) == "192.0.2.1"
    assert str(parse_address("fe80::1%eth0")) == "fe80::1"
    nets = [ipaddress.ip_network("192.0.2.0/24"), ipaddress.ip_network("2001:db8::/32")]
    assert in_networks("192.0.2.9", nets)
    assert in_networks("::ffff:192.0.2.9", nets)
    assert in_networks("2001:db8::5", nets)
    assert not in_networks("192.0.3.1", nets)
    assert not in_networks("not-an-ip", nets)
