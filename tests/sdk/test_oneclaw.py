"""1Claw's official Python SDK (oneclaw, unmodified) against clawvault: vault, secret, list,
versions, server-side rotation, disable and delete flows through the SDK's own client."""

import oneclaw
from sdk_helpers import admin, ok


def test_vault_flow(server):
    c = admin(server)
    vault = ok(c.vaults.create("sdk-vaults", "made by the 1Claw SDK"), 201)
    assert vault["name"] == "sdk-vaults"
    listed = ok(c.vaults.list())
    assert vault["id"] in [v["id"] for v in listed["vaults"]]
    assert ok(c.vaults.get(vault["id"]))["description"] == "made by the 1Claw SDK"
    ok(c.vaults.delete(vault["id"]), 204)
    gone = c.vaults.get(vault["id"])
    assert gone.meta.status == 404 and gone.error is not None


def test_secret_flow(server):
    c = admin(server)
    vid = ok(c.vaults.create("sdk-secrets"))["id"]

    first = ok(c.secrets.set(vid, "api-keys/stripe", "sk_test_one", metadata={"team": "billing"}), 201)
    assert first["version"] == 1 and first["type"] == "generic"
    assert "value" not in first
    second = ok(c.secrets.rotate(vid, "api-keys/stripe", "sk_test_two", type="api_key"))
    assert second["version"] == 2 and second["id"] == first["id"]

    got = ok(c.secrets.get(vid, "api-keys/stripe"))
    assert got["value"] == "sk_test_two" and got["version"] == 2 and got["type"] == "api_key"

    ok(c.secrets.set(vid, "api-keys/openai", "sk-openai"))
    ok(c.secrets.set(vid, "db/password", "hunter2", type="password"))
    listed = ok(c.secrets.list(vid, prefix="api-keys/"))
    assert sorted(s["path"] for s in listed["secrets"]) == ["api-keys/openai", "api-keys/stripe"]
    assert all("value" not in s for s in listed["secrets"])

    versions = ok(c.secrets.list_versions(vid, "api-keys/stripe"))
    assert [v["version"] for v in versions["versions"]] == [2, 1]
    assert ok(c.secrets.get_version(vid, "api-keys/stripe", 1))["value"] == "sk_test_one"

    rotated = ok(c.secrets.rotate_generate(vid, "db/password", length=40, charset="alphanumeric"), 201)
    assert rotated["version"] == 2
    generated = ok(c.secrets.get(vid, "db/password"))["value"]
    assert len(generated) == 40 and generated.isalnum() and generated != "hunter2"

    ok(c.secrets.disable_version(vid, "api-keys/stripe", 1), 204)
    disabled = c.secrets.get_version(vid, "api-keys/stripe", 1)
    assert disabled.meta.status == 410 and "disabled" in disabled.error.message

    ok(c.secrets.delete(vid, "api-keys/openai"), 204)
    deleted = c.secrets.get(vid, "api-keys/openai")
    assert deleted.meta.status == 410
    missing = c.secrets.get(vid, "api-keys/none")
    assert missing.meta.status == 404 and missing.error is not None


def test_read_limit_through_the_sdk(server):
    c = admin(server)
    vid = ok(c.vaults.create("sdk-limits"))["id"]
    ok(c.secrets.set(vid, "once", "burn-after-reading", max_access_count=1))
    assert ok(c.secrets.get(vid, "once"))["value"] == "burn-after-reading"
    assert c.secrets.get(vid, "once").meta.status == 410


def test_bad_key_is_an_auth_error(server):
    c = oneclaw.create_client(base_url=server["base"], api_key="1ck_not-a-real-key")
    resp = c.vaults.list()
    assert resp.meta.status == 401


def test_audit_through_the_sdk(server):
    c = admin(server)
    events = ok(c.audit.list(action="secret.read", limit=5))
    assert events["count"] == events["total"] and len(events["events"]) <= 5
    assert all(e["action"] == "secret.read" for e in events["events"])
    verified = ok(c.audit.verify())
    assert verified["chain_valid"] is True and verified["events_checked"] > 0
