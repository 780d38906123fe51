"""Parse+validate speed of the file-format parsers against ``csv.reader``, and their memory.

For a generated push file and a profile file with five typed attributes
(string, integer, number, boolean, date), both written by our own writers into
a temporary folder, this prints:

* our time to parse and validate every line (``parse_push`` / ``parse_profile``,
  rows and errors consumed and dropped) against ``csv.reader`` splitting the same
  file (delimiter ``;`` / ``~``, text mode, UTF-8) and doing nothing else, as the
  ratio csv_time / our_time (goal: >= 0.5). Rounds alternate csv/ours and the best
  CPU time of each is kept, so a busy neighbour on a shared machine hurts both alike.
* peak RSS (``ru_maxrss``) of a fresh subprocess that only imports ftpush and parses
  the file, at each ``--rss-lines`` size: flat for a streaming parser. Push files
  are measured with the default in-memory duplicate index (8 bytes per distinct
  ExternalID, by design) and without it (``check_duplicates=False``, what a caller
  that keeps ExternalIDs elsewhere passes).

The parsers run with the C accelerator when it is built (decision 0105);
``--pure-python`` measures the pure-Python implementation instead (also in the
RSS subprocesses).

Run::

    .venv/bin/python bench/formats.py                     # 1M lines, RSS at 1M and 10M
    .venv/bin/python bench/formats.py --lines 200000 --rss-lines 100000,1000000
    .venv/bin/python bench/formats.py --pure-python --rss-lines ""

The generated files (about 1.3 GB at 10M lines) are deleted at the end.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ftpush.formats import (
    UNCHANGED,
    LineError,
    ProfileRow,
    _accel,
    parse_profile,
    parse_push,
    write_profile_txt,
    write_push_csv,
)
from ftpush.models import AttributeType

ATTRIBUTES = {
    "tier": AttributeType.STRING,
    "age": AttributeType.INTEGER,
    "score": AttributeType.NUMBER,
    "subscribed": AttributeType.BOOLEAN,
    "birthday": AttributeType.DATE,
}
CHUNK = 1 << 20
PROFILE_BASE = 1_000_000
TIERS = ("gold", "silver", "bronze", "platinum")


def push_rows(count: int) -> Iterator[tuple[str, str, str | None]]:
    """Realistic push lines: numeric IDs, texts of 40-90 characters, most with a deeplink."""
    for i in range(count):
        text = f"Hello user {i}, {TIERS[i % 4]} offers are waiting; open the app!"
        if i % 7 == 0:
            text += "\\nTap to see more."
        link = None if i % 10 == 0 else f"https://example.com/offers/{i % 1000}?u={i}"
        yield str(10_000_000 + i), text, link


def profile_rows(count: int) -> Iterator[ProfileRow]:
    """Profile lines: an e-mail on two thirds, a token on half, five typed attributes."""
    for i in range(count):
        yield ProfileRow(
            0,
            str(10_000_000 + i),
            f"user{i}@example.com" if i % 3 else UNCHANGED,
            f"fcm-{i:x}:APA91b" if i % 2 else None,
            UNCHANGED,
            {
                "tier": TIERS[i % 4],
                "age": 18 + i % 60,
                "score": (i % 1000) / 8,
                "subscribed": bool(i % 2),
                "birthday": dt.date(1960 + i % 45, 1 + i % 12, 1 + i % 28),
            },
        )


def generate(kind: str, path: Path, count: int) -> None:
    """Write ``count`` data lines with our writers.

    Push lines all get their own ExternalID. A big profile file repeats the
    first million lines (a profile file may name a user twice), because the
    profile writer is slow (~20 µs a line) and the parser does not care.
    """
    lines: Iterator[str]
    if kind == "push":
        lines = write_push_csv(push_rows(count), header=True)
    else:
        lines = write_profile_txt(profile_rows(min(count, PROFILE_BASE)), ATTRIBUTES)
    _write(path, lines)
    if kind == "profile" and count > PROFILE_BASE:
        body = path.read_text(encoding="utf-8").split("\n", 1)[1]
        with path.open("a", encoding="utf-8", newline="") as handle:
            written = PROFILE_BASE
            while written + PROFILE_BASE <= count:
                handle.write(body)
                written += PROFILE_BASE
            handle.write("".join(body.splitlines(keepends=True)[: count - written]))


def _write(path: Path, lines: Iterator[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        batch: list[str] = []
        for line in lines:
            batch.append(line)
            if len(batch) == 10_000:
                handle.write("".join(batch))
                batch.clear()
        handle.write("".join(batch))


def chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            yield block


def ours(kind: str, path: Path, *, check_duplicates: bool = True) -> int:
    """Parse the whole file; the number of rows and line errors (like csv, one per line)."""
    count = 0
    items = (
        parse_push(
            chunks(path),
            check_duplicates=check_duplicates,
            expected_lines=path.stat().st_size // 96,
        )
        if kind == "push"
        else parse_profile(chunks(path), ATTRIBUTES)
    )
    for _item in items:
        count += 1
    return count


def rejected(kind: str, path: Path) -> int:
    items = parse_push(chunks(path)) if kind == "push" else parse_profile(chunks(path), ATTRIBUTES)
    return sum(1 for item in items if isinstance(item, LineError))


def with_csv(kind: str, path: Path) -> int:
    count = 0
    with path.open(encoding="utf-8", newline="") as handle:
        for _row in csv.reader(handle, delimiter=";" if kind == "push" else "~"):
            count += 1
    return count


def cpu_time(fn: Callable[[], object]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def compare(kind: str, path: Path, rounds: int) -> dict[str, float]:
    errors = rejected(kind, path)  # warm up, and check the file is what we think
    assert errors == 0, f"{errors} rejected lines in the generated {kind} file"
    rows = ours(kind, path)
    times: dict[str, list[float]] = {"csv": [], "ours": []}
    for _ in range(rounds):
        times["csv"].append(cpu_time(lambda: with_csv(kind, path)))
        times["ours"].append(cpu_time(lambda: ours(kind, path)))
    best = {name: min(values) for name, values in times.items()}
    return {"rows": rows, **best, "ratio": best["csv"] / best["ours"]}


def peak_rss_kib(kind: str, path: Path, *, check_duplicates: bool = True) -> int:
    """ru_maxrss of a fresh interpreter parsing ``path`` (KiB on Linux)."""
    args = [sys.executable, __file__, "--child", kind, str(path)]
    if not check_duplicates:
        args.append("--no-duplicates")
    if _accel.speedups is None:
        args.append("--pure-python")
    out = subprocess.run(args, check=True, capture_output=True, text=True)
    return int(out.stdout.strip())


def child(kind: str, path: Path, check_duplicates: bool) -> None:
    if path.name != "-":  # "-": the baseline, the interpreter and imports only
        ours(kind, path, check_duplicates=check_duplicates)
    print(_peak_rss_kib())


def _peak_rss_kib() -> int:
    # VmHWM belongs to this address space; ru_maxrss survives exec on Linux and would
    # report the parent's size at fork time.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rss-lines", default="1000000,10000000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--pure-python", action="store_true", help="measure without the C accelerator"
    )
    parser.add_argument("--child", nargs=2, metavar=("KIND", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--no-duplicates", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pure_python:
        _accel.use_compiled(False)
    if args.child:
        child(args.child[0], Path(args.child[1]), not args.no_duplicates)
        return

    implementation = "C accelerator" if _accel.speedups is not None else "pure Python"
    print(
        f"# {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, parsers: {implementation}"
    )
    rss_sizes = [int(n) for n in args.rss_lines.split(",") if n]
    with tempfile.TemporaryDirectory(prefix="ftpush-bench-") as tmp:
        folder = Path(tmp)
        for kind in ("push", "profile"):
            path = folder / f"{kind}-{args.lines}.{'csv' if kind == 'push' else 'txt'}"
            generate(kind, path, args.lines)
            result = compare(kind, path, args.rounds)
            size = path.stat().st_size / 1e6
            print(
                f"{kind:7} {result['rows']:>10,} lines {size:7.1f} MB   csv.reader "
                f"{result['csv']:6.2f} s   ours {result['ours']:6.2f} s   "
                f"ratio {result['ratio']:.2f}   ({result['rows'] / result['ours']:,.0f} lines/s)"
            )
            path.unlink()
        base = peak_rss_kib("push", Path("-"))
        print(f"peak RSS, interpreter and imports only: {base / 1024:.0f} MiB")
        for kind in ("push", "profile"):
            for count in rss_sizes:
                path = folder / f"{kind}-{count}.{'csv' if kind == 'push' else 'txt'}"
                generate(kind, path, count)
                figures = [f"{peak_rss_kib(kind, path) / 1024:6.0f} MiB"]
                if kind == "push":
                    no_index = peak_rss_kib(kind, path, check_duplicates=False) / 1024
                    figures.append(f"without the duplicate index {no_index:6.0f} MiB")
                print(f"peak RSS {kind:7} {count:>11,} lines: " + "   ".join(figures))
                path.unlink()


if __name__ == "__main__":
    main()
