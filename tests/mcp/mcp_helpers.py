"""Helpers for the MCP tests: native API calls that set up vaults, agents, policies and secrets
(as an admin would), and a connected `mcp` SDK client for an agent's bearer."""

import contextlib
import json
import urllib.error
import urllib.request
import uuid

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


def api(server, method, path, body=None, key=None):
    """One native API call; returns (status, JSON body or None)."""
    req = urllib.request.Request(
        server["base"] + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key or server['admin_key']}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read()
            return resp.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        text = e.read()
        return e.code, (json.loads(text) if text else None)


def ok(result):
    status, body = result
    assert 200 <= status < 300, (status, body)
    return body


def fleet(server):
    """A vault with secrets, and agents holding read, use-only and nothing on it. Values are
    canaries: the tests look for them where they must never be."""
    name = f"mcp-{uuid.uuid4().hex[:8]}"
    vault = ok(api(server, "POST", "/v1/vaults", {"name": name}))["id"]
    canaries = {
        "bots/discord/token": f"discord-canary-{uuid.uuid4().hex}",
        "db/password": f"db-canary-{uuid.uuid4().hex}",
    }
    for path, value in canaries.items():
        ok(api(server, "PUT", f"/v1/vaults/{vault}/secrets/{path}", {"value": value, "type": "password"}))
    ok(api(server, "PUT", f"/v1/vaults/{vault}/secrets/bots/env", {"value": "A=1\nB='two'\n", "type": "env_bundle"}))
    # Short enough to guess: recognised only for an agent that may read it anyway.
    ok(api(server, "PUT", f"/v1/vaults/{vault}/secrets/door/pin", {"value": "48213579", "type": "password"}))
    agents = {}
    for who, perms in [("reader", ["read", "write", "share"]), ("user", ["use", "list"]),
                       ("roller", ["rotate", "list"]), ("stranger", None)]:
        made = ok(api(server, "POST", "/v1/agents", {"name": f"{name}-{who}", "vault_ids": [vault]}))
        agent_id = made["agent"]["id"]
        if perms:
            ok(api(server, "POST", f"/v1/vaults/{vault}/policies", {
                "principal_type": "agent", "principal_id": agent_id,
                "secret_path_pattern": "**", "permissions": perms,
            }))
        agents[who] = {"id": agent_id, "key": made["api_key"]}
    free = ok(api(server, "POST", "/v1/agents", {"name": f"{name}-free"}))
    agents["free"] = {"id": free["agent"]["id"], "key": free["api_key"]}
    return {"vault": vault, "name": name, "canaries": canaries, "agents": agents}


@contextlib.asynccontextmanager
async def connect(server, bearer, mode="legacy", headers=None):
    """An `mcp` SDK client on /mcp with `bearer`."""
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {bearer}", **(headers or {})}, timeout=30)
    async with http:
        async with Client(streamable_http_client(server["base"] + "/mcp", http_client=http), mode=mode) as client:
            yield client


def text_of(result):
    return "".join(getattr(c, "text", "") for c in result.content)


def data_of(result):
    assert not result.is_error, text_of(result)
    return json.loads(text_of(result))
