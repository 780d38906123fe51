"""FTPS upload throughput: ftpush's FTP server vs a real vsftpd, same client, same TLS.

``curl`` uploads one file of random bytes (1 GiB by default) over explicit FTPS
(``AUTH TLS``, ``PROT P``, passive mode) to each server on loopback, a few
times, alternating; the median time of each is compared. ftpush runs with
everything on: gatekeeper login, dropbox rules, completion tracking (the
upload counts only after the client's TLS close_notify) and the hand-off to
the spool before 226. The spool's background hashing is waited for between
runs so it never competes with a measured upload.

vsftpd is started by ``tests/peers/vsftpd.py`` (needs root and
``/usr/sbin/vsftpd``). Goal (issue 4): ftpush_throughput / vsftpd_throughput >= 1.0.

Run::

    .venv/bin/python bench/ftps_throughput.py                 # 1 GiB, 3 runs each
    .venv/bin/python bench/ftps_throughput.py --size-mib 256 --runs 5
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for tests.peers (ftpush itself is installed in .venv)

from tests.peers.vsftpd import VsftpdPeer  # noqa: E402

from ftpush.config import load_settings  # noqa: E402
from ftpush.crypto import ensure_tls_certificate  # noqa: E402
from ftpush.intake.access import Gatekeeper  # noqa: E402
from ftpush.intake.ftp import FtpService  # noqa: E402
from ftpush.intake.spool import Spool  # noqa: E402
from ftpush.storage import Database, accounts, apps  # noqa: E402

MIB = 1024 * 1024


@dataclass
class Target:
    name: str
    url: str
    user: str
    password: str
    cacert: Path


def make_data(path: Path, size: int) -> None:
    block = os.urandom(4 * MIB)  # incompressible; repeating a block is fine for TLS
    with path.open("wb") as fh:
        left = size
        while left > 0:
            fh.write(block[: min(left, len(block))])
            left -= len(block)


def curl_upload(target: Target, data: Path, tls: list[str]) -> float:
    """Seconds for one upload (connect, TLS, login, transfer, 226), as curl measures them."""
    done = subprocess.run(
        [
            "curl", "-sS", "--ssl-reqd", "--ftp-pasv", "--cacert", str(target.cacert), *tls,
            "--user", f"{target.user}:{target.password}",
            "-T", str(data), "-w", "%{time_total}", target.url,
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"curl to {target.name} failed: {done.stderr.strip()}")
    return float(done.stdout.strip())


def negotiated(target: Target, tls: list[str], tmp: Path) -> str:
    """The TLS version and cipher curl reports for a small upload."""
    small = tmp / "probe.bin"
    small.write_bytes(b"x")
    done = subprocess.run(
        [
            "curl", "-v", "--ssl-reqd", "--cacert", str(target.cacert), *tls,
            "--user", f"{target.user}:{target.password}", "-T", str(small),
            target.url.rsplit("/", 1)[0] + "/probe.bin",
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    found = re.findall(r"SSL connection using (.+)", done.stderr)
    return found[-1].strip() if found else "unknown"


@contextmanager
def ftpush_server(base: Path) -> Iterator[tuple[Target, Spool]]:
    settings = load_settings(
        data_dir=base / "ftpush-data",
        environ={},
        ftp={"port": 0, "passive_ports": (47000, 47099)},
    )
    cert, key = base / "ftpush-tls" / "cert.pem", base / "ftpush-tls" / "key.pem"
    cert.parent.mkdir()
    ensure_tls_certificate(cert, key, ["localhost", "127.0.0.1"])
    db = Database.open(settings)
    with db.transaction() as s:
        apps.create_app(s, key="bench")
        _, password = accounts.add_account(
            s, app_key="bench", username="bench", cidrs=["127.0.0.1"]
        )
    spool = Spool(settings, db)
    gate = Gatekeeper(db, settings)
    service = FtpService(settings, gate, spool, cert, key)
    service.start_in_thread()
    try:
        url = f"ftp://127.0.0.1:{service.port}/big.csv"
        yield Target("ftpush", url, "bench", password, cert), spool
    finally:
        service.stop_thread()
        spool.wait_idle(timeout=600)
        spool.close()
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="upload size (MiB)")
    parser.add_argument("--runs", type=int, default=3, help="uploads per server")
    parser.add_argument(
        "--tls",
        default="--tlsv1.3 --tls-max 1.3 --tls13-ciphers TLS_AES_128_GCM_SHA256",
        help="curl options pinning the TLS version and cipher for both servers",
    )
    args = parser.parse_args()
    tls = args.tls.split()
    size = args.size_mib * MIB
    base = Path(tempfile.mkdtemp(prefix="ftpush-bench-"))
    base.chmod(0o755)  # the vsftpd test user must reach its upload folder
    try:
        data = base / "big.csv"
        make_data(data, size)
        with (
            VsftpdPeer.started(base / "vsftpd", tls=True) as peer,
            ftpush_server(base) as (
                ours,
                spool,
            ),
        ):
            assert peer.user.password is not None
            upload_dir = base / "vsftpd-uploads"
            upload_dir.mkdir(mode=0o755)
            os.chown(upload_dir, peer.user.uid, peer.user.gid)
            theirs = Target(
                "vsftpd",
                f"ftp://127.0.0.1:{peer.port}/%2F{str(upload_dir).lstrip('/')}/big.csv",
                peer.user.name,
                peer.user.password,
                peer.cert_path,
            )
            times: dict[str, list[float]] = {"vsftpd": [], "ftpush": []}
            for _ in range(args.runs):
                for target in (theirs, ours):
                    times[target.name].append(curl_upload(target, data, tls))
                    spool.wait_idle(timeout=600)  # hashing off the clock
                    (upload_dir / "big.csv").unlink(missing_ok=True)
                    for leftover in (base / "ftpush-data" / "spool").rglob("*.data"):
                        leftover.unlink()
            ciphers = {t.name: negotiated(t, tls, base) for t in (theirs, ours)}
        report(args, size, times, ciphers, tls)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def report(
    args: argparse.Namespace,
    size: int,
    times: dict[str, list[float]],
    ciphers: dict[str, str],
    tls: list[str],
) -> None:
    median = {name: statistics.median(values) for name, values in times.items()}
    speed = {name: size / MIB / seconds for name, seconds in median.items()}
    print(f"date      {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"command   .venv/bin/python bench/ftps_throughput.py {shlex.join(sys.argv[1:])}")
    print(f"upload    {args.size_mib} MiB with curl {' '.join(tls)}, {args.runs} runs each")
    for name in ("vsftpd", "ftpush"):
        runs = ", ".join(f"{t:.2f}" for t in times[name])
        print(
            f"{name:<9} median {median[name]:.2f} s = {speed[name]:.0f} MiB/s "
            f"(runs {runs} s; {ciphers[name]})"
        )
    ratio = speed["ftpush"] / speed["vsftpd"]
    print(f"ratio     ftpush/vsftpd throughput = {ratio:.2f} (goal >= 1.0)")


if __name__ == "__main__":
    main()
