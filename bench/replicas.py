#!/usr/bin/env python3
"""The driver behind bench/run-replicas: clawvault on SQLite (one server) next to clawvault on
PostgreSQL with one replica and with three, same workloads, same run. Run it through
bench/run-replicas, which builds the binary and passes its path in the environment.

With three replicas the load is split evenly: one wrk per replica, each with a third of the
connections, all at once; req/s is their sum and p99 the worst of the three. Everything (the
replicas, PostgreSQL and wrk) shares this machine's CPUs, so the three-replica rows show what
coordination through one database costs, not what more machines would add.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

# harness.py reads the paths of the servers it compares at import; only clawvault runs here.
os.environ.setdefault("CEILING_BIN", "")
os.environ.setdefault("BAO_BIN", "")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from harness import BenchError, Clawvault, Run, fmt_lat, log, median_rps, ms, ratio, settle  # noqa: E402

WORKLOADS = harness.WORKLOADS
CONCURRENCY = [int(c) for c in os.environ.get("BENCH_CONCURRENCY", "16 64").split()]
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
# Connections per replica (empty: the server's default, 10).
PG_CONNECTIONS = os.environ.get("BENCH_PG_CONNECTIONS", "")


def psql(sql: str) -> None:
    subprocess.run(["psql", PG_ADMIN_URL, "-qc", sql], check=True, capture_output=True)


class Replica(Clawvault):
    """clawvault with optional extra server arguments (storage, root key file)."""

    extra: list[str]

    def command(self) -> list[str]:
        return super().command() + self.extra

    def write_config(self) -> None:
        super().write_config()
        if PG_CONNECTIONS:
            with open(self.workdir / "clawvault.toml", "a") as f:
                f.write(f"database_max_connections = {PG_CONNECTIONS}\n")

    def start(self) -> None:
        self.port = harness.free_port()
        self.write_config()
        self.startup["first"] = self.health(self.spawn())


def start_setup(name: str, tmp: Path, replicas: int, database_url: str | None) -> list[Replica]:
    servers = []
    for i in range(replicas):
        s = Replica(f"{name}-{i}", tmp / f"{name}-{i}")
        s.extra = []
        if database_url:
            s.extra = ["--storage", "postgres"]
            if i > 0:
                s.extra += ["--root-key-file", str(servers[0].workdir / "data" / "root.key")]
        s.start()
        servers.append(s)
    for s in servers:
        key_file = servers[0].workdir / "data" / "admin-key"
        (s.workdir / "data").mkdir(parents=True, exist_ok=True)
        if s is not servers[0]:
            (s.workdir / "data" / "admin-key").write_text(key_file.read_text())
        s.login()
    log(f"{name}: {replicas} up; preloading {harness.SECRETS:,} secrets through the first")
    servers[0].preload()
    return servers


def load(servers: list[Replica], workload: str, conc: int, raw_log) -> Run:
    """One cell: the connections split over the replicas, one wrk each, all at once."""
    settle(servers)
    shares = [conc // len(servers) + (1 if i < conc % len(servers) else 0) for i in range(len(servers))]
    with concurrent.futures.ThreadPoolExecutor(len(servers)) as pool:
        runs = list(pool.map(lambda sc: harness.wrk(sc[0], workload, sc[1], raw_log), zip(servers, shares)))
    return Run(
        sum(r.rps for r in runs),
        max(r.p50_us for r in runs),
        max(r.p99_us for r in runs),
        sum(r.errors for r in runs),
        sum(r.peak_kib for r in runs),
    )


def main() -> int:
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    out_dir = harness.BENCH_DIR / "results"
    out_dir.mkdir(exist_ok=True)
    raw_log = open(out_dir / f"replicas-{started}.wrk.log", "w")
    db = f"clawvault_bench_{uuid.uuid4().hex[:12]}"
    setups = [("sqlite", 1, False), ("postgres", 1, True), ("postgres", 3, True)]
    results: dict[tuple[str, int], dict[tuple[str, int], list[Run]]] = {}
    load_before = harness.loadavg()
    with tempfile.TemporaryDirectory(prefix="clawvault-replicas-", dir=harness.TMP_PARENT) as tmp:
        tmp = Path(tmp)
        for storage, n, on_pg in setups:
            url = None
            if on_pg:
                psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
                psql(f"CREATE DATABASE {db}")
                url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + db
                os.environ["CLAWVAULT_DATABASE_URL"] = url
            servers = start_setup(f"{storage}{n}", tmp, n, url)
            try:
                cells = results.setdefault((storage, n), {})
                for _rep in range(harness.REPS):
                    for workload, _ in WORKLOADS:
                        for conc in CONCURRENCY:
                            log(f"{storage} ×{n}: {workload} c={conc}")
                            cells.setdefault((workload, conc), []).append(load(servers, workload, conc, raw_log))
            finally:
                for s in servers:
                    s.stop()
                os.environ.pop("CLAWVAULT_DATABASE_URL", None)
        psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    report = render(started, results, load_before, harness.loadavg())
    (out_dir / f"replicas-{started}.md").write_text(report)
    print(report)
    return 0


def render(started: str, results, load_before: str, load_after: str) -> str:
    pg_version = subprocess.run(["psql", PG_ADMIN_URL, "-Atc", "SHOW server_version"],
                                capture_output=True, text=True).stdout.strip()
    lines = [
        f"# clawvault on SQLite and on PostgreSQL, one replica and three ({started} UTC)",
        "",
        f"{harness.DURATION} s per cell, {harness.REPS} repetition(s), {harness.SECRETS:,} secrets, "
        f"PostgreSQL {pg_version} on this machine; load average {load_before} before, {load_after} after.",
        "req/s: median over repetitions; p99: median of the repetitions' p99 (worst replica).",
        "",
        "| workload | c | SQLite ×1 | PostgreSQL ×1 | PostgreSQL ×3 | PG×1 / SQLite | PG×3 / PG×1 | p99 SQLite | p99 PG×1 | p99 PG×3 | errors |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for workload, _ in WORKLOADS:
        for conc in CONCURRENCY:
            cell = {k: v[(workload, conc)] for k, v in results.items()}
            sq, p1, p3 = cell[("sqlite", 1)], cell[("postgres", 1)], cell[("postgres", 3)]
            p99 = [fmt_lat(sorted(r.p99_us for r in runs)[len(runs) // 2]) for runs in (sq, p1, p3)]
            errors = sum(r.errors for runs in (sq, p1, p3) for r in runs)
            lines.append(
                f"| {workload} | {conc} | {median_rps(sq):,.0f} | {median_rps(p1):,.0f} | {median_rps(p3):,.0f} "
                f"| {ratio(median_rps(p1), median_rps(sq))} | {ratio(median_rps(p3), median_rps(p1))} "
                f"| {p99[0]} | {p99[1]} | {p99[2]} | {errors} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        log(f"failed: {e}")
        sys.exit(1)
