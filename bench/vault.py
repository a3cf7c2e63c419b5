#!/usr/bin/env python3
"""The driver behind bench/run-vault: the Vault-compatible API next to OpenBao on the same
workloads, in one run. Standard library only (JWTs are signed with the openssl CLI).

Workloads (wrk, keep-alive, each at every BENCH_CONCURRENCY, the two servers interleaved):
  kv-read-hot     GET /v1/<mount>/data/bench/k00000 with X-Vault-Token
  kv-read-random  GET of a random key of BENCH_SECRETS preloaded ones
  jwt-login       PUT /v1/auth/jwt/login with an RS256 JWT a role accepts: signature, claims,
                  and a new token each time (what ESO does on every reconcile)
Servers as bench/run starts them (bench/harness.py): clawvault auditing every request durably,
OpenBao 2.7 as a real server (raft, not dev mode) with a file audit device declared in its
config. Both verify the JWT against a public key they were given (clawvault: a JWKS file;
OpenBao: jwt_validation_pubkeys).
"""

from __future__ import annotations

import base64
import datetime
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import harness  # noqa: E402
from harness import (  # noqa: E402
    BenchError, Clawvault, OpenBao, Run, fmt_lat, fmt_rps, log, median_rps, ratio, request, settle,
)

ISSUER = "https://bench.clawvault.invalid"
AUDIENCE = "clawvault"
SUBJECT = "system:serviceaccount:bench:eso"
WORKLOADS = [("kv-read-hot", "KV v2 read, one hot key"), ("kv-read-random", "KV v2 read, random key"),
             ("jwt-login", "JWT login (RS256), new token each")]


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_key(tmp: Path) -> tuple[Path, str, dict]:
    """An RSA key: its PEM file, its public PEM, its JWK."""
    key = tmp / "jwt.key"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    public = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout"], check=True, capture_output=True,
                            text=True).stdout
    modulus = subprocess.run(["openssl", "rsa", "-in", str(key), "-noout", "-modulus"], check=True,
                             capture_output=True, text=True).stdout.strip().split("=", 1)[1]
    jwk = {"kty": "RSA", "kid": "bench", "alg": "RS256", "use": "sig", "n": b64u(bytes.fromhex(modulus)),
           "e": b64u((65537).to_bytes(3, "big"))}
    return key, public, jwk


def sign(key: Path, claims: dict) -> str:
    header = b64u(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "bench"}).encode())
    payload = b64u(json.dumps(claims).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(key)], input=signing_input,
                               check=True, capture_output=True).stdout
    return f"{header}.{payload}.{b64u(signature)}"


class VaultClawvault(Clawvault):
    jwks: Path
    login_body: str = ""

    def write_config(self) -> None:
        super().write_config()
        with open(self.workdir / "clawvault.toml", "a") as f:
            f.write(f'jwt_jwks = "{self.jwks}"\njwt_issuer = "{ISSUER}"\n')

    def setup_logins(self) -> None:
        status, body = request(self.port, "POST", "/v1/agents", self.headers(), {"name": "bench-login"})
        if status != 201:
            raise BenchError(f"clawvault: creating the login agent answered {status}: {body}")
        agent_id = body["agent"]["id"]
        status, body = request(self.port, "POST", "/v1/vaults/default/policies", self.headers(),
                               {"principal_type": "agent", "principal_id": agent_id,
                                "secret_path_pattern": "bench/**", "permissions": ["read"]})
        if status != 201:
            raise BenchError(f"clawvault: granting the login agent answered {status}: {body}")
        status, body = request(self.port, "POST", "/v1/auth/roles", self.headers(),
                               {"method": "jwt", "name": "bench", "agent_id": agent_id,
                                "bindings": {"bound_audiences": [AUDIENCE], "bound_subject": SUBJECT}})
        if status != 201:
            raise BenchError(f"clawvault: creating the login role answered {status}: {body}")

    def token(self) -> str:
        return self.auth[1].removeprefix("Bearer ")

    def load_env(self, workload: str) -> dict[str, str]:
        return vault_env(workload, "/v1/default/data/bench/k", self.token(), self.login_body)


class VaultOpenBao(OpenBao):
    public_pem: str = ""
    login_body: str = ""

    def setup_logins(self) -> None:
        steps = [
            ("POST", "/v1/sys/auth/jwt", {"type": "jwt"}),
            ("POST", "/v1/auth/jwt/config", {"jwt_validation_pubkeys": [self.public_pem], "bound_issuer": ISSUER}),
            ("PUT", "/v1/sys/policies/acl/bench-reader", {"policy": f'path "{self.MOUNT}/data/bench/*" {{ capabilities = ["read"] }}'}),
            ("POST", "/v1/auth/jwt/role/bench", {"role_type": "jwt", "bound_audiences": [AUDIENCE], "user_claim": "sub",
                                                 "token_policies": ["bench-reader"], "token_ttl": 600}),
        ]
        for method, path, body in steps:
            status, answer = request(self.port, method, path, self.headers(), body)
            if status not in (200, 204):
                raise BenchError(f"openbao: {method} {path} answered {status}: {answer}")

    def load_env(self, workload: str) -> dict[str, str]:
        return vault_env(workload, self.PREFIX, self.auth[1], self.login_body)


