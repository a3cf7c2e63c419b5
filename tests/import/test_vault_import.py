"""`clawvault import vault` against a real `bao server -dev`: a KV v2 mount with folders, several
versions, a deleted version and a deleted key, imported with and without --all-versions, every
value read back through clawvault's own API and through its Vault-compatible API with the `bao`
CLI; a re-run changes nothing; a token that may not list is refused with Vault's own reason."""

import json
import os
import subprocess
import sys
import urllib.request
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "vault"))
from targets import BAO, http, openbao  # noqa: E402


def cli(server, *args, ok=True):
    env = {**os.environ, "CLAWVAULT_ADDR": server["base"], "CLAWVAULT_API_KEY": server["admin_key"],
           "CLAWVAULT_CONFIG_DIR": server["config_dir"]}
    done = subprocess.run([os.environ["CLAWVAULT_BIN"], *args], env=env, capture_output=True, text=True, timeout=120)
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def native(server, method, path):
    req = urllib.request.Request(f"{server['base']}{path}", method=method,
                                 headers={"Authorization": f"Bearer {server['admin_key']}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def kv_put(bao, path, data):
    status, body = http(bao["base"], "POST", f"/v1/secret/data/{path}", bao["token"], {"data": data})
    assert status == 200, body


def fill(bao):
    kv_put(bao, "bots/discord", {"token": "v1-token"})
    kv_put(bao, "bots/discord", {"token": "v2-token"})
    kv_put(bao, "bots/discord", {"token": "vault-canary-61e2", "app_id": "123"})
    kv_put(bao, "db/prod/postgres", {"user": "app", "password": "pg-pass", "port": 5432})
    kv_put(bao, "history", {"n": "1"})
    kv_put(bao, "history", {"n": "2"})
    kv_put(bao, "history", {"n": "3"})
    # Version 2 of history deleted: --all-versions skips it.
    status, _ = http(bao["base"], "POST", "/v1/secret/delete/history", bao["token"], {"versions": [2]})
    assert status == 204
    # Deleted in the source with an older version still readable: it stays deleted.
    kv_put(bao, "gone", {"x": "old"})
    kv_put(bao, "gone", {"x": "y"})
    status, _ = http(bao["base"], "DELETE", "/v1/secret/data/gone", bao["token"])
    assert status == 204


def test_a_kv_mount_moves_over_with_its_versions(server, tmp_path):
    server = {**server, "config_dir": str(tmp_path / "config")}
    with openbao() as bao:
        fill(bao)
        token = tmp_path / "vault.token"
        token.write_text(bao["token"] + "\n")
        vault = f"kv-{uuid.uuid4().hex[:8]}"
        cli(server, "vault", "create", vault)
        args = ["import", "vault", "--vault-addr", bao["base"], "--token-file", str(token), "--mount", "secret",
                "--vault", vault, "--prefix", "moved", "--all-versions"]

        dry = cli(server, *args, "--dry-run").stdout
        assert "Dry run: 3 to create, 0 to change, 0 unchanged, 1 skipped; nothing was written." in dry, dry
        assert "create (3 versions)" in dry and "secret/bots/discord" in dry, dry
        assert "skipped (its current version is deleted)" in dry and f"{vault}/moved/gone" in dry, dry
        assert "vault-canary" not in dry and bao["token"] not in dry

        done = cli(server, *args)
        assert "Imported: 3 created" in done.stdout, done.stdout
        assert bao["token"] not in done.stdout + done.stderr
        versions = native(server, "GET", f"/v1/vaults/{vault}/secret-versions/moved/bots/discord")
        values = []
        for v in sorted(x["version"] for x in versions["versions"]):
            values.append(json.loads(native(server, "GET", f"/v1/vaults/{vault}/secret-version/moved/bots/discord/{v}")["value"]))
        assert values == [{"token": "v1-token"}, {"token": "v2-token"}, {"token": "vault-canary-61e2", "app_id": "123"}]
        history = native(server, "GET", f"/v1/vaults/{vault}/secret-versions/moved/history")
        assert len(history["versions"]) == 2, history
        pg = native(server, "GET", f"/v1/vaults/{vault}/secrets/moved/db/prod/postgres")
        assert pg["type"] == "json" and json.loads(pg["value"]) == {"user": "app", "password": "pg-pass", "port": 5432}

        # The Vault CLI reads through clawvault's Vault-compatible API what it read from OpenBao.
        bao_env = {**os.environ, "VAULT_ADDR": server["base"], "BAO_ADDR": server["base"],
                   "BAO_TOKEN": server["admin_key"], "VAULT_TOKEN": server["admin_key"]}
        got = subprocess.run([BAO, "kv", "get", "-format=json", f"-mount={vault}", "moved/bots/discord"],
                             env=bao_env, capture_output=True, text=True, timeout=60)
        assert got.returncode == 0, got.stderr
        assert json.loads(got.stdout)["data"]["data"] == {"token": "vault-canary-61e2", "app_id": "123"}

        again = cli(server, *args).stdout
        assert "Imported: 0 created, 0 changed, 3 unchanged, 1 skipped." in again, again

        # Without --all-versions a changed key gets one new version; a new one, only its current.
        kv_put(bao, "bots/discord", {"token": "v4-token"})
        plain = [a for a in args if a != "--all-versions"]
        changed = cli(server, *plain).stdout
        assert "Imported: 0 created, 1 changed, 2 unchanged, 1 skipped." in changed, changed
        current = native(server, "GET", f"/v1/vaults/{vault}/secrets/moved/bots/discord")
        assert json.loads(current["value"]) == {"token": "v4-token"} and current["version"] == 4

        # A token that may not list the mount: OpenBao's reason, nothing written.
        status, body = http(bao["base"], "POST", "/v1/auth/token/create", bao["token"], {"policies": ["default"]})
        assert status == 200, body
        weak = tmp_path / "weak.token"
        weak.write_text(body["auth"]["client_token"])
        refused = cli(server, "import", "vault", "--vault-addr", bao["base"], "--token-file", str(weak), "--mount",
                      "secret", "--vault", vault, "--prefix", "weak", ok=False)
        assert refused.returncode != 0
        assert "403" in refused.stderr and "permission denied" in refused.stderr, refused.stderr
        assert body["auth"]["client_token"] not in refused.stderr
        listed = native(server, "GET", f"/v1/vaults/{vault}/secrets?prefix=weak")
        assert listed["secrets"] == []
