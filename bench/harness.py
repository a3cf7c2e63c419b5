#!/usr/bin/env python3
"""The driver behind bench/run: starts clawvault, OpenBao and the ceiling side by side, loads
each with wrk and writes one Markdown report. Run it through bench/run, which builds the
binaries, installs OpenBao and passes their paths in the environment.

Standard library only, so the benchmark needs nothing beyond Python, wrk and the binaries.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import http.client
import json
import math
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import syncfloor

BENCH_DIR = Path(__file__).resolve().parent
LUA = BENCH_DIR / "load.lua"

DURATION = int(os.environ.get("BENCH_DURATION", "10"))
REPS = int(os.environ.get("BENCH_REPS", "3"))
CONCURRENCY = [int(c) for c in os.environ.get("BENCH_CONCURRENCY", "1 16 64").split()]
SECRETS = int(os.environ.get("BENCH_SECRETS", "10000"))
PRELOAD_CLIENTS = int(os.environ.get("BENCH_PRELOAD_CLIENTS", "16"))
KEEP = os.environ.get("BENCH_KEEP", "") not in ("", "0")
TMP_PARENT = os.environ.get("BENCH_TMPDIR") or None

CLAWVAULT_BIN = os.environ["CLAWVAULT_BIN"]
CEILING_BIN = os.environ["CEILING_BIN"]
BAO_BIN = os.environ["BAO_BIN"]

# Same size for every server, so response and request bodies do not favour one of them.
VALUE = "v" * 32
WORKLOADS = [
    ("read-hot", "read, one hot key"),
    ("read-random", f"read, random key of {SECRETS:,}"),
    ("write", "write (new version of a random key)"),
]
# clawvault only: read-hot again, authenticated as an agent (policy-authorised) instead of the
# admin. Its token is verified once and then served from the token cache.
AGENT_WORKLOAD = ("read-hot-agent", "read, one hot key, agent token (cached)")
# Fresh agent tokens whose first and second requests are timed (the first-use measurement).
FIRST_USE_TOKENS = 300
# The target tracked in the report: the cached agent path within 10% of the admin path.
AGENT_TOLERANCE = 0.10


class BenchError(Exception):
    pass


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    # Choosing the port up front lets the cold-start clock poll from the moment of spawn
    # instead of waiting for the server to announce its address.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, method: str, path: str, headers: dict | None = None, body=None, timeout=30.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        hdrs = dict(headers or {})
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return resp.status, parsed
    finally:
        conn.close()


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM in KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(rest.split()[0])
    return out


def cpu_ticks(pid: int) -> int:
    """User plus system CPU time of a process, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        # The command name (field 2) may hold spaces; the fields after its ')' are fixed.
        fields = f.read().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])


def settle(servers: list[Server], timeout: float = 15.0) -> float:
    """Waits until no server is still busy with the previous cell (Go's GC, raft, audit
    flushes, index catch-up): under 10 ms of CPU per 250 ms across all of them. Without this,
    whichever cell follows a busy server pays for its leftovers. Returns the seconds waited."""
    t0 = time.monotonic()
    pids = [s.pid for s in servers]
    before = sum(cpu_ticks(p) for p in pids)
    tick_s = 1 / os.sysconf("SC_CLK_TCK")
    while time.monotonic() - t0 < timeout:
        time.sleep(0.25)
        now = sum(cpu_ticks(p) for p in pids)
        if (now - before) * tick_s <= 0.010:
            break
        before = now
    return time.monotonic() - t0


def reset_peak_rss(pid: int) -> None:
    # Writing 5 to clear_refs resets VmHWM (Linux >= 4.0), so each workload gets its own peak
    # instead of inheriting the preload's.
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError as e:
        # clawvault marks itself not dumpable, which makes its /proc files root's: run as root.
        log(f"cannot reset peak RSS of {pid} ({e}); its peaks are cumulative (run the benchmark as root)")


def percentile(xs: list[float], p: float) -> float:
    """Nearest-rank percentile: a value that was actually measured (p99 of 300 is the 297th)."""
    ordered = sorted(xs)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def mib(kib: int | None) -> str:
    return "–" if kib is None else f"{kib / 1024:.0f} MiB"


def ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1000:,.0f} ms"


@dataclass
class Server:
    name: str
    workdir: Path
    port: int = 0
    proc: subprocess.Popen | None = None
    auth: tuple[str, str] | None = None
    startup: dict[str, float] = field(default_factory=dict)
    memory: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def command(self) -> list[str]:
        raise NotImplementedError

    def spawn(self) -> float:
        """Starts the process; returns the spawn instant on the perf_counter clock."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        out = open(self.workdir / "stdout.log", "ab")
        err = open(self.workdir / "stderr.log", "ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(self.command(), stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        out.close()
        err.close()
        return t0

    def wait_http(self, path: str, t0: float, accept, timeout: float = 60.0) -> float:
        """Polls path until accept(status) holds; returns seconds since t0."""
        deadline = t0 + timeout
        while True:
            self.check_alive()
            try:
                status, _ = request(self.port, "GET", path, timeout=2.0)
                if accept(status):
                    return time.perf_counter() - t0
            except (ConnectionError, OSError, http.client.HTTPException):
                pass
            if time.perf_counter() > deadline:
                raise BenchError(f"{self.name}: {path} did not answer as expected within {timeout:.0f} s")
            time.sleep(0.002)

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            tail = (self.workdir / "stderr.log").read_text(errors="replace")[-2000:]
            raise BenchError(f"{self.name} exited with {self.proc.returncode}; stderr tail:\n{tail}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            log(f"{self.name} ignored SIGTERM for 30 s; killing it")
            self.proc.kill()
            self.proc.wait()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def headers(self) -> dict[str, str]:
        return {self.auth[0]: self.auth[1]} if self.auth else {}

    def preload(self) -> float:
        """Writes SECRETS secrets over PRELOAD_CLIENTS keep-alive connections; returns seconds."""
        local = threading.local()
        headers = {**self.headers(), "Content-Type": "application/json"}

        def put(i: int) -> None:
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            method, path, body = self.write_request(i)
            conn.request(method, path, body=json.dumps(body).encode(), headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
            if not 200 <= resp.status < 300:
                raise BenchError(f"{self.name}: preload {path} answered {resp.status}: {payload[:300]!r}")

        t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(PRELOAD_CLIENTS) as pool:
            for fut in concurrent.futures.as_completed([pool.submit(put, i) for i in range(SECRETS)]):
                fut.result()
        return time.perf_counter() - t0

    def write_request(self, i: int) -> tuple[str, str, dict]:
        raise NotImplementedError

    def load_env(self, workload: str) -> dict[str, str]:
        raise NotImplementedError


class Clawvault(Server):
    PREFIX = "/v1/vaults/default/secrets/bench/k"
    agent_key: str = ""
    agent_auth: tuple[str, str] | None = None
    # Seconds of the first and of the second request per fresh token, once measured.
    first_use: dict[str, list[float]] | None = None

    def command(self) -> list[str]:
        return [CLAWVAULT_BIN, "server", "--config", str(self.workdir / "clawvault.toml"),
                "--data-dir", str(self.workdir / "data"),
                "--listen", f"127.0.0.1:{self.port}", "--log", "warn", "--token-ttl", "86400"]

    def write_config(self) -> None:
        # Key exchanges are rate limited per client address (default burst 60, then 10/s); the
        # first-use measurement mints FIRST_USE_TOKENS tokens from one address and would
        # otherwise mostly measure the limiter's waits. The report says the limit is raised.
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "clawvault.toml").write_text(
            "auth_rate_burst = 100000\nauth_rate_per_second = 100000.0\n")

    def health(self, t0: float) -> float:
        return self.wait_http("/v1/health", t0, lambda s: s == 200)

    def login(self) -> None:
        key_file = self.workdir / "data" / "admin-key"
        api_key = key_file.read_text().strip()
        status, body = request(self.port, "POST", "/v1/auth/api-key-token", body={"api_key": api_key})
        if status != 200:
            raise BenchError(f"clawvault: api-key-token answered {status}: {body}")
        self.auth = ("Authorization", f"Bearer {body['access_token']}")

    def setup(self) -> None:
        self.port = free_port()
        self.write_config()
        self.startup["first"] = self.health(self.spawn())
        self.login()
        log(f"clawvault up in {ms(self.startup['first'])}; preloading {SECRETS:,} secrets")
        self.startup["preload"] = self.preload()
        st = proc_status(self.pid)
        self.memory["loaded_rss"], self.memory["loaded_hwm"] = st["VmRSS"], st["VmHWM"]
        # A restart shows the start-up time of a server that already holds the data, and the
        # resident memory it settles at before any load.
        self.stop()
        self.startup["restart"] = self.health(self.spawn())
        self.login()
        time.sleep(1)
        self.memory["idle_rss"] = proc_status(self.pid)["VmRSS"]
        # After the idle reading, so the agent's set-up does not count as idle memory.
        self.setup_agent()

    def setup_agent(self) -> None:
        """Creates the bench agent, lets it read bench/**, and takes the token wrk will use."""
        status, body = request(self.port, "POST", "/v1/agents", self.headers(),
                               {"name": "bench-agent", "token_ttl_seconds": 86400})
        if status != 201:
            raise BenchError(f"clawvault: creating the agent answered {status}: {body}")
        agent_id, self.agent_key = body["agent"]["id"], body["api_key"]
        status, body = request(self.port, "POST", "/v1/vaults/default/policies", self.headers(),
                               {"principal_type": "agent", "principal_id": agent_id,
                                "secret_path_pattern": "bench/**", "permissions": ["read"]})
        if status != 201:
            raise BenchError(f"clawvault: granting the agent read answered {status}: {body}")
        self.agent_auth = ("Authorization", f"Bearer {self.agent_token()}")
        # One read proves the policy works before wrk counts refusals as errors; it also puts
        # the token in the cache, which is the state the read-hot-agent rows are about.
        status, body = request(self.port, "GET", f"{self.PREFIX}00000", dict([self.agent_auth]))
        if status != 200:
            raise BenchError(f"clawvault: the agent cannot read the hot secret: {status} {body}")

    def agent_token(self) -> str:
        status, body = request(self.port, "POST", "/v1/auth/agent-token", body={"api_key": self.agent_key})
        if status != 200:
            raise BenchError(f"clawvault: agent-token answered {status}: {body}")
        return body["access_token"]

    def measure_first_use(self) -> None:
        """Times the first and the second GET of the hot secret with each of FIRST_USE_TOKENS
        fresh agent tokens. The first pays for the Ed25519 signature check and the lookup of
        the agent in the database; the second is served from the token cache."""
        # Minted up front, so the exchanges do not run between the timed requests.
        tokens = [self.agent_token() for _ in range(FIRST_USE_TOKENS)]
        path = f"{self.PREFIX}00000"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

        def timed_get(token: str) -> float:
            # Connecting outside the clock: a reconnection (should the server ever close the
            # keep-alive connection) must not be billed to the token.
            if conn.sock is None:
                conn.connect()
            t0 = time.perf_counter()
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            resp = conn.getresponse()
            payload = resp.read()
            elapsed = time.perf_counter() - t0
            if resp.status != 200:
                raise BenchError(f"clawvault: first-use GET answered {resp.status}: {payload[:300]!r}")
            return elapsed

        try:
            # One untimed request with the (already cached) wrk token warms this client's code
            # paths, so the first timed request is not also Python's first.
            timed_get(self.agent_auth[1].removeprefix("Bearer "))
            firsts, seconds = [], []
            for token in tokens:
                firsts.append(timed_get(token))
                seconds.append(timed_get(token))
        finally:
            conn.close()
        self.first_use = {"first": firsts, "second": seconds}

    def write_request(self, i: int) -> tuple[str, str, dict]:
        return "PUT", f"{self.PREFIX}{i:05d}", {"value": VALUE}

    def load_env(self, workload: str) -> dict[str, str]:
        # read-hot-agent is read-hot with the agent's token: the same static request otherwise.
        header, value = self.agent_auth if workload == AGENT_WORKLOAD[0] else self.auth
        env = {"BENCH_PREFIX": self.PREFIX, "BENCH_AUTH_HEADER": header, "BENCH_AUTH_VALUE": value}
        if workload == "read-random":
            env["BENCH_KEYS"] = str(SECRETS)
        if workload == "write":
            env |= {"BENCH_METHOD": "PUT", "BENCH_KEYS": str(SECRETS), "BENCH_BODY": '{"value":"%s"}'}
        return env


class OpenBao(Server):
    MOUNT = "kv"
    PREFIX = f"/v1/{MOUNT}/data/bench/k"
    unseal_key: str = ""

    def command(self) -> list[str]:
        return [BAO_BIN, "server", f"-config={self.workdir / 'bao.hcl'}"]

    def write_config(self) -> None:
        raft = self.workdir / "raft"
        raft.mkdir(parents=True, exist_ok=True)
        cluster_port = free_port()
        # The audit device is declared here, not enabled over the API: OpenBao 2.x creates it on
        # unseal, so no request is ever served unaudited (and API creation is off by default).
        (self.workdir / "bao.hcl").write_text(f"""\
storage "raft" {{
  path    = "{raft}"
  node_id = "bench"
}}
listener "tcp" {{
  address     = "127.0.0.1:{self.port}"
  tls_disable = true
}}
api_addr     = "http://127.0.0.1:{self.port}"
cluster_addr = "http://127.0.0.1:{cluster_port}"
log_level    = "warn"
audit "file" "file" {{
  options {{
    file_path = "{self.workdir / 'audit.log'}"
  }}
}}
""")

    def unseal(self) -> None:
        status, body = request(self.port, "POST", "/v1/sys/unseal", body={"key": self.unseal_key})
        if status != 200 or body.get("sealed"):
            raise BenchError(f"openbao: unseal answered {status}: {body}")

    def active(self, t0: float) -> float:
        # 200 only once unsealed and the single raft node has elected itself leader.
        return self.wait_http("/v1/sys/health", t0, lambda s: s == 200)

    def setup(self) -> None:
        self.port = free_port()
        self.write_config()
        t0 = self.spawn()
        # Uninitialised answers 501: the process is serving HTTP.
        self.startup["first_http"] = self.wait_http("/v1/sys/health", t0, lambda s: s in (501, 503))
        t_init = time.perf_counter()
        status, body = request(self.port, "POST", "/v1/sys/init", body={"secret_shares": 1, "secret_threshold": 1}, timeout=120)
        if status != 200:
            raise BenchError(f"openbao: init answered {status}: {body}")
        self.startup["init"] = time.perf_counter() - t_init
        self.unseal_key, root_token = body["keys"][0], body["root_token"]
        self.auth = ("X-Vault-Token", root_token)
        self.unseal()
        self.startup["first"] = self.active(t0)
        self.check_audit()
        status, body = request(self.port, "POST", f"/v1/sys/mounts/{self.MOUNT}", self.headers(),
                               {"type": "kv", "options": {"version": "2"}})
        if status not in (200, 204):
            raise BenchError(f"openbao: mounting kv v2 answered {status}: {body}")
        self.wait_kv_ready()
        log(f"openbao up in {ms(self.startup['first'])} (init {ms(self.startup['init'])}); preloading {SECRETS:,} secrets")
        self.startup["preload"] = self.preload()
        st = proc_status(self.pid)
        self.memory["loaded_rss"], self.memory["loaded_hwm"] = st["VmRSS"], st["VmHWM"]
        self.stop()
        t0 = self.spawn()
        self.startup["restart_http"] = self.wait_http("/v1/sys/health", t0, lambda s: s == 503)
        self.unseal()
        self.startup["restart"] = self.active(t0)
        time.sleep(1)
        self.memory["idle_rss"] = proc_status(self.pid)["VmRSS"]

    def check_audit(self) -> None:
        status, body = request(self.port, "GET", "/v1/sys/audit", self.headers())
        if status != 200 or "file/" not in (body.get("data") or body):
            raise BenchError(f"openbao: the declared file audit device is not enabled: {status} {body}")

    def wait_kv_ready(self) -> None:
        # A fresh KV v2 mount may refuse writes for a moment while it sets itself up.
        method, path, body = self.write_request(0)
        deadline = time.perf_counter() + 30
        while True:
            status, answer = request(self.port, method, path, self.headers(), body)
            if 200 <= status < 300:
                return
            if time.perf_counter() > deadline:
                raise BenchError(f"openbao: kv v2 mount not writable: {status} {answer}")
            time.sleep(0.1)

    def write_request(self, i: int) -> tuple[str, str, dict]:
        return "POST", f"{self.PREFIX}{i:05d}", {"data": {"value": VALUE}}

    def load_env(self, workload: str) -> dict[str, str]:
        env = {"BENCH_PREFIX": self.PREFIX, "BENCH_AUTH_HEADER": self.auth[0], "BENCH_AUTH_VALUE": self.auth[1]}
        if workload == "read-random":
            env["BENCH_KEYS"] = str(SECRETS)
        if workload == "write":
            env |= {"BENCH_METHOD": "POST", "BENCH_KEYS": str(SECRETS), "BENCH_BODY": '{"data":{"value":"%s"}}'}
        return env


class Ceiling(Server):
    def command(self) -> list[str]:
        return [CEILING_BIN, f"127.0.0.1:{self.port}"]

    def setup(self) -> None:
        self.port = free_port()
        self.startup["first"] = self.wait_http("/", self.spawn(), lambda s: s == 200)
        time.sleep(1)
        self.memory["idle_rss"] = proc_status(self.pid)["VmRSS"]

    def load_env(self, workload: str) -> dict[str, str]:
        return {}


@dataclass
class Run:
    rps: float
    p50_us: int
    p99_us: int
    errors: int
    peak_kib: int


def wrk(server: Server, workload: str, conc: int, raw_log, path: str = "/") -> Run:
    # The Lua script reads its whole configuration from BENCH_* variables; the caller's own
    # BENCH_* knobs must not leak into it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
    env |= server.load_env(workload)
    cmd = ["wrk", "-t", str(min(conc, 2)), "-c", str(conc), "-d", f"{DURATION}s", "--timeout", "5s",
           "--latency", "-s", str(LUA), f"http://127.0.0.1:{server.port}{path}"]
    reset_peak_rss(server.pid)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=DURATION + 60)
    server.check_alive()
    peak = proc_status(server.pid)["VmHWM"]
    raw_log.write(f"==> {server.name} {workload} c={conc}\n{done.stdout}{done.stderr}\n")
    raw_log.flush()
    line = next((l for l in done.stdout.splitlines() if l.startswith("BENCH_RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise BenchError(f"wrk failed for {server.name} {workload} c={conc}:\n{done.stdout}{done.stderr}")
    r = json.loads(line.removeprefix("BENCH_RESULT "))
    errors = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    return Run(r["requests"] / (r["duration_us"] / 1e6), r["p50_us"], r["p99_us"], errors, peak)


def fmt_rps(runs: list[Run]) -> str:
    xs = [r.rps for r in runs]
    med = statistics.median(xs)
    if len(xs) == 1:
        return f"{med:,.0f}"
    return f"{med:,.0f} ({min(xs):,.0f}–{max(xs):,.0f})"


def fmt_lat(us: float) -> str:
    return f"{us / 1000:.2f} ms" if us < 100_000 else f"{us / 1000:.0f} ms"


def median_rps(runs: list[Run]) -> float:
    return statistics.median(r.rps for r in runs)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "–"


def machine_facts(tmp: Path) -> list[str]:
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem_kib = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    fs = "?"
    best = ""
    for line in open("/proc/mounts"):
        _, mnt, fstype, *_ = line.split()
        if str(tmp).startswith(mnt) and len(mnt) > len(best):
            best, fs = mnt, fstype
    return [f"{os.cpu_count()} CPUs ({cpu}), {mem_kib / 1048576:.0f} GiB RAM, Linux {platform.release()}",
            f"data directories on {fs} ({tmp})"]


def version_of(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        # wrk appends its copyright to the version line.
        return (out.stdout or out.stderr).strip().splitlines()[0].split(" Copyright")[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def floor_report(floor: dict, results: dict) -> list[str]:
    """The disk's sync floor, and clawvault's durable-audit workloads as a fraction of it: at c=1
    each request needs its own sync (the prealloc pattern), at higher concurrency a group commit
    can share one (the batch16 pattern)."""
    lines = [
        "",
        "## The disk's sync floor",
        "",
        "Measured in the same run on the disk of the data directories (`bench/syncfloor.py`): 256-byte "
        "records made durable with `fdatasync`, into a preallocated file, appended to a growing one, and "
        "16 at a time. Every clawvault read and write waits for its audit event to be durable, so these "
        "bound what any design can reach here.",
        "",
        *syncfloor.table(floor),
        "",
        "| workload | conc. | clawvault req/s | floor used | fraction of the floor |",
        "|---|---:|---:|---|---:|",
    ]
    for workload, label in WORKLOADS:
        for c in CONCURRENCY:
            runs = results.get(("clawvault", workload, c))
            if not runs:
                continue
            pattern = "prealloc" if c == 1 else "batch16"
            top = floor[pattern]["records_per_s"]
            lines.append(f"| {label} | {c} | {median_rps(runs):,.0f} | {pattern} ({top:,.0f}/s) | "
                         f"{median_rps(runs) / top:.2f} |")
    return lines


def report(started: str, tmp: Path, servers: dict[str, Server], results: dict, load_before, load_after,
           floor: dict) -> str:
    cv, bao, ceil = servers["clawvault"], servers["openbao"], servers["ceiling"]
    git_rev = version_of(["git", "-C", str(BENCH_DIR.parent), "describe", "--always", "--dirty"])
    lines = [
        f"# clawvault benchmark, {started}",
        "",
        f"- {version_of([CLAWVAULT_BIN, '--version'])} (git {git_rev}); {version_of([BAO_BIN, 'version'])}; "
        f"{version_of(['wrk', '-v'])}",
        *[f"- {fact}" for fact in machine_facts(tmp)],
        f"- {REPS} repetition(s) of {DURATION} s per cell, run interleaved; wrk threads = min(concurrency, 2); "
        f"{SECRETS:,} secrets preloaded; before each cell the harness waits until every server is idle "
        "(< 10 ms CPU per 250 ms), so no cell pays for the previous one's background work",
        f"- load average before / after: {load_before} / {load_after}",
        "- both servers audit every request (clawvault always; OpenBao through a file audit device declared "
        "in its config) and store on disk (SQLite; OpenBao raft)",
        "- clawvault's key-exchange rate limit is raised (auth_rate_burst = 100000, auth_rate_per_second = "
        f"100000) so that minting {FIRST_USE_TOKENS} agent tokens does not wait on it",
        "",
        "## Throughput and latency",
        "",
        "req/s: median (min–max) over the repetitions; p50/p99: median over the repetitions; errors: sum of "
        "responses ≥ 400 and socket errors; peak RSS: highest VmHWM of the server during the cell.",
        "",
        "| workload | conc. | server | req/s | p50 | p99 | errors | peak RSS |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    rows = [("ceiling", "ceiling: GET / (fixed 200-byte JSON)", c, "ceiling") for c in CONCURRENCY]
    for w, label in WORKLOADS:
        rows += [(w, label, c, name) for c in CONCURRENCY for name in ("clawvault", "openbao")]
        if w == "read-hot":
            # The agent-token rows sit under the admin-token rows they are compared with.
            rows += [(*AGENT_WORKLOAD, c, "clawvault") for c in CONCURRENCY]
    for workload, label, c, name in rows:
        runs = results.get((name, workload, c), [])
        if not runs:
            continue
        lines.append(
            f"| {label} | {c} | {name} | {fmt_rps(runs)} | "
            f"{fmt_lat(statistics.median(r.p50_us for r in runs))} | "
            f"{fmt_lat(statistics.median(r.p99_us for r in runs))} | "
            f"{sum(r.errors for r in runs)} | {mib(max(r.peak_kib for r in runs))} |")
    lines += [
        "",
        "## Ratios",
        "",
        "From median req/s (above 1.00× clawvault serves more) and median p99 (below 1.00× clawvault answers "
        "faster).",
        "",
        "| workload | conc. | req/s clawvault/OpenBao | p99 clawvault/OpenBao | req/s clawvault/ceiling |",
        "|---|---:|---:|---:|---:|",
    ]
    for workload, label in WORKLOADS:
        for c in CONCURRENCY:
            a, b, top = (results.get((n, w, c)) for n, w in
                         (("clawvault", workload), ("openbao", workload), ("ceiling", "ceiling")))
            if not (a and b):
                continue
            p99 = ratio(statistics.median(r.p99_us for r in a), statistics.median(r.p99_us for r in b))
            lines.append(f"| {label} | {c} | {ratio(median_rps(a), median_rps(b))} | {p99} | "
                         f"{ratio(median_rps(a), median_rps(top)) if top else '–'} |")
    lines += agent_report(cv, results)
    lines += floor_report(floor, results)
    lines += [
        "",
        "## Start-up and memory",
        "",
        "Cold start: from spawning the process to the first 200 from the health endpoint (clawvault "
        "`/v1/health`, OpenBao `/v1/sys/health`, ceiling `GET /`), polled every 2 ms. For OpenBao the first "
        "start includes the harness's init (1 key share) and unseal calls, and a restart includes one unseal "
        "call; the figure in brackets is the time to its first (sealed) HTTP answer.",
        "",
        "| server | first start (empty) | restart with data | preload of "
        f"{SECRETS:,} secrets | RSS after preload (peak) | RSS idle after restart |",
        "|---|---:|---:|---:|---:|---:|",
        f"| clawvault | {ms(cv.startup.get('first'))} | {ms(cv.startup.get('restart'))} | "
        f"{cv.startup.get('preload', 0):.1f} s | {mib(cv.memory.get('loaded_rss'))} "
        f"({mib(cv.memory.get('loaded_hwm'))}) | {mib(cv.memory.get('idle_rss'))} |",
        f"| OpenBao | {ms(bao.startup.get('first'))} ({ms(bao.startup.get('first_http'))}; init "
        f"{ms(bao.startup.get('init'))}) | {ms(bao.startup.get('restart'))} ({ms(bao.startup.get('restart_http'))}) | "
        f"{bao.startup.get('preload', 0):.1f} s | {mib(bao.memory.get('loaded_rss'))} "
        f"({mib(bao.memory.get('loaded_hwm'))}) | {mib(bao.memory.get('idle_rss'))} |",
        f"| ceiling | {ms(ceil.startup.get('first'))} | – | – | – | {mib(ceil.memory.get('idle_rss'))} |",
        "",
        f"Preload: {PRELOAD_CLIENTS} concurrent keep-alive clients from Python; it is set-up, not a benchmark.",
        "",
    ]
    return "\n".join(lines)


def agent_report(cv: Clawvault, results: dict) -> list[str]:
    """The "Agent tokens" section: the cached agent path against the admin path, and the cost of
    a token's first request."""
    lines = [
        "",
        "## Agent tokens",
        "",
        "clawvault only. Each row compares a with b (ratio a/b). Cached agent token vs admin token: "
        f"`{AGENT_WORKLOAD[0]}` against `read-hot` (same GET of the hot secret), median req/s and median "
        f"p99 from the table above; target: agent within {AGENT_TOLERANCE:.0%} of admin. First use: "
        f"{FIRST_USE_TOKENS} freshly minted agent tokens, each sending two sequential GETs of the hot "
        "secret on one keep-alive connection from Python, once per run after the wrk cells with nothing "
        "else loading the server; the first request of a token pays for the Ed25519 signature check and "
        "the database lookup of its agent, the second hits the token cache. p99 is nearest-rank.",
        "",
        "| measurement (a vs b) | conc. | a | b | a/b | within target |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for c in CONCURRENCY:
        agent, admin = results.get(("clawvault", AGENT_WORKLOAD[0], c)), results.get(("clawvault", "read-hot", c))
        if not (agent and admin):
            continue
        rps_a, rps_b = median_rps(agent), median_rps(admin)
        p99_a = statistics.median(r.p99_us for r in agent)
        p99_b = statistics.median(r.p99_us for r in admin)
        # Fewer req/s or a longer p99 than admin by more than the tolerance misses the target.
        lines += [
            f"| req/s, cached agent token vs admin token | {c} | {rps_a:,.0f} | {rps_b:,.0f} | "
            f"{ratio(rps_a, rps_b)} | {'yes' if rps_a >= (1 - AGENT_TOLERANCE) * rps_b else 'no'} |",
            f"| p99, cached agent token vs admin token | {c} | {fmt_lat(p99_a)} | {fmt_lat(p99_b)} | "
            f"{ratio(p99_a, p99_b)} | {'yes' if p99_a <= (1 + AGENT_TOLERANCE) * p99_b else 'no'} |",
        ]
    if cv.first_use:
        first, second = cv.first_use["first"], cv.first_use["second"]
        for name, stat in (("median", statistics.median), ("p99", lambda xs: percentile(xs, 99))):
            a, b = stat(first) * 1e6, stat(second) * 1e6
            lines.append(f"| first use: {name}, 1st vs 2nd request of a fresh token | 1 | {fmt_lat(a)} | "
                         f"{fmt_lat(b)} | {ratio(a, b)} | – |")
    return lines


def loadavg() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


def main() -> int:
    started = datetime.datetime.now().astimezone()
    stamp = started.strftime("%Y%m%d-%H%M%S")
    tmp = Path(tempfile.mkdtemp(prefix="clawvault-bench-", dir=TMP_PARENT))
    results_dir = BENCH_DIR / "results"
    results_dir.mkdir(exist_ok=True)
    raw_log = open(results_dir / f"{stamp}.wrk.log", "w")
    servers = {"clawvault": Clawvault("clawvault", tmp / "clawvault"),
               "openbao": OpenBao("openbao", tmp / "openbao"),
               "ceiling": Ceiling("ceiling", tmp / "ceiling")}
    results: dict[tuple[str, str, int], list[Run]] = {}
    load_before = loadavg()
    keep = KEEP
    # SIGTERM (e.g. from a CI timeout) should still stop the servers and clean up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        # Before any server runs, so that nothing else writes to the disk meanwhile.
        log("the disk's sync floor (bench/syncfloor.py)")
        floor = syncfloor.measure(str(tmp), 3.0)
        for s in servers.values():
            s.setup()
        cells = [("ceiling", c, ("ceiling",)) for c in CONCURRENCY]
        for w, _ in WORKLOADS:
            for c in CONCURRENCY:
                cells.append((w, c, ("clawvault", "openbao")))
                if w == "read-hot":
                    # Right after the admin read-hot cell of the same concurrency, so the
                    # agent/admin ratio compares runs made under the same background load.
                    cells.append((AGENT_WORKLOAD[0], c, ("clawvault",)))
        total = sum(len(who) for _, _, who in cells) * REPS
        log(f"{total} runs of {DURATION} s: about {total * (DURATION + 1) / 60:.0f} min")
        n = 0
        for rep in range(REPS):
            # Interleaving the servers within each repetition spreads background noise on a shared
            # machine over all of them; alternating who goes first cancels order effects.
            for workload, c, who in cells:
                for name in who if rep % 2 == 0 else who[::-1]:
                    n += 1
                    waited = settle(list(servers.values()))
                    if waited > 1:
                        log(f"waited {waited:.1f} s for the servers to go idle")
                    run = wrk(servers[name], workload, c, raw_log)
                    results.setdefault((name, workload, c), []).append(run)
                    log(f"[{n}/{total}] rep {rep + 1} {name:9} {workload:14} c={c:<3} "
                        f"{run.rps:9,.0f} req/s  p99 {fmt_lat(run.p99_us)}  errors {run.errors}")
        # Once per run, not per repetition: it needs nothing of wrk, and it comes last so that no
        # other workload shares the server with it. The pause lets the server finish any
        # background work the last write cell left behind before the clock starts.
        time.sleep(1)
        log(f"clawvault: first use of {FIRST_USE_TOKENS} fresh agent tokens")
        servers["clawvault"].measure_first_use()
        text = report(started.strftime("%Y-%m-%d %H:%M %Z"), tmp, servers, results, load_before, loadavg(), floor)
    except BenchError as e:
        log(f"failed: {e}")
        log(f"server logs kept in {tmp}")
        keep = True
        return 1
    finally:
        for s in servers.values():
            s.stop()
        raw_log.close()
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    out = results_dir / f"{stamp}.md"
    out.write_text(text)
    print(text)
    log(f"written to {out} (raw wrk output: {out.with_suffix('.wrk.log')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
