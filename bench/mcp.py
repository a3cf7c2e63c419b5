#!/usr/bin/env python3
"""The driver behind bench/run-mcp: tool-call latency of clawvault's MCP surface, next to the
upstream called directly, in one run. Standard library only.

Workloads (wrk, keep-alive, each at every BENCH_CONCURRENCY):
  upstream      GET / on bench/ceiling directly: what an agent holding the key would pay
  list_secrets  POST /mcp tools/call list_secrets (50 secrets in the vault)
  http_request  POST /mcp tools/call http_request GET / on the same ceiling, the key filled in
                from a secret the agent may only use, the answer redacted
Every call is authenticated with the agent's key, checked against its policies, and audited
durably (mcp.tool_call plus the service's own event) before it answers. The server runs with
a configuration raising the per-agent tool-call budget, which would otherwise refuse a load
test after 120 calls; the report says so.
"""

from __future__ import annotations

import datetime
import http.client
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
LUA = BENCH_DIR / "mcp.lua"
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
REPS = int(os.environ.get("BENCH_REPS", "3"))
CONCURRENCY = [int(c) for c in os.environ.get("BENCH_CONCURRENCY", "1 16").split()]
CLAWVAULT_BIN = os.environ["CLAWVAULT_BIN"]
CEILING_BIN = os.environ["CEILING_BIN"]
LISTED = 50


def log(msg: str) -> None:
    print(f"[bench-mcp] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port: int, method: str, path: str, key: str, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    resp = conn.getresponse()
    text = resp.read()
    if not 200 <= resp.status < 300:
        raise SystemExit(f"{method} {path} answered {resp.status}: {text[:300]!r}")
    return json.loads(text) if text else None


def wait_http(port: int, path: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"a server exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"127.0.0.1:{port}{path} did not answer within {timeout:.0f} s")


def tool_call(name: str, arguments: dict) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                       "params": {"name": name, "arguments": arguments}})


def wrk(url: str, conc: int, env: dict, raw) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
    cmd = ["wrk", "-t", str(min(conc, 2)), "-c", str(conc), "-d", f"{DURATION}s", "--timeout", "5s",
           "--latency", "-s", str(LUA), url]
    done = subprocess.run(cmd, env=clean | env, capture_output=True, text=True, timeout=DURATION + 60)
    raw.write(f"==> {url} c={conc} {env.get('BENCH_BODY', 'GET')[:120]}\n{done.stdout}{done.stderr}\n")
    line = next((l for l in done.stdout.splitlines() if l.startswith("BENCH_RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed:\n{done.stdout}{done.stderr}")
    r = json.loads(line.removeprefix("BENCH_RESULT "))
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["errors"] = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"] + r["failed"]
    return r


def ms(us: float) -> str:
    return f"{us / 1000:.2f} ms"


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="clawvault-bench-mcp-"))
    procs = []
    try:
        ceiling_port, cv_port = free_port(), free_port()
        procs.append(subprocess.Popen([CEILING_BIN, f"127.0.0.1:{ceiling_port}"], stdout=subprocess.DEVNULL))
        wait_http(ceiling_port, "/", procs[-1])
        (tmp / "clawvault.toml").write_text(
            "# The benchmark measures calls, not the per-agent budget that would refuse them.\n"
            "mcp_tool_call_burst = 1000000\nmcp_tool_calls_per_second = 1000000.0\n")
        with open(tmp / "server.log", "wb") as err:
            procs.append(subprocess.Popen(
                [CLAWVAULT_BIN, "server", "--config", str(tmp / "clawvault.toml"), "--data-dir", str(tmp / "data"),
                 "--listen", f"127.0.0.1:{cv_port}", "--log", "warn"],
                stdout=subprocess.DEVNULL, stderr=err))
        wait_http(cv_port, "/v1/health", procs[-1])
        admin = (tmp / "data" / "admin-key").read_text().strip()
        vault = call(cv_port, "POST", "/v1/vaults", admin, {"name": "bench"})["id"]
        for i in range(LISTED):
            call(cv_port, "PUT", f"/v1/vaults/{vault}/secrets/bench/k{i:02}", admin, {"value": "v" * 32})
        call(cv_port, "PUT", f"/v1/vaults/{vault}/secrets/upstream/key", admin,
             {"value": "sk-bench-" + "k" * 40, "metadata": {"allowed_hosts": [f"127.0.0.1:{ceiling_port}"]}})
        made = call(cv_port, "POST", "/v1/agents", admin, {"name": "bench-agent", "vault_ids": [vault]})
        call(cv_port, "POST", f"/v1/vaults/{vault}/policies", admin, {
            "principal_type": "agent", "principal_id": made["agent"]["id"],
            "secret_path_pattern": "**", "permissions": ["use", "list"]})
        key = made["api_key"]
        workloads = [
            ("upstream", f"http://127.0.0.1:{ceiling_port}/", {}),
            ("list_secrets", f"http://127.0.0.1:{cv_port}/mcp",
             {"BENCH_BODY": tool_call("list_secrets", {}), "BENCH_AUTH_VALUE": key}),
            ("http_request", f"http://127.0.0.1:{cv_port}/mcp",
             {"BENCH_BODY": tool_call("http_request", {"url": f"http://127.0.0.1:{ceiling_port}/",
                                                       "headers": {"X-Key": "{{secret:upstream/key}}"}}),
              "BENCH_AUTH_VALUE": key}),
        ]
        results: dict[tuple[str, int], list[dict]] = {}
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        out_dir = BENCH_DIR / "results"
        out_dir.mkdir(exist_ok=True)
        with open(out_dir / f"mcp-{stamp}.wrk.log", "w") as raw:
            for rep in range(REPS):
                for name, url, env in workloads:
                    for conc in CONCURRENCY:
                        log(f"rep {rep + 1}/{REPS}: {name} c={conc}")
                        results.setdefault((name, conc), []).append(wrk(url, conc, env, raw))
        lines = [
            f"# clawvault MCP tool calls ({stamp})",
            "",
            f"- {os.cpu_count()} CPUs, Linux {platform.release()}; wrk {DURATION} s × {REPS} per cell, keep-alive",
            "- the per-agent tool-call budget raised for the run (mcp_tool_call_burst, mcp_tool_calls_per_second)",
            f"- list_secrets over {LISTED + 1} secrets; http_request: GET on bench/ceiling with a used key in a header",
            "",
            "| workload | c | req/s median (min–max) | p50 | p99 | failed |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name, _, _ in workloads:
            for conc in CONCURRENCY:
                runs = results[(name, conc)]
                rps = [r["rps"] for r in runs]
                lines.append(
                    f"| {name} | {conc} | {statistics.median(rps):,.0f} ({min(rps):,.0f}–{max(rps):,.0f}) | "
                    f"{ms(statistics.median(r['p50_us'] for r in runs))} | {ms(statistics.median(r['p99_us'] for r in runs))} | "
                    f"{sum(r['errors'] for r in runs)} |")
        for conc in CONCURRENCY:
            direct = statistics.median(r["p50_us"] for r in results[("upstream", conc)])
            relayed = statistics.median(r["p50_us"] for r in results[("http_request", conc)])
            lines.append("")
            lines.append(f"http_request overhead over calling the upstream directly at c={conc}: "
                         f"{ms(relayed - direct)} at p50")
        report = "\n".join(lines) + "\n"
        (out_dir / f"mcp-{stamp}.md").write_text(report)
        print(report)
        failed = sum(r["errors"] for runs in results.values() for r in runs)
        return 1 if failed else 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
