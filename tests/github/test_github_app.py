"""Minted GitHub App installation tokens against a fake GitHub that checks the app JWT as GitHub
does: an agent with `use` gets a token from the native API, the CLI, the MCP tool and the Vault
API path ESO's VaultDynamicSecret calls, narrowed when asked; the second call is served from the
cache (GitHub sees one exchange); the private key is never revealed and never audited; an agent
without `use`, a bad value and a wrong installation are refused, GitHub's reason passed on."""

import asyncio
import concurrent.futures
import json
import os
import subprocess
import sys
import uuid

import hvac
import pytest
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "mcp"))
sys.path.insert(0, os.path.dirname(__file__))
from conftest import running  # noqa: E402
from fake_github import FakeGitHub  # noqa: E402
from mcp_helpers import api, connect, data_of, ok, text_of  # noqa: E402

PATH = "github/app"


@pytest.fixture(scope="module")
def github():
    fake = FakeGitHub()
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def world(github, tmp_path_factory):
    config = tmp_path_factory.mktemp("cfg") / "clawvault.toml"
    config.write_text(f'[github]\napi_base = "{github.base}"\n')
    with running(("--config", str(config))) as server:
        name = f"gh-{uuid.uuid4().hex[:8]}"
        vault = ok(api(server, "POST", "/v1/vaults", {"name": name}))["id"]
        value = json.dumps({"app_id": github.app_id, "installation_id": github.installation_id,
                            "private_key": github.private_pem})
        ok(api(server, "PUT", f"/v1/vaults/{vault}/secrets/{PATH}", {"value": value, "type": "github_app"}))
        wrong = json.dumps({"app_id": github.app_id, "installation_id": 1234, "private_key": github.private_pem})
        ok(api(server, "PUT", f"/v1/vaults/{vault}/secrets/github/wrong", {"value": wrong, "type": "github_app"}))
        agents = {}
        for who, perms in [("user", ["use"]), ("lister", ["list"])]:
            made = ok(api(server, "POST", "/v1/agents", {"name": f"{name}-{who}", "vault_ids": [vault]}))
            ok(api(server, "POST", f"/v1/vaults/{vault}/policies", {
                "principal_type": "agent", "principal_id": made["agent"]["id"],
                "secret_path_pattern": "**", "permissions": perms,
            }))
            agents[who] = made["api_key"]
        yield {"server": server, "vault": vault, "name": name, "agents": agents}


def mint(world, key, body=None, path=PATH):
    return api(world["server"], "POST", f"/v1/vaults/{world['vault']}/github-token/{path}", body or {}, key=key)


def test_an_agent_with_use_gets_a_token_and_the_second_call_is_cached(world, github):
    before = len(github.exchanges)
    first = ok(mint(world, world["agents"]["user"]))
    assert first["token"].startswith("ghs_") and first["cached"] is False
    assert len(github.exchanges) == before + 1, github.refusals
    claims = github.exchanges[-1]["claims"]
    assert claims["exp"] - claims["iat"] <= 600 and str(claims["iss"]) == str(github.app_id)
    second = ok(mint(world, world["agents"]["user"]))
    assert second["token"] == first["token"] and second["cached"] is True
    assert len(github.exchanges) == before + 1, "the cache answered; GitHub saw nothing"

    narrowed = ok(mint(world, world["agents"]["user"], {"repositories": ["api", "web"], "permissions": {"contents": "read"}}))
    assert narrowed["token"] != first["token"] and narrowed["repositories"] == ["api", "web"]
    assert github.exchanges[-1]["body"] == {"repositories": ["api", "web"], "permissions": {"contents": "read"}}
    again = ok(mint(world, world["agents"]["user"], {"repositories": ["web", "api"], "permissions": {"contents": "read"}}))
    assert again["token"] == narrowed["token"] and again["cached"], "the same narrowing in another order is the same token"


def test_the_key_is_never_revealed_and_others_get_nothing(world, github):
    before = len(github.exchanges)
    status, body = api(world["server"], "GET", f"/v1/vaults/{world['vault']}/secrets/{PATH}", key=world["agents"]["user"])
    assert status == 403, body
    status, body = mint(world, world["agents"]["lister"])
    assert status == 403, body
    status, body = mint(world, world["agents"]["user"], {"permissions": {"contents": "everything"}})
    assert status == 400 and "read, write or admin" in body["detail"], body
    assert len(github.exchanges) == before, "nothing was sent for a refusal"

    status, body = mint(world, world["agents"]["user"], path="github/wrong")
    assert status == 502, body
    assert "installation_id" in body["detail"] and "Not Found" in body["detail"], body

    # Audit: every mint is an event, none holds a token or the key.
    events = ok(api(world["server"], "GET", "/v1/audit/events?action=github.token_mint&limit=100"))
    text = json.dumps(events)
    assert events["events"], events
    assert "ghs_" not in text and "PRIVATE KEY" not in text and github.private_pem[40:80] not in text
    assert any(e.get("details", {}).get("cached") is True for e in events["events"]), text[:2000]


def test_values_that_cannot_mint_are_refused_on_write(world, github):
    for value in ["not json canary-77", json.dumps({"app_id": 1, "installation_id": 2, "private_key": "-----BEGIN RSA PRIVATE KEY-----\ncanary-77\n-----END RSA PRIVATE KEY-----\n"})]:
        status, body = api(world["server"], "PUT", f"/v1/vaults/{world['vault']}/secrets/github/bad",
                           {"value": value, "type": "github_app"})
        assert status == 400 and "canary" not in json.dumps(body), body


