"""The MCP server at /mcp driven by the official `mcp` Python SDK (a client nobody here wrote):
protocol versions, every tool for the principal who may and the ones who may not, tool errors
instead of protocol failures, and no canary value anywhere a value must not be."""

import asyncio
import datetime
import json
import urllib.request

import httpx2
import pytest

from mcp_helpers import api, connect, data_of, fleet, ok, text_of

TOOLS = {
    "list_secrets", "get_secret", "put_secret", "delete_secret", "describe_secret", "rotate_and_store",
    "rotate_generate", "list_versions", "get_env_bundle", "create_vault", "list_vaults", "grant_access",
    "share_secret", "inspect_content", "http_request", "request_secret", "github_token",
}


@pytest.fixture(scope="module")
def world(server):
    return fleet(server)


def tomorrow():
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def run(coro):
    return asyncio.run(coro)


def test_handshake_names_clawvault_and_lists_the_tools(server, world):
    async def go():
        async with connect(server, world["agents"]["reader"]["key"]) as c:
            return await c.list_tools()

    tools = run(go())
    names = {t.name for t in tools.tools}
    assert names == TOOLS, names ^ TOOLS
    described = {t.name: t.description for t in tools.tools}
    assert "never repeat" in described["get_secret"]
    schema = {t.name: t.input_schema for t in tools.tools}["put_secret"]
    assert set(schema["required"]) == {"path", "value"}


@pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25"])
def test_initialize_negotiates_the_version_the_client_asks_for(server, world, version):
    body = {
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    req = urllib.request.Request(
        server["base"] + "/mcp", method="POST", data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {world['agents']['reader']['key']}",
            "Content-Type": "application/json", "Accept": "application/json, text/event-stream",
        },
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        answer = json.loads(resp.read())
        assert "mcp-session-id" not in {k.lower() for k in resp.headers.keys()}, "stateless: no session"
    result = answer["result"]
    assert result["protocolVersion"] == version
    assert result["serverInfo"]["name"] == "clawvault"
    assert result["serverInfo"]["version"]


def test_the_stateless_2026_revision_works_without_a_handshake(server, world):
    async def go():
        async with connect(server, world["agents"]["reader"]["key"], mode="2026-07-28") as c:
            return await c.call_tool("list_secrets", {})

    listed = data_of(run(go()))
    assert {s["path"] for s in listed["secrets"]} >= set(world["canaries"])


def test_reader_reads_lists_and_describes(server, world):
    key = world["agents"]["reader"]["key"]

    async def go():
        async with connect(server, key) as c:
            return (
                await c.call_tool("list_secrets", {"prefix": "bots/"}),
                await c.call_tool("get_secret", {"path": "db/password"}),
                await c.call_tool("describe_secret", {"path": "db/password"}),
                await c.call_tool("get_env_bundle", {"path": "bots/env"}),
                await c.call_tool("list_versions", {"path": "db/password"}),
                await c.call_tool("list_vaults", {}),
            )

    listed, got, described, env, versions, vaults = run(go())
    listed = data_of(listed)
    assert {s["path"] for s in listed["secrets"]} == {"bots/discord/token", "bots/env"}
    assert world["canaries"]["bots/discord/token"] not in text_of_all([listed])
    assert data_of(got)["value"] == world["canaries"]["db/password"]
    d = data_of(described)
    assert d["path"] == "db/password" and d["version"] == 1 and "value" not in d
    assert data_of(env)["env"] == {"A": "1", "B": "two"}
    assert [v["version"] for v in data_of(versions)["versions"]] == [1]
    assert world["vault"] in {v["id"] for v in data_of(vaults)["vaults"]}


def text_of_all(items):
    return json.dumps(items)


def test_use_only_agent_is_refused_values_as_a_tool_error(server, world):
    key = world["agents"]["user"]["key"]

    async def go():
        async with connect(server, key) as c:
            return [
                await c.call_tool("get_secret", {"path": "db/password"}),
                await c.call_tool("get_env_bundle", {"path": "bots/env"}),
                await c.call_tool("list_secrets", {}),
            ]

    got, env, listed = run(go())
    for refused in (got, env):
        assert refused.is_error
        assert text_of(refused).startswith("denied:"), text_of(refused)
        assert world["canaries"]["db/password"] not in text_of(refused)
    assert {s["path"] for s in data_of(listed)["secrets"]} >= set(world["canaries"])


def test_stranger_sees_nothing(server, world):
    key = world["agents"]["stranger"]["key"]

    async def go():
        async with connect(server, key) as c:
            return [
                await c.call_tool("list_secrets", {}),
                await c.call_tool("get_secret", {"path": "db/password"}),
                await c.call_tool("put_secret", {"path": "x/y", "value": "stranger-canary-1234"}),
                await c.call_tool("delete_secret", {"path": "db/password"}),
            ]

    for result in run(go()):
        assert result.is_error, text_of(result)
        assert "canary" not in text_of(result)
    # Nothing changed.
    assert ok(api(server, "GET", f"/v1/vaults/{world['vault']}/secrets/db/password"))["version"] == 1


def test_writes_rotations_and_deletes(server, world):
    key = world["agents"]["reader"]["key"]
    new_value = "rotated-canary-" + "9" * 20

    async def go():
        async with connect(server, key) as c:
            put = await c.call_tool("put_secret", {
                "path": "providers/openai", "value": "sk-put-canary-0000000000",
                "metadata": {"allowed_hosts": ["api.openai.com"]}, "max_access_count": 0,
            })
            stored = await c.call_tool("rotate_and_store", {"path": "providers/openai", "value": new_value})
            generated = await c.call_tool("rotate_generate", {"path": "providers/openai", "length": 40})
            bad = await c.call_tool("put_secret", {"path": "../etc", "value": "x" * 8})
            bad_time = await c.call_tool("put_secret", {"path": "a/b", "value": "x" * 8, "expires_at": "tomorrow"})
            deleted = await c.call_tool("delete_secret", {"path": "providers/openai"})
            gone = await c.call_tool("get_secret", {"path": "providers/openai"})
            return put, stored, generated, bad, bad_time, deleted, gone

    put, stored, generated, bad, bad_time, deleted, gone = run(go())
    assert data_of(put)["version"] == 1 and data_of(put)["type"] == "api_key"
    assert data_of(stored)["version"] == 2
    assert new_value not in text_of(stored)
    g = data_of(generated)
    assert g["version"] == 3 and g["metadata"] == {"allowed_hosts": ["api.openai.com"]}
    assert bad.is_error and text_of(bad).startswith("invalid request:")
    assert bad_time.is_error and "expires_at" in text_of(bad_time)
    assert data_of(deleted) == {"deleted": "providers/openai"}
    assert gone.is_error and text_of(gone).startswith("no longer available:")


def test_vaults_grants_and_shares(server, world):
    key = world["agents"]["reader"]["key"]
    stranger = world["agents"]["stranger"]["id"]

    async def go():
        async with connect(server, world["agents"]["free"]["key"]) as c:
            made = await c.call_tool("create_vault", {"name": world["name"] + "-own", "description": "agent's"})
            vault = data_of(made)["id"]
            granted = await c.call_tool("grant_access", {
                "vault_id": vault, "principal_type": "agent", "principal_id": stranger, "permissions": ["read"],
            })
        async with connect(server, key) as c:
            bound = await c.call_tool("create_vault", {"name": world["name"] + "-bound"})
            assert bound.is_error and "bound" in text_of(bound), text_of(bound)
            not_owner = await c.call_tool("grant_access", {
                "vault_id": world["vault"], "principal_type": "agent", "principal_id": stranger,
            })
            described = data_of(await c.call_tool("describe_secret", {"path": "db/password", "vault": world["vault"]}))
            shared = await c.call_tool("share_secret", {
                "secret_id": described["id"], "recipient_type": "anyone_with_link",
                "expires_at": tomorrow(), "max_access_count": 1,
            })
            return granted, not_owner, shared

    granted, not_owner, shared = run(go())
    assert data_of(granted)["permissions"] == ["read"]
    assert not_owner.is_error and text_of(not_owner).startswith("denied:")
    s = data_of(shared)
    assert "/v1/share/" in s["share_url"] and s["max_access_count"] == 1
    assert world["canaries"]["db/password"] not in text_of(shared)


def test_inspect_content_reports_paths_never_values(server, world):
    leaked = f"here is the password {world['canaries']['db/password']} and a key ghp_{'a1B2' * 9}, pin 48213579"

    async def go(who):
        async with connect(server, world["agents"][who]["key"]) as c:
            return await c.call_tool("inspect_content", {"content": leaked, "context": "output"})

    result = run(go("user"))
    found = data_of(result)
    assert found["verdict"] != "clean" and found["vault_compared"]
    kinds = {(f["kind"], f.get("path")) for f in found["findings"]}
    assert ("secret", "db/password") in kinds
    assert any(k == "github_token" for k, _ in kinds), kinds
    assert world["canaries"]["db/password"] not in text_of(result)
    assert "a1B2a1B2" not in text_of(result)
    # A short value is no oracle for an agent that may use it but not read it...
    assert ("secret", "door/pin") not in kinds
    # ...while one that may read it is told where it leaked.
    assert ("secret", "door/pin") in {(f["kind"], f.get("path")) for f in data_of(run(go("reader")))["findings"]}


def test_inspect_content_of_a_megabyte_of_keys_answers_capped(server, world):
    text = ("AKIAAAAAAAAAAAAAAAAA " + world["canaries"]["db/password"] + " ") * 15000

    async def go():
        async with connect(server, world["agents"]["user"]["key"]) as c:
            return await c.call_tool("inspect_content", {"content": text[: 1024 * 1024]})

    found = data_of(run(go()))
    assert found["truncated"] and len(found["findings"]) == 1000


def test_a_rotate_only_agent_rolls_but_cannot_set_a_value(server, world):
    async def go():
        async with connect(server, world["agents"]["roller"]["key"]) as c:
            return (
                await c.call_tool("rotate_generate", {"path": "bots/discord/token"}),
                await c.call_tool("rotate_and_store", {"path": "bots/discord/token", "value": "attacker-known-value-1"}),
            )

    rolled, stored = run(go())
    assert data_of(rolled)["version"] == 2
    assert stored.is_error and text_of(stored).startswith("denied:"), text_of(stored)


def test_a_number_is_taken_as_its_digits(server, world):
    async def go():
        async with connect(server, world["agents"]["reader"]["key"]) as c:
            put = await c.call_tool("put_secret", {"path": "pins/door", "value": 482913, "type": "password"})
            got = await c.call_tool("get_secret", {"path": "pins/door"})
            return put, got

    put, got = run(go())
    assert data_of(put)["version"] == 1
    assert data_of(got)["value"] == "482913" and data_of(got)["encoding"] == "utf-8"


def test_no_bearer_gets_the_rfc9728_challenge(server):
    req = urllib.request.Request(server["base"] + "/mcp", method="POST", data=b"{}",
                                 headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=30)
    assert e.value.code == 401
    challenge = e.value.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ") and "resource_metadata=" in challenge
    metadata_url = challenge.split('resource_metadata="', 1)[1].split('"', 1)[0]
    with urllib.request.urlopen(metadata_url, timeout=30) as resp:
        metadata = json.loads(resp.read())
    assert metadata["resource"] == server["base"] + "/mcp"
    assert metadata["authorization_servers"] == [server["base"]]


@pytest.mark.parametrize("bearer", ["ocv_" + "0" * 43, "eyJhbGciOiJFZERTQSJ9.e30.c2ln", "nonsense"])
def test_bad_bearers_are_refused_before_any_tool(server, bearer):
    r = httpx2.post(server["base"] + "/mcp", headers={"Authorization": f"Bearer {bearer}",
                                                      "Accept": "application/json, text/event-stream"},
                    json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert r.status_code == 401
    assert "resource_metadata=" in r.headers["www-authenticate"]


def test_foreign_host_and_origin_are_refused(server, world):
    key = world["agents"]["reader"]["key"]
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-06-18"}
    rebound = httpx2.post(server["base"] + "/mcp", headers={**headers, "Host": "attacker.example"}, json=body)
    assert rebound.status_code == 403
    assert "mcp_allowed_hosts" in rebound.text
    cross = httpx2.post(server["base"] + "/mcp", headers={**headers, "Origin": "https://attacker.example"}, json=body)
    assert cross.status_code == 403


def test_every_tool_call_is_audited_without_values(server, world):
    events = ok(api(server, "GET", "/v1/audit/events?action=mcp.tool_call&limit=500"))
    items = events.get("events") or events.get("items") or []
    assert items, events
    tools = {e["resource_id"] for e in items}
    assert {"get_secret", "list_secrets", "put_secret"} <= tools
    dump = json.dumps(events)
    for value in world["canaries"].values():
        assert value not in dump
    assert "rotated-canary" not in dump and "sk-put-canary" not in dump


def test_a_looping_agent_spends_its_own_tool_call_budget(server, world):
    looper = ok(api(server, "POST", "/v1/agents", {"name": world["name"] + "-looper", "vault_ids": [world["vault"]]}))

    async def go():
        # The budget is a burst of 120 renewed at 10 calls a second: a loop of calls faster
        # than that spends it however slow the machine is, so the loop runs until refused
        # (2,000 calls would be over three minutes of renewal).
        results = []
        async with connect(server, looper["api_key"]) as c:
            while len(results) < 2000 and not (results and results[-1].is_error):
                results.append(await c.call_tool("list_vaults", {}))
        async with connect(server, world["agents"]["reader"]["key"]) as c:
            other = await c.call_tool("list_vaults", {})
        return results, other

    results, other = run(go())
    limited = [r for r in results if r.is_error]
    assert limited, f"{len(results)} calls in a loop stay within no budget"
    assert len(results) > 120, "the burst of 120 calls is allowed before the first refusal"
    assert text_of(limited[0]).startswith("rate limited:") and "retry in" in text_of(limited[0])
    assert not other.is_error, "another agent keeps its own budget"


def test_no_value_reaches_the_server_log_even_at_trace():
    from conftest import running

    with running(["--log", "trace"]) as s:
        world = fleet(s)

        async def go():
            async with connect(s, world["agents"]["reader"]["key"]) as c:
                await c.call_tool("get_secret", {"path": "db/password"})
                await c.call_tool("put_secret", {"path": "logged/pin", "value": 97531864})
                await c.call_tool("put_secret", {"path": "logged/key", "value": "log-canary-" + "7" * 24})
                await c.call_tool("put_secret", {"path": "logged/bad", "value": {"nested": "log-canary-nested"}})
                await c.call_tool("inspect_content", {"content": "scan " + world["canaries"]["db/password"]})

        run(go())
        log = s["log"].read_text(errors="replace")
    assert log, "the server logged nothing at trace"
    for value in [*world["canaries"].values(), "97531864", "log-canary-7777", "log-canary-nested",
                  world["agents"]["reader"]["key"]]:
        assert value not in log, value


def test_the_secrets_resource_lists_paths_never_values(server, world):
    async def go(who):
        async with connect(server, world["agents"][who]["key"]) as c:
            listed = await c.list_resources()
            read = await c.read_resource("vault://secrets")
            return listed, read

    listed, read = run(go("user"))
    assert [r.uri for r in listed.resources] == ["vault://secrets"]
    text = read.contents[0].text
    assert {s["path"] for s in json.loads(text)["secrets"]} >= set(world["canaries"])
    for value in world["canaries"].values():
        assert value not in text
