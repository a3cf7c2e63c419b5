"""1Password's official JavaScript Connect SDK (`@1password/connect` from npm) drives the
Connect API as a bot or a platform's "Secret Providers" page would: vault by title, list
vaults, item by title with its `credential` field, items listed without values, create,
update (and a stale update refused), a generated value, files, delete, a bad token refused.
Everything it wrote is then read back through the native API."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from connect_helpers import VAULT, world

HERE = Path(__file__).resolve().parent
CANARY_1 = "cvcanary-connect-sdk-one-7f3a91"
CANARY_2 = "cvcanary-connect-sdk-two-c40b2e"
PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ==\n-----END CERTIFICATE-----\n"


def drive(w, token, url):
    node = shutil.which("node")
    assert node, "node is needed (Debian: nodejs); scripts/test installs the SDK with npm ci"
    assert (HERE / "node_modules/@1password/connect").is_dir(), "run `npm ci` in tests/connect (scripts/test does)"
    done = subprocess.run(
        [node, str(HERE / "drive.js")], capture_output=True, text=True, timeout=120, cwd=HERE,
        env={**os.environ, "CONNECT_URL": url, "CONNECT_TOKEN": token, "CONNECT_VAULT": VAULT,
             "FILE_ITEM": "certs/ca.pem", "CANARY_1": CANARY_1, "CANARY_2": CANARY_2},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("trailing_slash", [False, True], ids=["base", "base-with-slash"])
def test_the_connect_sdk_drives_clawvault(trailing_slash):
    with world() as w:
        w.put("bots/discord", "discord-token-value", "api_key")
        w.put("certs/ca.pem", PEM, "file")
        token = w.agent(("**", ["read", "write", "list", "delete"]))
        url = w.connect + ("/" if trailing_slash else "")
        r = drive(w, token, url)

        assert r["vaults"] == [VAULT] and r["vault"]["name"] == VAULT and r["vaultById"] == VAULT
        [credential] = r["discord"]["fields"]
        assert (credential["label"], credential["type"], credential["value"]) == ("credential", "CONCEALED", "discord-token-value")
        assert r["discord"]["category"] == "API_CREDENTIAL" and r["discord"]["version"] == 1
        assert r["discordById"][0]["value"] == "discord-token-value"
        for item in r["listed"]:
            assert "fields" not in item["keys"] and "files" not in item["keys"], item
        assert {"bots/discord", "certs/ca.pem"} <= {i["title"] for i in r["listed"]}
        assert r["contains"] == ["bots/discord"]

        created = r["created"]
        assert created["category"] == "LOGIN" and created["tags"] == ["prod"] and created["version"] == 1
        assert [f["label"] for f in created["fields"]] == ["username", "password", "port"]
        assert created["fields"][1]["purpose"] == "PASSWORD" and created["sections"] == ["Connection"]
        assert r["updated"]["version"] == 2
        assert r["staleUpdate"]["ok"] is False and r["staleUpdate"].get("status") == 409, r["staleUpdate"]
        assert r["generated"] == [{"label": "password", "length": 24}]
        assert r["duplicate"] == {"ok": False, "status": 409}

        assert r["files"][0]["name"] == "ca.pem" and r["files"][0]["size"] == len(PEM)
        assert r["files"][0]["content_path"].startswith("/v1/vaults/")
        assert r["fileById"] == "ca.pem" and r["fileContent"] == PEM
        assert r["afterDelete"]["ok"] is False and r["afterDelete"]["status"] == 404
        assert r["badToken"]["ok"] is False and r["badToken"]["status"] == 401

        # What the SDK wrote is a JSON secret the native API reads, with the update as version 2.
        status, got, _ = w.native("GET", f"/v1/vaults/{w.vault_id}/secrets/apps/db")
        assert status == 200 and got["version"] == 2 and got["type"] == "json"
        assert json.loads(got["value"]) == {"username": "app", "password": CANARY_2, "port": "5432"}
        status, old, _ = w.native("GET", f"/v1/vaults/{w.vault_id}/secret-version/apps/db/1")
        assert status == 200 and json.loads(old["value"])["password"] == CANARY_1, "history kept"
        # Deleted through Connect: soft-deleted, so an admin can restore it.
        status, _, _ = w.native("POST", f"/v1/vaults/{w.vault_id}/secret-restore/apps/generated")
        assert status == 200

        log = Path(w.server["log"]).read_text(errors="replace")
        for canary in (CANARY_1, CANARY_2, "discord-token-value"):
            assert canary not in log
