"""The disk's sync floor: what one durable record costs on the disk the data directories live
on, measured the way an audit log would pay it, so that read figures can be reported as a
fraction of what durability allows.

Three patterns, each for a fixed time:
  prealloc   256 bytes written into a preallocated file, then fdatasync (no size change to
             journal: the cheapest durable record)
  append     256 bytes appended to a growing file, then fdatasync (what a WAL append pays)
  batch16    16 records of 256 bytes written into a preallocated file, then one fdatasync
             (a group commit of 16 requests)

Usage: python3 bench/syncfloor.py [DIR] [SECONDS]   (DIR defaults to $TMPDIR or /tmp)
"""

import os
import statistics
import sys
import tempfile
import time

RECORD = 256
SPACE = 64 * 1024 * 1024


def _timed(fd: int, seconds: float, step) -> list[float]:
    """Latencies of `step(i)` repeated for `seconds` (at least 50 times)."""
    lat = []
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end or i < 50:
        t0 = time.perf_counter()
        step(i)
        lat.append(time.perf_counter() - t0)
        i += 1
    return lat


def measure(directory: str, seconds: float = 2.0) -> dict[str, dict[str, float]]:
    """p50 and p99 latency (s) of one sync, syncs/s and records/s for each pattern."""
    out: dict[str, dict[str, float]] = {}
    record = os.urandom(RECORD)
    with tempfile.TemporaryDirectory(prefix="syncfloor-", dir=directory) as tmp:
        pre = os.open(os.path.join(tmp, "prealloc"), os.O_RDWR | os.O_CREAT, 0o600)
        os.posix_fallocate(pre, 0, SPACE)
        os.fsync(pre)
        try:
            def one(i):
                os.pwrite(pre, record, (i * RECORD) % SPACE)
                os.fdatasync(pre)

            def sixteen(i):
                os.pwrite(pre, record * 16, (i * RECORD * 16) % SPACE)
                os.fdatasync(pre)

            out["prealloc"] = _summary(_timed(pre, seconds, one), 1)
            out["batch16"] = _summary(_timed(pre, seconds, sixteen), 16)
        finally:
            os.close(pre)
        grow = os.open(os.path.join(tmp, "append"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            def append(_):
                os.write(grow, record)
                os.fdatasync(grow)

            out["append"] = _summary(_timed(grow, seconds, append), 1)
        finally:
            os.close(grow)
    return out


def _summary(lat: list[float], per_sync: int) -> dict[str, float]:
    lat.sort()
    p50 = statistics.median(lat)
    return {
        "p50": p50,
        "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))],
        "syncs_per_s": len(lat) / sum(lat),
        "records_per_s": per_sync * len(lat) / sum(lat),
    }


def table(floor: dict[str, dict[str, float]]) -> list[str]:
    """The floor as Markdown rows."""
    lines = ["| pattern | p50 per sync | p99 per sync | syncs/s | records/s |", "|---|---:|---:|---:|---:|"]
    for name in ("prealloc", "append", "batch16"):
        f = floor[name]
        lines.append(f"| {name} | {f['p50'] * 1000:.3f} ms | {f['p99'] * 1000:.3f} ms | "
                     f"{f['syncs_per_s']:,.0f} | {f['records_per_s']:,.0f} |")
    return lines


if __name__ == "__main__":
    where = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("TMPDIR", "/tmp")
    secs = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    print("\n".join(table(measure(where, secs))))
