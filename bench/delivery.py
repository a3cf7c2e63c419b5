#!/usr/bin/env python3
"""The driver behind bench/run-delivery: how fast secrets reach where agents run, measured
against the real release binary on this machine. Standard library only.

  run-overhead   `clawvault run --env T=… -- true` (one secret fetched with `use`, output
                 masked) against exec'ing `true` directly: wall time per start.
  rotate-to-file `clawvault sync` keeping BENCH_FILES files; a secret is written and the clock
                 stops when its file holds the new value (the write's own round trip included).
  watch-restart  `clawvault run --watch`: a secret the command uses is written and the clock
                 stops when the restarted command has started (BENCH_RESTARTS times).
  fan-out        BENCH_SUBSCRIBERS streams of GET /v1/events open at once; a secret is written
                 and the clock stops when each stream has received its event.
The server is started as bench/run starts clawvault (bench/harness.py), every request audited
durably, with its connection caps raised for the fan-out.
"""

from __future__ import annotations

import asyncio
import datetime
import http.client
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import harness  # noqa: E402
from harness import BenchError, Clawvault, log, request  # noqa: E402

FILES = int(os.environ.get("BENCH_FILES", "100"))
ROTATIONS = int(os.environ.get("BENCH_ROTATIONS", "100"))
STARTS = int(os.environ.get("BENCH_STARTS", "50"))
SUBSCRIBERS = int(os.environ.get("BENCH_SUBSCRIBERS", "1000"))
BROADCASTS = int(os.environ.get("BENCH_BROADCASTS", "20"))
RESTARTS = int(os.environ.get("BENCH_RESTARTS", "20"))


class DeliveryClawvault(Clawvault):
    def write_config(self) -> None:
        super().write_config()
        with open(self.workdir / "clawvault.toml", "a") as f:
            f.write(f"max_connections = {SUBSCRIBERS * 2 + 200}\nmax_connections_per_address = {SUBSCRIBERS * 2 + 100}\n"
                    f"events_max_streams_per_identity = {SUBSCRIBERS + 10}\n")

    def grant_use(self) -> None:
        status, body = request(self.port, "GET", "/v1/agents", self.headers())
        agent = next(a for a in (body.get("agents") or body) if a["name"] == "bench-agent")
        status, body = request(self.port, "POST", "/v1/vaults/default/policies", self.headers(),
                               {"principal_type": "agent", "principal_id": agent["id"],
                                "secret_path_pattern": "bench/**", "permissions": ["use", "list"]})
        if status != 201:
            raise BenchError(f"granting use answered {status}: {body}")


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def ms(x: float) -> str:
    return f"{x * 1000:.1f} ms" if x < 10 else f"{x:.1f} s"


def write_secret(port: int, auth: dict, i: int, value: str) -> None:
    status, body = request(port, "PUT", f"/v1/vaults/default/secrets/bench/k{i:05d}", auth, {"value": value})
    if status != 201:
        raise BenchError(f"write answered {status}: {body}")


def run_overhead(cv: DeliveryClawvault, tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAWVAULT_", "BENCH_"))}
    env |= {"CLAWVAULT_ADDR": f"http://127.0.0.1:{cv.port}", "CLAWVAULT_API_KEY": cv.agent_key,
            "CLAWVAULT_CONFIG_DIR": str(tmp / "cli-config"), "HOME": str(tmp)}
    direct, wrapped = [], []
    cmd = [harness.CLAWVAULT_BIN, "run", "--env", "T=default/bench/k00000", "--", "true"]
    for _ in range(STARTS):
        t0 = time.perf_counter()
        subprocess.run(["true"], check=True)
        direct.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True)
        wrapped.append(time.perf_counter() - t0)
        if done.returncode != 0:
            raise BenchError(f"clawvault run failed: {done.stderr.decode(errors='replace')}")
    return {"direct": direct, "run": wrapped}


