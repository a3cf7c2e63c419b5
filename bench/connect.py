#!/usr/bin/env python3
"""The driver behind bench/run-connect: what the Connect-compatible API costs over the native
API on the same server, with OpenBao's KV v2 read in the same run as the peer's reference
(1Password Connect itself ships only as a container image, which this machine cannot run).

Workloads (wrk, keep-alive, one hot secret, an agent's cached token, at every
BENCH_CONCURRENCY, servers interleaved):
  native-read     GET /v1/vaults/default/secrets/bench/k00000 (native API)
  connect-item    GET /v1/vaults/{vault}/items/{item} (Connect, by id: ESO's second request)
  connect-title   GET /v1/vaults/{vault}/items?filter=title eq "bench/k00000" (ESO's first)
  openbao-kv      GET /v1/kv/data/bench/k00000 on OpenBao 2.7 (raft, file audit device)
Every clawvault request is audited durably, as in bench/run.
"""

from __future__ import annotations

import datetime
import shutil
import signal
import sys
import tempfile
import urllib.parse
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import harness  # noqa: E402
from harness import BenchError, Clawvault, OpenBao, fmt_lat, fmt_rps, free_port, log, median_rps, ratio, request, settle  # noqa: E402

HOT = "bench/k00000"
WORKLOADS = [
    ("native-read", "native API read"),
    ("connect-item", "Connect item by id"),
    ("connect-title", "Connect items by title"),
    ("openbao-kv", "OpenBao KV v2 read"),
]


class ConnectClawvault(Clawvault):
    connect_port: int = 0
    paths: dict[str, str] | None = None

    def command(self) -> list[str]:
        if not self.connect_port:
            self.connect_port = free_port()
        return [*super().command(), "--connect-listen", f"127.0.0.1:{self.connect_port}"]

    def setup_connect(self) -> None:
        """Lets the bench agent list bench/** (finding an item by title needs it) and finds
        the hot secret's Connect ids."""
        status, body = request(self.port, "GET", "/v1/agents", self.headers())
        agent = next(a for a in (body.get("agents") or body) if a["name"] == "bench-agent")
        status, body = request(self.port, "POST", "/v1/vaults/default/policies", self.headers(),
                               {"principal_type": "agent", "principal_id": agent["id"],
                                "secret_path_pattern": "bench/**", "permissions": ["list"]})
        if status != 201:
            raise BenchError(f"clawvault: granting the agent list answered {status}: {body}")
        auth = dict([self.agent_auth])
        query = "?" + urllib.parse.urlencode({"filter": 'title eq "default"'}, quote_via=urllib.parse.quote)
        status, vaults = request(self.connect_port, "GET", f"/v1/vaults{query}", auth)
        if status != 200 or len(vaults) != 1:
            raise BenchError(f"clawvault: Connect vault lookup answered {status}: {vaults}")
        vid = vaults[0]["id"]
        title = "?" + urllib.parse.urlencode({"filter": f'title eq "{HOT}"'}, quote_via=urllib.parse.quote)
        status, items = request(self.connect_port, "GET", f"/v1/vaults/{vid}/items{title}", auth)
        if status != 200 or len(items) != 1:
            raise BenchError(f"clawvault: Connect item lookup answered {status}: {items}")
        self.paths = {"connect-item": f"/v1/vaults/{vid}/items/{items[0]['id']}",
                      "connect-title": f"/v1/vaults/{vid}/items{title}"}
        status, item = request(self.connect_port, "GET", self.paths["connect-item"], auth)
        if status != 200 or item["fields"][0]["value"] != harness.VALUE:
            raise BenchError(f"clawvault: the Connect item does not read: {status} {item}")


class Surface:
    """One listener of a server, as harness.wrk sees a server."""

    def __init__(self, server, name: str, port: int, env: dict[str, str]):
        self.server, self.name, self.port, self.env = server, name, port, env

    @property
    def pid(self) -> int:
        return self.server.pid

    def check_alive(self) -> None:
        self.server.check_alive()

    def load_env(self, workload: str) -> dict[str, str]:
        return self.env


def main() -> int:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    tmp = Path(tempfile.mkdtemp(prefix="clawvault-bench-connect-", dir=harness.TMP_PARENT))
    results_dir = BENCH_DIR / "results"
    results_dir.mkdir(exist_ok=True)
    raw_log = open(results_dir / f"connect-{stamp}.wrk.log", "w")
    cv, bao = ConnectClawvault("clawvault", tmp / "clawvault"), OpenBao("openbao", tmp / "openbao")
    results: dict[tuple[str, int], list] = {}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    keep = harness.KEEP
    try:
        for s in (cv, bao):
            s.setup()
        cv.setup_connect()
        header, value = cv.agent_auth
        agent = {"BENCH_AUTH_HEADER": header, "BENCH_AUTH_VALUE": value}
        targets = {
            "native-read": (Surface(cv, "clawvault", cv.port, {**agent, "BENCH_PREFIX": cv.PREFIX}), "/"),
            "connect-item": (Surface(cv, "clawvault", cv.connect_port, agent), cv.paths["connect-item"]),
            "connect-title": (Surface(cv, "clawvault", cv.connect_port, agent), cv.paths["connect-title"]),
            "openbao-kv": (Surface(bao, "openbao", bao.port, bao.load_env("read-hot")), "/"),
        }
        cells = [(w, c) for w, _ in WORKLOADS for c in harness.CONCURRENCY]
        total = len(cells) * harness.REPS
        log(f"{total} runs of {harness.DURATION} s")
        n = 0
        for rep in range(harness.REPS):
            for workload, c in (cells if rep % 2 == 0 else cells[::-1]):
                n += 1
                settle([cv, bao])
                surface, path = targets[workload]
                run = harness.wrk(surface, workload, c, raw_log, path)
                results.setdefault((workload, c), []).append(run)
                log(f"[{n}/{total}] {workload:14} c={c:<3} {run.rps:9,.0f} req/s  p99 {fmt_lat(run.p99_us)}  "
                    f"errors {run.errors}")
    except BenchError as e:
        log(f"failed: {e}; server logs kept in {tmp}")
        keep = True
        return 1
    finally:
        for s in (cv, bao):
            s.stop()
        raw_log.close()
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    lines = [f"# The Connect-compatible API next to the native API and OpenBao ({stamp})", "",
             f"- {harness.REPS} × {harness.DURATION} s per cell, one hot secret, an agent's cached token, wrk keep-alive",
             "- every clawvault request audited durably; OpenBao 2.7 (raft) with a file audit device", "",
             "| workload | c | req/s | p50 / p99 | vs native read | vs OpenBao KV read | errors |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for workload, label in WORKLOADS:
        for c in harness.CONCURRENCY:
            runs = results[(workload, c)]
            mid = len(runs) // 2
            lat = (f"{fmt_lat(sorted(r.p50_us for r in runs)[mid])} / "
                   f"{fmt_lat(sorted(r.p99_us for r in runs)[mid])}")
            rps = median_rps(runs)
            lines.append(f"| {label} | {c} | {fmt_rps(runs)} | {lat} | "
                         f"{ratio(rps, median_rps(results[('native-read', c)]))} | "
                         f"{ratio(rps, median_rps(results[('openbao-kv', c)]))} | {sum(r.errors for r in runs)} |")
    text = "\n".join(lines) + "\n"
    (results_dir / f"connect-{stamp}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
