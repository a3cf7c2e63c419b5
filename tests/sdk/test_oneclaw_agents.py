"""1Claw's official Python SDK (oneclaw, unmodified) for agents: create an agent, exchange its
key through the SDK's own agent client, grant read on api-keys/**, read allowed and denied
paths, share with a read limit and read until exhausted, revoke, and self-enrollment."""

import datetime

import httpx
import oneclaw
from sdk_helpers import admin, ok


def in_hours(h):
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=h)).isoformat()


def test_agent_least_privilege_and_revocation(server):
    c = admin(server)
    vid = ok(c.vaults.create("sdk-agents"))["id"]
    ok(c.secrets.set(vid, "api-keys/stripe", "sk_live_stripe", type="api_key"))
    ok(c.secrets.set(vid, "db/password", "hunter2", type="password"))

    created = ok(c.agents.create("sdk-bot", description="made by the SDK", token_ttl_seconds=600), 201)
    agent_id, key = created["agent"]["id"], created["api_key"]
    assert key.startswith("ocv_") and created["agent"]["token_ttl_seconds"] == 600
    ok(c.policies.create(vid, principal_type="agent", principal_id=agent_id, secret_path_pattern="api-keys/**", permissions=["read"]), 201)

    bot = oneclaw.create_client(base_url=server["base"], api_key=key)
    me = ok(bot.agents.me())
    assert me["id"] == agent_id and me["name"] == "sdk-bot"
    assert ok(bot.secrets.get(vid, "api-keys/stripe"))["value"] == "sk_live_stripe"
    denied = bot.secrets.get(vid, "db/password")
    assert denied.meta.status == 403 and denied.error is not None
    missing = bot.secrets.get(vid, "db/nothing")
    assert missing.meta.status == 403, "no existence oracle"
    listed = ok(bot.secrets.list(vid))
    assert [s["path"] for s in listed["secrets"]] == ["api-keys/stripe"]

    # The agent client also works with the agent id given explicitly.
    bot2 = oneclaw.create_client(base_url=server["base"], api_key=key, agent_id=agent_id)
    assert ok(bot2.secrets.get(vid, "api-keys/stripe"))["value"] == "sk_live_stripe"

    ok(c.agents.update(agent_id, is_active=False))
    revoked = bot.secrets.get(vid, "api-keys/stripe")
    assert revoked.meta.status == 401, "deactivation applies to the next request"

    rotated = ok(c.agents.rotate_key(agent_id))
    assert rotated["api_key"].startswith("ocv_") and rotated["api_key"] != key
    ok(c.agents.delete(agent_id), 204)
    assert c.agents.get(agent_id).meta.status == 404


def test_share_with_read_limit_until_exhausted_then_revoke(server):
    c = admin(server)
    vid = ok(c.vaults.create("sdk-shares"))["id"]
    secret = ok(c.secrets.set(vid, "handover/token", "discord-bot-token"))
    share = ok(c.sharing.create(secret["id"], recipient_type="anyone_with_link", expires_at=in_hours(1), max_access_count=2, passphrase="correct horse battery"), 201)
    assert share["max_access_count"] == 2 and share["share_url"].endswith(share["id"])

    anon = oneclaw.create_client(base_url=server["base"])
    wrong = anon.sharing.access(share["id"], passphrase="not the passphrase")
    assert wrong.meta.status == 403
    for n in (1, 2):
        got = ok(anon.sharing.access(share["id"], passphrase="correct horse battery"))
        assert got["value"] == "discord-bot-token" and got["access_count"] == n
    exhausted = anon.sharing.access(share["id"], passphrase="correct horse battery")
    assert exhausted.meta.status == 410

    other = ok(c.sharing.create(secret["id"], recipient_type="anyone_with_link", expires_at=in_hours(1)))
    assert ok(anon.sharing.access(other["id"]))["value"] == "discord-bot-token"
    outbound = ok(c.sharing.list_outbound())
    assert {s["id"] for s in outbound["shares"]} >= {share["id"], other["id"]}
    ok(c.sharing.revoke(other["id"]), 204)
    assert anon.sharing.access(other["id"]).meta.status == 404


def test_self_enrollment_through_the_sdk(server):
    # Without a public key the poll token alone collects the key (with one, the poll must also
    # carry a signature proving possession, which the SDK cannot send: crates/cli/tests/threats.rs).
    anon = oneclaw.create_client(base_url=server["base"])
    asked = ok(anon.agents.enroll("enrolled-bot", description="asks to join"), 201)
    pairing, poll = asked["pairing_id"], asked["poll_token"]
    assert ok(anon.agents.enrollment_status(pairing, poll))["status"] == "pending"

    # The SDK has no approval call (1Claw approves in its web app): approve over HTTP.
    token = httpx.post(server["base"] + "/v1/auth/api-key-token", json={"api_key": server["admin_key"]}).json()["access_token"]
    r = httpx.post(f"{server['base']}/v1/agents/enroll/{pairing}/approve", json={}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text

    first = ok(anon.agents.enrollment_status(pairing, poll))
    assert first["status"] == "approved" and first["api_key"].startswith("ocv_")
    again = ok(anon.agents.enrollment_status(pairing, poll))
    assert "api_key" not in again
    bot = oneclaw.create_client(base_url=server["base"], api_key=first["api_key"])
    assert ok(bot.agents.me())["name"] == "enrolled-bot"