def watch_restart(cv: DeliveryClawvault, tmp: Path) -> list[float]:
    starts = tmp / "starts"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAWVAULT_", "BENCH_"))}
    env |= {"CLAWVAULT_ADDR": f"http://127.0.0.1:{cv.port}", "CLAWVAULT_API_KEY": cv.agent_key,
            "CLAWVAULT_CONFIG_DIR": str(tmp / "cli-config"), "HOME": str(tmp)}
    script = f"echo started >> {starts}; trap 'exit 0' TERM; while :; do sleep 0.01; done"
    run = subprocess.Popen([harness.CLAWVAULT_BIN, "run", "--watch", "--grace", "2", "--env", "T=default/bench/k00002",
                            "--", "sh", "-c", script], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def count() -> int:
        try:
            return len(starts.read_text().splitlines())
        except OSError:
            return 0

    try:
        deadline = time.monotonic() + 30
        while count() < 1:
            if time.monotonic() > deadline:
                raise BenchError("clawvault run --watch did not start its command")
            time.sleep(0.01)
        time.sleep(0.5)
        latencies = []
        for n in range(RESTARTS):
            before = count()
            t0 = time.perf_counter()
            write_secret(cv.port, cv.headers(), 2, f"watched-{n}-{random.getrandbits(64):016x}")
            while count() == before:
                if time.perf_counter() - t0 > 10:
                    raise BenchError("the command was not restarted within 10 s")
                time.sleep(0.0005)
            latencies.append(time.perf_counter() - t0)
            time.sleep(0.2)
        return latencies
    finally:
        run.terminate()
        run.wait(timeout=30)


def rotate_to_file(cv: DeliveryClawvault, tmp: Path) -> list[float]:
    key_file = tmp / "agent.key"
    key_file.write_text(cv.agent_key)
    key_file.chmod(0o600)
    out = tmp / "out"
    config = [f'address = "http://127.0.0.1:{cv.port}"', f'key_file = "{key_file}"', f'cache_dir = "{tmp / "cache"}"']
    for i in range(FILES):
        config += ["[[file]]", f'path = "{out / f"k{i:05d}"}"', f'secret = "default/bench/k{i:05d}"']
    (tmp / "sync.toml").write_text("\n".join(config) + "\n")
    daemon = subprocess.Popen([harness.CLAWVAULT_BIN, "sync", "--config", str(tmp / "sync.toml")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "CLAWVAULT_CONFIG_DIR": str(tmp / "cli-config")})
    try:
        deadline = time.monotonic() + 60
        while sum(1 for _ in out.glob("k*")) < FILES if out.exists() else True:
            if time.monotonic() > deadline:
                raise BenchError("sync did not write every file")
            time.sleep(0.05)
        time.sleep(0.5)
        latencies = []
        for n in range(ROTATIONS):
            i = random.randrange(FILES)
            value = f"rotated-{n}-{random.getrandbits(64):016x}"
            path = out / f"k{i:05d}"
            t0 = time.perf_counter()
            write_secret(cv.port, cv.headers(), i, value)
            while True:
                try:
                    if path.read_text() == value:
                        break
                except OSError:
                    pass
                if time.perf_counter() - t0 > 10:
                    raise BenchError(f"k{i:05d} was not rewritten within 10 s")
                time.sleep(0.0005)
            latencies.append(time.perf_counter() - t0)
        return latencies
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)


