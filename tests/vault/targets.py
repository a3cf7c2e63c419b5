"""The two servers every Vault API test runs against: clawvault, and OpenBao's own dev server
(which proves the tests themselves: a check that fails against OpenBao tests the wrong thing).
Each target gives an address, an all-powerful token, a mount named `secret`, and a maker of
tokens that may only read `secret/app/**`."""

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

BAO = os.path.join(os.path.dirname(sys.executable), "bao")
MOUNT = "secret"


def http(base, method, path, token=None, body=None, headers=None):
    """(status, JSON body or None) of one request."""
    req = urllib.request.Request(
        base + path, method=method, data=None if body is None else json.dumps(body).encode(),
        headers={**({"X-Vault-Token": token} if token else {}), **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read()
            return resp.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, (json.loads(text) if text else None)
        except ValueError:
            return e.code, text.decode(errors="replace")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def openbao():
    port = free_port()
    root = "root-" + uuid.uuid4().hex
    with tempfile.TemporaryDirectory() as home:
        proc = subprocess.Popen(
            [BAO, "server", "-dev", f"-dev-root-token-id={root}", f"-dev-listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "HOME": home},
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    if http(base, "GET", "/v1/sys/health")[0] == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.05)
            else:
                raise AssertionError("bao server -dev did not start")
            policy = f'path "{MOUNT}/data/app/*" {{ capabilities = ["read"] }}\npath "{MOUNT}/metadata/*" {{ capabilities = ["list"] }}'
            status, _ = http(base, "PUT", "/v1/sys/policies/acl/app-reader", root, {"policy": policy})
            assert status in (200, 204), status

            def reader():
                status, body = http(base, "POST", "/v1/auth/token/create", root, {"policies": ["app-reader"]})
                assert status == 200, body
                return body["auth"]["client_token"]

            yield {"name": "openbao", "base": base, "token": root, "reader": reader}
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@contextlib.contextmanager
def clawvault():
    from conftest import running

    with running() as s:
        base, admin = s["base"], s["admin_key"]
        status, body = http(base, "POST", "/v1/vaults", None, {"name": MOUNT}, {"Authorization": f"Bearer {admin}"})
        assert status == 201, body
        vault = body["id"]

        def reader():
            auth = {"Authorization": f"Bearer {admin}"}
            status, made = http(base, "POST", "/v1/agents", None, {"name": "reader-" + uuid.uuid4().hex[:8]}, auth)
            assert status == 201, made
            for pattern, perms in [("app/**", ["read", "list"]), ("**", ["list"])]:
                status, body = http(base, "POST", f"/v1/vaults/{vault}/policies", None, {
                    "principal_type": "agent", "principal_id": made["agent"]["id"],
                    "secret_path_pattern": pattern, "permissions": perms,
                }, auth)
                assert status == 201, body
            return made["api_key"]

        yield {"name": "clawvault", "base": base, "token": admin, "reader": reader, "server": s, "vault": vault}


TARGETS = {"clawvault": clawvault, "openbao": openbao}


def cli(target, *args, token=None):
    """`bao ARGS` against the target: (exit code, stdout, stderr). A throwaway HOME keeps any
    token helper file out."""
    with tempfile.TemporaryDirectory() as home:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": home, "BAO_ADDR": target["base"],
               "BAO_TOKEN": token if token is not None else target["token"]}
        done = subprocess.run([BAO, *args], capture_output=True, text=True, env=env, timeout=60)
        return done.returncode, done.stdout, done.stderr


def cli_json(target, command, *args, token=None):
    """`bao COMMAND -format=json ARGS`, which must succeed: its JSON output."""
    code, out, err = cli(target, *command.split(), "-format=json", *args, token=token)
    assert code == 0, (code, out, err)
    return json.loads(out)
