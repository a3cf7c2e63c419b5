"""MCP authorization as the specification asks of an HTTP server, driven by the `mcp` SDK's
own OAuth client: the 401 challenge leads to the protected resource metadata (RFC 9728), that
to this server's authorization server metadata (RFC 8414), and its token endpoint turns the
agent's key into an access token by the client_credentials grant. Refusals follow RFC 6749."""

import asyncio
import base64
import json
import uuid

import httpx2
from mcp import Client
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.streamable_http import streamable_http_client

from mcp_helpers import api, data_of, fleet, ok, text_of


class Memory:
    """Token storage of one test."""

    def __init__(self):
        self.tokens = None
        self.client_info = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


def test_the_sdk_oauth_client_gets_a_token_for_the_agent_and_uses_it(server):
    world = fleet(server)
    agent = world["agents"]["reader"]
    storage = Memory()

    async def go():
        for method in ("client_secret_basic", "client_secret_post"):
            storage.tokens = None
            provider = ClientCredentialsOAuthProvider(
                server_url=server["base"] + "/mcp", storage=storage, client_id=agent["id"],
                client_secret=agent["key"], token_endpoint_auth_method=method, issuer=server["base"],
            )
            async with httpx2.AsyncClient(auth=provider, timeout=30) as http:
                async with Client(streamable_http_client(server["base"] + "/mcp", http_client=http), mode="legacy") as c:
                    got = await c.call_tool("get_secret", {"path": "db/password"})
            assert data_of(got)["value"] == world["canaries"]["db/password"]
            assert storage.tokens is not None and storage.tokens.access_token.count(".") == 2, "a JWT, not the key"

    asyncio.run(go())


def token(server, data, headers=None):
    return httpx2.post(server["base"] + "/oauth/token", data=data, headers=headers or {}, timeout=30)


def test_the_token_endpoint_refuses_as_rfc_6749_says(server):
    world = fleet(server)
    agent = world["agents"]["reader"]
    good = {"grant_type": "client_credentials", "client_id": agent["id"], "client_secret": agent["key"]}

    issued = token(server, {**good, "resource": server["base"] + "/mcp"})
    assert issued.status_code == 200, issued.text
    body = issued.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    assert issued.headers["cache-control"] == "no-store"

    cases = [
        ({**good, "grant_type": "password"}, {}, 400, "unsupported_grant_type"),
        ({**good, "resource": "https://other.example/mcp"}, {}, 400, "invalid_target"),
        ({**good, "client_secret": "ocv_" + "B" * 43}, {}, 401, "invalid_client"),
        ({**good, "client_id": str(uuid.uuid4())}, {}, 401, "invalid_client"),
        ({**good, "client_secret": server["admin_key"]}, {}, 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, {}, 401, "invalid_client"),
        ({**good, "client_id": "not-a-uuid"}, {}, 401, "invalid_client"),
        ({"grant_type": "client_credentials"},
         {"Authorization": "Basic " + base64.b64encode(f"{agent['id']}:wrong".encode()).decode()}, 401, "invalid_client"),
        ({**good}, {"Authorization": "Basic " + base64.b64encode(b"x:y").decode()}, 400, "invalid_request"),
    ]
    for data, headers, status, error in cases:
        r = token(server, data, headers)
        assert (r.status_code, r.json()["error"]) == (status, error), (data, headers, r.text)
        assert agent["key"] not in r.text and server["admin_key"] not in r.text

    # The metadata that leads a client here.
    meta = httpx2.get(server["base"] + "/.well-known/oauth-authorization-server").json()
    assert meta["issuer"] == server["base"]
    assert meta["token_endpoint"] == server["base"] + "/oauth/token"
    assert meta["grant_types_supported"] == ["client_credentials"]
    interactive = httpx2.get(meta["authorization_endpoint"], params={"response_type": "code"})
    assert (interactive.status_code, interactive.json()["error"]) == (400, "unsupported_response_type")


def test_a_scoped_key_is_told_which_scope_a_tool_needs(server):
    world = fleet(server)
    made = ok(api(server, "POST", "/v1/auth/api-keys", {"name": "vaults-only", "scopes": ["vaults:read"]}))
    key = made["api_key"]
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-06-18"}
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "get_secret", "arguments": {"path": "db/password", "vault": world["vault"]}}}
    refused = httpx2.post(server["base"] + "/mcp", headers=headers, json=call)
    assert refused.status_code == 403
    challenge = refused.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="secrets:read"' in challenge
    assert world["canaries"]["db/password"] not in refused.text
    allowed = httpx2.post(server["base"] + "/mcp", headers=headers, json={**call, "params": {"name": "list_vaults", "arguments": {}}})
    assert allowed.status_code == 200, allowed.text
    assert not allowed.json()["result"]["isError"]