async def fan_out(cv: DeliveryClawvault) -> tuple[list[float], int]:
    got: dict[int, list[float]] = {}
    ready = 0

    async def subscriber() -> None:
        nonlocal ready
        reader, writer = await asyncio.open_connection("127.0.0.1", cv.port, limit=1 << 20)
        writer.write((f"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {cv.agent_key}\r\n"
                      "Accept: text/event-stream\r\n\r\n").encode())
        await writer.drain()
        status = await reader.readline()
        if b" 200 " not in status:
            raise BenchError(f"a stream was refused: {status!r}")
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        ready += 1
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                if line.startswith(b"data:") and b'"seq"' in line:
                    seq = json.loads(line[5:])["seq"]
                    got.setdefault(seq, []).append(time.perf_counter())
        finally:
            writer.close()

    tasks = [asyncio.create_task(subscriber()) for _ in range(SUBSCRIBERS)]
    while ready < SUBSCRIBERS:
        await asyncio.sleep(0.05)
        for t in tasks:
            if t.done() and t.exception():
                raise t.exception()
    await asyncio.sleep(0.5)
    sent: dict[int, float] = {}
    loop = asyncio.get_running_loop()
    for n in range(BROADCASTS):
        t0 = time.perf_counter()
        status, body = await loop.run_in_executor(None, lambda n=n: request(
            cv.port, "PUT", "/v1/vaults/default/secrets/bench/k00001", cv.headers(), {"value": f"fan-{n}"}))
        if status != 201:
            raise BenchError(f"write answered {status}: {body}")
        sent[n] = t0
        await asyncio.sleep(0.3)
    await asyncio.sleep(2)
    for t in tasks:
        t.cancel()
    seqs = sorted(got)[-BROADCASTS:]
    latencies = [arrival - sent[n] for n, seq in enumerate(seqs) for arrival in got[seq]]
    missing = BROADCASTS * SUBSCRIBERS - len(latencies)
    return latencies, missing


def main() -> int:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    tmp = Path(tempfile.mkdtemp(prefix="clawvault-bench-delivery-", dir=harness.TMP_PARENT))
    cv = DeliveryClawvault("clawvault", tmp / "clawvault")
    try:
        cv.setup()
        cv.grant_use()
        log(f"{STARTS} starts of clawvault run")
        starts = run_overhead(cv, tmp)
        log(f"{RESTARTS} restarts of clawvault run --watch")
        restarts = watch_restart(cv, tmp)
        log(f"{ROTATIONS} rotations to {FILES} files")
        rotations = rotate_to_file(cv, tmp)
        log(f"{SUBSCRIBERS} event streams, {BROADCASTS} writes")
        fan, missing = asyncio.run(fan_out(cv))
    except BenchError as e:
        log(f"failed: {e}; logs kept in {tmp}")
        return 1
    finally:
        cv.stop()
    if not harness.KEEP:
        shutil.rmtree(tmp, ignore_errors=True)
    d, r = starts["direct"], starts["run"]
    lines = [
        f"# Delivery: run, sync and events ({stamp})", "",
        f"- `clawvault run`: {STARTS} starts; `sync`: {FILES} files, {ROTATIONS} rotations; events: "
        f"{SUBSCRIBERS} streams, {BROADCASTS} writes", "",
        "| measure | p50 | p99 | max |", "| --- | ---: | ---: | ---: |",
        f"| exec `true` directly | {ms(pct(d, 50))} | {ms(pct(d, 99))} | {ms(max(d))} |",
        f"| `clawvault run --env T=… -- true` | {ms(pct(r, 50))} | {ms(pct(r, 99))} | {ms(max(r))} |",
        f"| run's overhead (p50 difference) | {ms(pct(r, 50) - pct(d, 50))} | | |",
        f"| write → `run --watch` command restarted | {ms(pct(restarts, 50))} | {ms(pct(restarts, 99))} | {ms(max(restarts))} |",
        f"| rotate → file rewritten ({FILES} files) | {ms(pct(rotations, 50))} | {ms(pct(rotations, 99))} | {ms(max(rotations))} |",
        f"| write → event on all {SUBSCRIBERS} streams | {ms(pct(fan, 50))} | {ms(pct(fan, 99))} | {ms(max(fan))} |",
        "", f"Events not delivered: {missing} of {BROADCASTS * SUBSCRIBERS}.",
    ]
    text = "\n".join(lines) + "\n"
    (BENCH_DIR / "results").mkdir(exist_ok=True)
    (BENCH_DIR / "results" / f"delivery-{stamp}.md").write_text(text)
    print(text)
    return 0 if missing == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
