"""A push file from upload complete to the last message sent, and the first push's delay.

Issue 5: "the 100,000-row file timed from upload complete to last message sent, broken
down into parse, ledger writes and sending. First push handed to the provider within
1 s of the upload completing (p50)."

The world is the crash tests' (``tests/integration/pipeline/harness.py``): one app whose
iOS and Android pushes go to the Node push peer through the APNs and FCM providers,
N users with two devices each, and a running ``ftpush worker`` (2 threads, warm and
idle, as in production). A file is handed to the spool as an upload's last byte
would be (``Spool.receive``); the clock starts there. The peer stamps the first and
last delivery with its own clock (same machine).

* **parse** — the formats parser alone over the same file, in this process (baseline
  of the breakdown);
* **ledger writes** — the worker's processing time (started → finished of the import:
  parse, user/device resolution, campaign lines, messages, inbox) minus parse;
* **sending** — first to last delivery seen by the peer;
* **total** — upload complete → last delivery, and → campaign marked done;
* **first push** — upload complete → first delivery, p50 over the big file and
  ``--probes`` small files dropped into the idle worker one after another.

Usage: ``.venv/bin/python bench/push_pipeline.py [--lines 100000] [--probes 9]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.pipeline.harness import World, wait_until
from tests.peers.push_peer import PushPeer, running_push_peer

from ftpush.formats.push_csv import parse_push_batches
from ftpush.pipeline.imports import read_chunks
from ftpush.storage.tables import ImportFile


def parse_seconds(path: Path) -> float:
    started = time.perf_counter()
    for batch in parse_push_batches(read_chunks(path)):
        for _ in batch:
            pass
    return time.perf_counter() - started


def run_file(world: World, peer: PushPeer, path: Path, messages: int) -> dict[str, float]:
    peer.reset()
    started = time.time()
    import_id = world.drop(path)
    wait_until(lambda: peer.stats()["deliveries"] >= messages, 1800, "the last delivery", 0.05)
    stats = peer.stats()
    with world.db.transaction() as s:
        row = s.get(ImportFile, import_id)
        assert row is not None
        assert row.started_at is not None
        assert row.finished_at is not None
        processing = (row.finished_at - row.started_at).total_seconds()
    return {
        "first": stats["firstDeliveryAt"] / 1000 - started,
        "last": stats["lastDeliveryAt"] / 1000 - started,
        "sending": (stats["lastDeliveryAt"] - stats["firstDeliveryAt"]) / 1000,
        "processing": processing,
        "deliveries": stats["deliveries"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--probes", type=int, default=9, help="small files for first-push p50")
    parser.add_argument("--threads", type=int, default=2, help="worker threads")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp, running_push_peer() as peer:
        root = Path(tmp)
        world = World(root, peer)
        try:
            t = time.perf_counter()
            world.seed(args.lines, devices_per_user=2)
            print(f"seeded {args.lines} users × 2 devices in {time.perf_counter() - t:.1f} s")
            big = world.push_file(args.lines)
            parse = min(parse_seconds(big) for _ in range(2))
            worker = world.start_worker(threads=args.threads)
            time.sleep(3)  # started and idle, as in production
            big_run = run_file(world, peer, big, 2 * args.lines)
            firsts = [big_run["first"]]
            for probe in range(args.probes):
                time.sleep(1.0)  # idle again between files
                small = world.push_file(100, name=f"probe-{probe}.csv")
                text = small.read_text().replace("Hello", f"Probe {probe}:")
                small.write_text(text)
                firsts.append(run_file(world, peer, small, 200)["first"])
            world.stop(worker)
        finally:
            world.close()
    ledger = big_run["processing"] - parse
    print(f"\n{args.lines:,} lines → {int(big_run['deliveries']):,} messages (2 devices per user)")
    print(f"  parse (parser alone, same file)     {parse:7.2f} s")
    print(f"  processing in the worker            {big_run['processing']:7.2f} s")
    print(f"    of which ledger writes            {ledger:7.2f} s")
    print(f"  sending (first → last delivery)     {big_run['sending']:7.2f} s"
          f"   ({big_run['deliveries'] / big_run['sending']:,.0f} msg/s)")  # fmt: skip
    print(f"  upload complete → last delivery     {big_run['last']:7.2f} s")
    print(f"  upload complete → first delivery    {big_run['first']:7.2f} s (this file)")
    print(
        f"\nfirst push after upload complete, {len(firsts)} files: p50 "
        f"{statistics.median(firsts):.3f} s, min {min(firsts):.3f} s, max {max(firsts):.3f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
