"""SFTP upload throughput: ftpush's SFTP server vs OpenSSH's sshd, same client, same cipher.

The OpenSSH ``sftp`` client uploads one file of random bytes (1 GiB by
default) to each server on loopback, a few times, alternating; the median
wall-clock time of each (connect, key exchange, login, transfer, CLOSE reply,
exit) is compared, and so is each back-to-back pair (on a shared machine the
per-pair ratio is the figure least moved by other load). ftpush runs with
everything on: gatekeeper login by key, the dropbox confinement, completion
tracking (the upload counts on the client's CLOSE), the fsync and the
hand-off to the spool before the CLOSE reply. The spool's background hashing
is waited for between runs so it never competes with a measured upload.

The reference is OpenSSH's ``internal-sftp`` (the ``sftp-server`` code inside
sshd) started by ``tests/peers/sshd.py`` (needs root and ``/usr/sbin/sshd``),
writing to the same file system. Goal (issue 4): ftpush_throughput /
sshd_throughput >= 0.8.

Run::

    .venv/bin/python bench/sftp_throughput.py                  # 1 GiB, 3 runs each
    .venv/bin/python bench/sftp_throughput.py --size-mib 256 --runs 5
    .venv/bin/python bench/sftp_throughput.py --profile prof.out --runs 1   # cProfile ftpush
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for tests.peers (ftpush itself is installed in .venv)

from tests.peers._common import new_ed25519, write_private  # noqa: E402
from tests.peers.sshd import SshdPeer  # noqa: E402

from ftpush.cli.serve import loop_factory  # noqa: E402
from ftpush.config import load_settings  # noqa: E402
from ftpush.crypto import ensure_ssh_host_key  # noqa: E402
from ftpush.intake.access import Gatekeeper  # noqa: E402
from ftpush.intake.sftp import SftpService  # noqa: E402
from ftpush.intake.spool import Spool  # noqa: E402
from ftpush.storage import Database, accounts, apps  # noqa: E402

MIB = 1024 * 1024
SFTP = "/usr/bin/sftp"


@dataclass
class Target:
    name: str
    port: int
    user: str
    key: Path
    remote_path: str


def make_data(path: Path, size: int) -> None:
    block = os.urandom(4 * MIB)  # incompressible; repeating a block is fine for SSH
    with path.open("wb") as fh:
        left = size
        while left > 0:
            fh.write(block[: min(left, len(block))])
            left -= len(block)


@dataclass
class Run:
    seconds: float  # wall clock, connect to exit
    client_cpu: float  # sftp + ssh, user + system
    our_cpu: float  # this process (ftpush's server threads; ~0 while sshd serves)
    loop_cpu: float = 0.0  # ftpush's event-loop thread alone (the one that limits it)


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def sftp_upload(
    target: Target, data: Path, cipher: str, workdir: Path, loop_clock: int | None = None
) -> Run:
    """One ``sftp -b`` run that puts ``data`` (connect to exit), timed."""
    batch = workdir / "batch"
    batch.write_text(f"put {data} {target.remote_path}\n")
    argv = [
        SFTP, "-b", str(batch), "-c", cipher, "-P", str(target.port),
        "-i", str(target.key), "-o", "IdentitiesOnly=yes", "-F", "/dev/null",
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "LogLevel=ERROR", f"{target.user}@127.0.0.1",
    ]  # fmt: skip
    children, ours = _cpu(resource.RUSAGE_CHILDREN), _cpu(resource.RUSAGE_SELF)
    loop_before = time.clock_gettime(loop_clock) if loop_clock is not None else 0.0
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"sftp to {target.name} failed: {done.stderr.strip()}")
    return Run(
        elapsed,
        _cpu(resource.RUSAGE_CHILDREN) - children,
        _cpu(resource.RUSAGE_SELF) - ours,
        time.clock_gettime(loop_clock) - loop_before if loop_clock is not None else 0.0,
    )


@contextmanager
def ftpush_server(
    base: Path, profile: Path | None, event_loop: str = "auto"
) -> Iterator[tuple[Target, Spool, int]]:
    """ftpush's SFTP service on a free port, with one app and one key account.

    Yields the target, the spool and the CPU clock of the server's event-loop thread.
    """
    settings = load_settings(
        data_dir=base / "data", environ={}, sftp={"port": 0}, event_loop=event_loop
    )
    db = Database.open(settings)
    private, public = new_ed25519()
    key = base / "client_key"
    write_private(key, private)
    with db.transaction() as s:
        apps.create_app(s, key="bench")
        accounts.add_account(
            s, app_key="bench", username="bench", ssh_keys=[public], cidrs=["127.0.0.1"]
        )
    spool = Spool(settings, db)
    gate = Gatekeeper(db, settings)
    host_key = base / "ssh_host_ed25519_key"
    ensure_ssh_host_key(host_key)
    service = SftpService(settings, gate, spool, host_key)
    factory = loop_factory(settings)  # what `ftpush serve` runs on
    loop = factory() if factory is not None else asyncio.new_event_loop()
    print(f"ftpush event loop: {type(loop).__module__.split('.')[0]}")
    profiler = cProfile.Profile() if profile else None

    def run_loop() -> None:
        if profiler is not None:
            profiler.enable()
        loop.run_forever()
        if profiler is not None:
            profiler.disable()

    thread = threading.Thread(target=run_loop, name="ftpush-sftp", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(service.start(), loop).result(30)
    try:
        assert thread.ident is not None
        clock = time.pthread_getcpuclockid(thread.ident)
        yield Target("ftpush", service.port, "bench", key, "/bench.csv"), spool, clock
    finally:
        asyncio.run_coroutine_threadsafe(service.stop(), loop).result(60)
        asyncio.run_coroutine_threadsafe(loop.shutdown_default_executor(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
        spool.close()
        db.close()
        if profiler is not None and profile is not None:
            profiler.dump_stats(profile)
            print(f"cProfile of the server's event loop thread written to {profile}")


@contextmanager
def sshd_server(base: Path) -> Iterator[Target]:
    with SshdPeer.started(base / "sshd") as peer:
        target_dir = base / "sshd-target"
        target_dir.mkdir()
        os.chown(target_dir, peer.user.uid, peer.user.gid)
        yield Target(
            "sshd", peer.port, peer.user.name, peer.client_key_path, f"{target_dir}/bench.csv"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="upload size (1024 = 1 GiB)")
    parser.add_argument("--runs", type=int, default=3, help="uploads per server (median kept)")
    parser.add_argument("--cipher", default="aes128-gcm@openssh.com", help="ssh -c, both sides")
    parser.add_argument("--profile", type=Path, help="write a cProfile of ftpush's server thread")
    parser.add_argument("--tmp", type=Path, help="where the data file and servers live")
    parser.add_argument(
        "--loop", choices=["auto", "uvloop", "asyncio"], default="auto",
        help="ftpush's event loop (event_loop setting; auto = uvloop when installed)",
    )  # fmt: skip
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    base = Path(tempfile.mkdtemp(prefix="ftpush-sftp-bench-", dir=args.tmp))
    base.chmod(0o755)  # sshd's user must reach its target folder
    try:
        data = base / "upload.bin"
        make_data(data, args.size_mib * MIB)
        runs: dict[str, list[Run]] = {"ftpush": [], "sshd": []}
        with (
            ftpush_server(base / "ftpush", args.profile, args.loop) as (ours, spool, loop_clock),
            sshd_server(base) as theirs,
        ):
            for run in range(args.runs):
                for target in (theirs, ours) if run % 2 else (ours, theirs):
                    clock = loop_clock if target is ours else None
                    done = sftp_upload(target, data, args.cipher, base, clock)
                    runs[target.name].append(done)
                    print(
                        f"  run {run + 1} {target.name:<6} {done.seconds:7.2f} s"
                        f"  client cpu {done.client_cpu:5.2f} s  ftpush cpu {done.our_cpu:5.2f} s"
                        f" (loop {done.loop_cpu:5.2f} s)",
                        flush=True,
                    )
                    if target is ours:
                        spool.wait_idle(timeout=600)  # hashing done before the next upload
                        for spooled in (base / "ftpush" / "data" / "spool").rglob("*.data"):
                            spooled.unlink()
                    else:
                        Path(target.remote_path).unlink()
        size = args.size_mib * MIB
        ftpush_s = statistics.median(r.seconds for r in runs["ftpush"])
        sshd_s = statistics.median(r.seconds for r in runs["sshd"])
        ftpush_cpu = statistics.median(r.our_cpu for r in runs["ftpush"])
        ratio = sshd_s / ftpush_s  # throughput ratio = inverse time ratio
        # Each run's pair (the two uploads back to back) saw about the same machine
        # load: the median of the per-pair ratios is the figure least moved by it.
        pairs = [s.seconds / f.seconds for f, s in zip(runs["ftpush"], runs["sshd"], strict=True)]
        best = min(r.seconds for r in runs["sshd"]) / min(r.seconds for r in runs["ftpush"])
        print(f"date:    {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
        print(f"command: {' '.join([sys.executable, *sys.argv])}")
        print(f"upload:  {args.size_mib} MiB, cipher {args.cipher}, {args.runs} runs each")
        print(f"ftpush:  median {ftpush_s:.2f} s  ({size / ftpush_s / MIB:.0f} MiB/s)")
        print(f"sshd:    median {sshd_s:.2f} s  ({size / sshd_s / MIB:.0f} MiB/s)")
        loop_cpu = statistics.median(r.loop_cpu for r in runs["ftpush"])
        print(f"ftpush server cpu: median {ftpush_cpu:.2f} s (all threads), loop {loop_cpu:.2f} s")
        load_after = os.getloadavg()[0]
        cpus = os.cpu_count()
        print(f"load average: {load_before:.2f} before, {load_after:.2f} after ({cpus} cpus)")
        print(f"ratio ftpush/sshd throughput: {ratio:.2f} of the medians (goal >= 0.8)")
        listed = " ".join(f"{p:.2f}" for p in pairs)
        print(f"  per pair: {listed}; median {statistics.median(pairs):.2f}")
        print(f"  best run against best run: {best:.2f}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