def test_the_cli_the_mcp_tool_and_the_vault_api_hand_out_the_same_token(world, github):
    server, key = world["server"], world["agents"]["user"]
    token = ok(mint(world, key))["token"]
    env = {**os.environ, "CLAWVAULT_ADDR": server["base"], "CLAWVAULT_API_KEY": key, "HOME": "/nonexistent",
           "CLAWVAULT_CONFIG_DIR": "/nonexistent"}
    done = subprocess.run([os.environ["CLAWVAULT_BIN"], "github-token", f"{world['name']}/{PATH}"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == token

    async def tool():
        async with connect(server, key) as c:
            return await c.call_tool("github_token", {"path": PATH, "vault": world["name"]})

    got = data_of(asyncio.run(tool()))
    assert got["token"] == token and "private_key" not in text_of(asyncio.run(tool()))

    client = hvac.Client(url=server["base"], token=key)
    read = client.read(f"{world['name']}/github-token/{PATH}")
    assert read["data"]["token"] == token and read["lease_duration"] > 3000
    written = client.write(f"{world['name']}/github-token/{PATH}", repositories=["api"])
    assert written["data"]["repositories"] == ["api"] and written["data"]["token"].startswith("ghs_")


def test_sync_writes_the_token_for_gh_and_an_environment_file(world, github, tmp_path):
    server, key = world["server"], world["agents"]["user"]
    (tmp_path / "agent.key").write_text(key + "\n")
    (tmp_path / "agent.key").chmod(0o600)
    config = tmp_path / "sync.toml"
    config.write_text(f"""address = "{server['base']}"
key_file = "{tmp_path / 'agent.key'}"
cache_dir = "{tmp_path / 'cache'}"

[[github_token]]
secret = "{world['name']}/{PATH}"
env_file = "{tmp_path / 'run' / 'github.env'}"
gh_hosts = "{tmp_path / 'gh' / 'hosts.yml'}"
repositories = ["api"]
permissions = {{ contents = "read" }}
mode = "0400"
""")
    env = {**os.environ, "HOME": str(tmp_path), "CLAWVAULT_CONFIG_DIR": str(tmp_path / "cfg")}
    done = subprocess.run([os.environ["CLAWVAULT_BIN"], "sync", "--config", str(config), "--once"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = (tmp_path / "run" / "github.env").read_text().splitlines()
    token = lines[0].split("=", 1)[1]
    assert token.startswith("ghs_") and lines == [f"GITHUB_TOKEN={token}", f"GH_TOKEN={token}"]
    assert any(e["token"] == token and e["body"] == {"repositories": ["api"], "permissions": {"contents": "read"}}
               for e in github.exchanges), "minted with the narrowing the entry names"
    hosts = yaml.safe_load((tmp_path / "gh" / "hosts.yml").read_text())
    assert hosts["github.com"]["oauth_token"] == token
    assert oct((tmp_path / "gh" / "hosts.yml").stat().st_mode & 0o777) == "0o400"
    assert token not in done.stdout + done.stderr


def test_a_use_only_agent_never_opens_the_key_by_another_door(world, github):
    key = world["agents"]["user"]
    status, body = api(world["server"], "POST", f"/v1/vaults/{world['vault']}/secret-use/{PATH}", key=key)
    assert status == 403 and "github_app" in body["detail"] and "PRIVATE KEY" not in json.dumps(body), body
    env = {**os.environ, "CLAWVAULT_ADDR": world["server"]["base"], "CLAWVAULT_API_KEY": key, "HOME": "/nonexistent",
           "CLAWVAULT_CONFIG_DIR": "/nonexistent"}
    done = subprocess.run([os.environ["CLAWVAULT_BIN"], "run", "--env", f"K={world['name']}/{PATH}", "--", "sh", "-c",
                           'printf %s "$K"'], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "PRIVATE KEY" not in done.stdout + done.stderr, done.stdout + done.stderr


def test_what_github_answers_is_checked_and_callers_arriving_together_share_one_mint(world, github):
    key = world["agents"]["user"]
    try:
        github.bad_token = "ghs_a\nLD_PRELOAD=/tmp/evil.so"
        status, body = mint(world, key, {"repositories": ["bad-token"]})
        assert status == 502 and "not a token" in body["detail"] and "LD_PRELOAD" not in body["detail"], body
        github.bad_token = None
        github.expires_in = -60
        status, body = mint(world, key, {"repositories": ["expired"]})
        assert status == 502 and "expired" in body["detail"], body
        github.expires_in = 3600
        github.delay = 0.5
        before = len(github.exchanges)
        with concurrent.futures.ThreadPoolExecutor(5) as pool:
            answers = list(pool.map(lambda _: ok(mint(world, key, {"repositories": ["together"]})), range(5)))
        assert len(github.exchanges) == before + 1, "one exchange for five callers"
        assert len({a["token"] for a in answers}) == 1 and sum(not a["cached"] for a in answers) == 1
    finally:
        github.bad_token, github.expires_in, github.delay = None, 3600, 0.0


def test_a_read_limited_app_secret_spends_a_reading_per_mint_and_keeps_nothing(world, github):
    value = json.dumps({"app_id": github.app_id, "installation_id": github.installation_id,
                        "private_key": github.private_pem})
    ok(api(world["server"], "PUT", f"/v1/vaults/{world['vault']}/secrets/github/limited",
           {"value": value, "type": "github_app", "max_access_count": 2}))
    before = len(github.exchanges)
    first = ok(mint(world, world["agents"]["user"], path="github/limited"))
    second = ok(mint(world, world["agents"]["user"], path="github/limited"))
    assert not first["cached"] and not second["cached"] and len(github.exchanges) == before + 2
    status, body = mint(world, world["agents"]["user"], path="github/limited")
    assert status == 410, body
