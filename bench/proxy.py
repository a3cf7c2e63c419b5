#!/usr/bin/env python3
"""The driver behind bench/run-proxy: what the credential-injecting proxy adds to a call.

The upstream is bench/ceiling (a minimal HTTP server answering a fixed 200-byte JSON), called
directly and through clawvault's /proxy/bench route in the same run, interleaved:
  direct    GET / on the ceiling
  proxied   GET /proxy/bench/ on clawvault with the agent's cached token: authentication,
            `use` on the route's secret, its value opened and injected as Authorization,
            forwarded over a pooled connection, the answer scrubbed as it streams, the call
            counted against the agent's budget and audited (one proxy.call event, batched)
at every BENCH_CONCURRENCY (1 16 64). Reported: req/s, p50/p99, the latency the proxy adds
(proxied minus direct) and clawvault's CPU time per 1,000 proxied calls.
"""

from __future__ import annotations

import datetime
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
os.environ.setdefault("BAO_BIN", "")  # the harness names OpenBao; this run has none

import harness  # noqa: E402
from harness import BenchError, Ceiling, Clawvault, cpu_ticks, fmt_lat, fmt_rps, log, median_rps, request, settle  # noqa: E402

ROUTE = "bench"


class Target:
    """What wrk loads: a server's port with the agent's credential (or none)."""

    def __init__(self, server, env: dict[str, str]):
        self.server, self.name, self.port, self.env = server, server.name, server.port, env

    @property
    def pid(self) -> int:
        return self.server.pid

    def check_alive(self) -> None:
        self.server.check_alive()

    def load_env(self, workload: str) -> dict[str, str]:
        return self.env


def make_route(cv: Clawvault, upstream_port: int) -> None:
    body = {"name": ROUTE, "vault": "default", "upstream": f"http://127.0.0.1:{upstream_port}",
            "inject": [{"in": "header", "name": "Authorization", "value": "Bearer {{secret:bench/k00000}}"}]}
    status, answer = request(cv.port, "POST", "/v1/proxy/routes", cv.headers(), body)
    if status != 201:
        raise BenchError(f"clawvault: making the route answered {status}: {answer}")
    status, answer = request(cv.port, "GET", f"/proxy/{ROUTE}/", dict([cv.agent_auth]))
    if status != 200:
        raise BenchError(f"clawvault: a call through the route answered {status}: {answer}")


def main() -> int:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    tmp = Path(tempfile.mkdtemp(prefix="clawvault-bench-proxy-", dir=harness.TMP_PARENT))
    results_dir = BENCH_DIR / "results"
    results_dir.mkdir(exist_ok=True)
    raw_log = open(results_dir / f"proxy-{stamp}.wrk.log", "w")
    cv, ceil = Clawvault("clawvault", tmp / "clawvault"), Ceiling("ceiling", tmp / "ceiling")
    results: dict[tuple[str, int], list] = {}
    cpu: dict[int, list[float]] = {}
    tick_s = 1 / os.sysconf("SC_CLK_TCK")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    keep = harness.KEEP
    try:
        cv.setup()
        ceil.setup()
        make_route(cv, ceil.port)
        header, value = cv.agent_auth
        targets = {
            "direct": (Target(ceil, {}), "/"),
            "proxied": (Target(cv, {"BENCH_AUTH_HEADER": header, "BENCH_AUTH_VALUE": value}), f"/proxy/{ROUTE}/"),
        }
        cells = [(w, c) for w in targets for c in harness.CONCURRENCY]
        total = len(cells) * harness.REPS
        log(f"{total} runs of {harness.DURATION} s")
        n = 0
        for rep in range(harness.REPS):
            for workload, c in (cells if rep % 2 == 0 else cells[::-1]):
                n += 1
                settle([cv, ceil])
                target, path = targets[workload]
                before = cpu_ticks(cv.pid)
                run = harness.wrk(target, workload, c, raw_log, path)
                used = (cpu_ticks(cv.pid) - before) * tick_s
                results.setdefault((workload, c), []).append(run)
                if workload == "proxied":
                    cpu.setdefault(c, []).append(used / (run.rps * harness.DURATION) * 1000 * 1000)
                log(f"[{n}/{total}] {workload:8} c={c:<3} {run.rps:9,.0f} req/s  p50 {fmt_lat(run.p50_us)}  "
                    f"p99 {fmt_lat(run.p99_us)}  errors {run.errors}")
    except BenchError as e:
        log(f"failed: {e}; server logs kept in {tmp}")
        keep = True
        return 1
    finally:
        for s in (cv, ceil):
            s.stop()
        raw_log.close()
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)

    def mid(xs):
        return sorted(xs)[len(xs) // 2]

    lines = [f"# The credential-injecting proxy next to calling its upstream directly ({stamp})", "",
             f"- {harness.REPS} × {harness.DURATION} s per cell, wrk keep-alive, the agent's cached token",
             "- upstream: bench/ceiling (fixed 200-byte JSON); every proxied call injected, scrubbed, "
             "counted against the agent's budget and audited", "",
             "| c | direct req/s | proxied req/s | direct p50 / p99 | proxied p50 / p99 | added p50 / p99 | "
             "clawvault CPU per 1,000 calls | errors |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for c in harness.CONCURRENCY:
        d, p = results[("direct", c)], results[("proxied", c)]
        d50, d99 = mid([r.p50_us for r in d]), mid([r.p99_us for r in d])
        p50, p99 = mid([r.p50_us for r in p]), mid([r.p99_us for r in p])
        lines.append(
            f"| {c} | {fmt_rps(d)} | {fmt_rps(p)} | {fmt_lat(d50)} / {fmt_lat(d99)} | {fmt_lat(p50)} / {fmt_lat(p99)} | "
            f"{(p50 - d50) / 1000:.3f} ms / {(p99 - d99) / 1000:.3f} ms | {mid(cpu[c]):.0f} ms | "
            f"{sum(r.errors for r in d + p)} |")
    lines += ["", f"Proxied throughput as a share of direct: " + ", ".join(
        f"c={c} {median_rps(results[('proxied', c)]) / median_rps(results[('direct', c)]):.2f}" for c in harness.CONCURRENCY)]
    text = "\n".join(lines) + "\n"
    (results_dir / f"proxy-{stamp}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
