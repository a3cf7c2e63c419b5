"""One secret, three APIs: a KV write through the Vault API is a version the native API and
1Claw's SDK read, a native secret reads through the Vault API, both writes land on the one
audit chain, and a KV write keeps the clawvault metadata it does not carry."""

import json
import sys
from pathlib import Path

import pytest

from targets import MOUNT, clawvault, http

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sdk"))
from sdk_helpers import admin, ok  # noqa: E402


@pytest.fixture(scope="module")
def world():
    with clawvault() as t:
        yield t


def test_a_vault_write_is_a_version_the_sdk_reads_and_back(world):
    base, token, sdk = world["base"], world["token"], admin(world["server"])
    status, _ = http(base, "PUT", f"/v1/{MOUNT}/data/x/db", token, {"data": {"user": "app", "port": 5432}})
    assert status == 200
    got = ok(sdk.secrets.get(world["vault"], "x/db"))
    assert got["type"] == "json" and json.loads(got["value"]) == {"user": "app", "port": 5432}

    ok(sdk.secrets.set(world["vault"], "x/key", "sk-native-1", type="api_key"), 201)
    status, body = http(base, "GET", f"/v1/{MOUNT}/data/x/key", token)
    assert status == 200 and body["data"]["data"] == {"credential": "sk-native-1"}
    assert body["data"]["metadata"]["version"] == 1

    status, body = http(base, "PATCH", f"/v1/{MOUNT}/data/x/key", token, {"data": {"note": "added"}},
                        {"Content-Type": "application/merge-patch+json"})
    assert status == 200 and body["data"]["version"] == 2
    got = ok(sdk.secrets.get(world["vault"], "x/key"))
    assert got["type"] == "json" and json.loads(got["value"]) == {"credential": "sk-native-1", "note": "added"}
    assert ok(sdk.secrets.get_version(world["vault"], "x/key", 1))["value"] == "sk-native-1", "history kept"


def test_a_kv_write_keeps_the_secrets_allowed_hosts(world):
    base, token, sdk = world["base"], world["token"], admin(world["server"])
    ok(sdk.secrets.set(world["vault"], "x/hosted", "v1", type="api_key",
                       metadata={"allowed_hosts": ["api.example.com"]}), 201)
    assert http(base, "PUT", f"/v1/{MOUNT}/data/x/hosted", token, {"data": {"credential": "v2"}})[0] == 200
    got = ok(sdk.secrets.get(world["vault"], "x/hosted"))
    assert got["version"] == 2 and got["metadata"] == {"allowed_hosts": ["api.example.com"]}


def test_both_apis_write_to_one_verifiable_audit_chain(world):
    base, token, sdk = world["base"], world["token"], admin(world["server"])
    http(base, "PUT", f"/v1/{MOUNT}/data/x/audited", token, {"data": {"a": "vault-canary-1"}})
    ok(sdk.secrets.set(world["vault"], "x/audited-native", "native-canary-2"), 201)
    http(base, "GET", f"/v1/{MOUNT}/data/x/audited", token)
    auth = {"Authorization": f"Bearer {token}"}
    status, events = http(base, "GET", "/v1/audit/events?order=newest&limit=200", None, None, auth)
    assert status == 200
    writes = {e["resource_id"] for e in events["events"] if e["action"] == "secret.write"}
    assert any(r.endswith("x/audited") for r in writes) and any(r.endswith("x/audited-native") for r in writes)
    assert any(e["action"] == "secret.read" and e["resource_id"].endswith("x/audited") for e in events["events"])
    dump = json.dumps(events)
    assert "vault-canary-1" not in dump and "native-canary-2" not in dump
    status, verified = http(base, "GET", "/v1/audit/verify", None, None, auth)
    assert status == 200 and verified["chain_valid"] is True, verified


def test_trimming_undeleting_and_huge_durations_need_what_they_do(world):
    base, token = world["base"], world["token"]
    auth = {"Authorization": f"Bearer {token}"}
    status, made = http(base, "POST", "/v1/agents", None, {"name": "writer-only"}, auth)
    assert status == 201
    for pattern, perms in [("w/**", ["read", "write", "list"]), ("d/**", ["read", "delete", "list"])]:
        assert http(base, "POST", f"/v1/vaults/{world['vault']}/policies", None, {
            "principal_type": "agent", "principal_id": made["agent"]["id"],
            "secret_path_pattern": pattern, "permissions": perms}, auth)[0] == 201
    key = made["api_key"]
    # max_versions destroys versions: setting it needs delete, which clawvault's write covers
    # (as 1Claw's does); a reader may not.
    assert http(base, "PUT", f"/v1/{MOUNT}/metadata/w/x", key, {"max_versions": 1})[0] == 204
    assert http(base, "PUT", f"/v1/{MOUNT}/metadata/w/x", key, {"custom_metadata": {"a": "b"}})[0] == 204
    status, body = http(base, "PUT", f"/v1/{MOUNT}/metadata/w/x", token, {"delete_version_after": 10 ** 12})
    assert status == 400 and "100 years" in body["errors"][0], "never a 500 later"
    # Undeleting reopens what a native disable (which needs write) closed: delete alone is not enough.
    http(base, "PUT", f"/v1/{MOUNT}/data/d/x", token, {"data": {"v": 1}})
    http(base, "PUT", f"/v1/{MOUNT}/data/d/x", token, {"data": {"v": 2}})
    assert http(base, "PUT", f"/v1/{MOUNT}/delete/d/x", key, {"versions": [1]})[0] == 204
    assert http(base, "PUT", f"/v1/{MOUNT}/undelete/d/x", key, {"versions": [1]})[0] == 403
    assert http(base, "PUT", f"/v1/{MOUNT}/undelete/d/x", token, {"versions": [1, 1, 1]})[0] == 204