def vault_env(workload: str, prefix: str, token: str, login_body: str) -> dict[str, str]:
    if workload == "jwt-login":
        # No prefix: the URL's own path; the body is the same login each time.
        return {"BENCH_METHOD": "PUT", "BENCH_BODY": login_body}
    env = {"BENCH_PREFIX": prefix, "BENCH_AUTH_HEADER": "X-Vault-Token", "BENCH_AUTH_VALUE": token}
    if workload == "kv-read-random":
        env["BENCH_KEYS"] = str(harness.SECRETS)
    return env


def run_wrk(server, workload: str, conc: int, raw_log) -> Run:
    """harness.wrk, with the login path as the URL of the login workload (the Lua script
    requests the URL's own path when no prefix is set)."""
    path = "/v1/auth/jwt/login" if workload == "jwt-login" else "/"
    return harness.wrk(server, workload, conc, raw_log, path)


def check_login(server, body: str) -> None:
    status, answer = request(server.port, "PUT", "/v1/auth/jwt/login", None, json.loads(body))
    if status != 200 or not answer.get("auth", {}).get("client_token"):
        raise BenchError(f"{server.name}: the bench login does not work: {status} {answer}")


def main() -> int:
    started = datetime.datetime.now(datetime.timezone.utc)
    stamp = started.strftime("%Y%m%d-%H%M%S")
    tmp = Path(tempfile.mkdtemp(prefix="clawvault-bench-vault-", dir=harness.TMP_PARENT))
    results_dir = BENCH_DIR / "results"
    results_dir.mkdir(exist_ok=True)
    raw_log = open(results_dir / f"vault-{stamp}.wrk.log", "w")
    key, public_pem, jwk = make_key(tmp)
    (tmp / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    now = int(time.time())
    jwt = sign(key, {"iss": ISSUER, "sub": SUBJECT, "aud": AUDIENCE,
                     "iat": now, "nbf": now - 5, "exp": now + 3600})
    login_body = json.dumps({"role": "bench", "jwt": jwt})
    cv, bao = VaultClawvault("clawvault", tmp / "clawvault"), VaultOpenBao("openbao", tmp / "openbao")
    cv.jwks, cv.login_body = tmp / "jwks.json", login_body
    bao.public_pem, bao.login_body = public_pem, login_body
    servers = {"clawvault": cv, "openbao": bao}
    results: dict[tuple[str, str, int], list[Run]] = {}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    keep = harness.KEEP
    try:
        for s in servers.values():
            s.setup()
            s.setup_logins()
            check_login(s, login_body)
        cells = [(w, c) for w, _ in WORKLOADS for c in harness.CONCURRENCY]
        total = len(cells) * 2 * harness.REPS
        log(f"{total} runs of {harness.DURATION} s")
        n = 0
        for rep in range(harness.REPS):
            for workload, c in cells:
                order = ("clawvault", "openbao") if rep % 2 == 0 else ("openbao", "clawvault")
                for name in order:
                    n += 1
                    settle(list(servers.values()))
                    run = run_wrk(servers[name], workload, c, raw_log)
                    results.setdefault((name, workload, c), []).append(run)
                    log(f"[{n}/{total}] {name:9} {workload:14} c={c:<3} {run.rps:9,.0f} req/s  "
                        f"p99 {fmt_lat(run.p99_us)}  errors {run.errors}")
    except BenchError as e:
        log(f"failed: {e}; server logs kept in {tmp}")
        keep = True
        return 1
    finally:
        for s in servers.values():
            s.stop()
        raw_log.close()
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    lines = [f"# Vault-compatible API: clawvault and OpenBao ({stamp})", "",
             f"- {harness.REPS} × {harness.DURATION} s per cell, {harness.SECRETS:,} secrets, wrk keep-alive",
             "- clawvault audits every request durably; OpenBao 2.7 (raft) with a file audit device", "",
             "| workload | c | clawvault req/s | OpenBao req/s | ratio | clawvault p50 / p99 | OpenBao p50 / p99 | errors |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for workload, label in WORKLOADS:
        for c in harness.CONCURRENCY:
            a, b = results[("clawvault", workload, c)], results[("openbao", workload, c)]
            lat = lambda runs: (f"{fmt_lat(sorted(r.p50_us for r in runs)[len(runs) // 2])} / "
                                f"{fmt_lat(sorted(r.p99_us for r in runs)[len(runs) // 2])}")
            errors = sum(r.errors for r in a + b)
            lines.append(f"| {label} | {c} | {fmt_rps(a)} | {fmt_rps(b)} | {ratio(median_rps(a), median_rps(b))} | "
                         f"{lat(a)} | {lat(b)} | {errors} |")
    text = "\n".join(lines) + "\n"
    (results_dir / f"vault-{stamp}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
