"""`clawvault mcp` over stdio, driven by the official `mcp` Python SDK as Claude Desktop would
start it: the agent's key in CLAWVAULT_AGENT_KEY (or --key-file), the address from the usual
configuration. Its stderr never holds a value."""

import asyncio
import os
import subprocess
import tempfile

from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from mcp_helpers import data_of, fleet, text_of


def stdio(server, key=None, args=(), env=None):
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": tempfile.mkdtemp(),
        "CLAWVAULT_ADDR": server["base"],
        **({"CLAWVAULT_AGENT_KEY": key} if key else {}),
        **(env or {}),
    }
    return StdioServerParameters(command=os.environ["CLAWVAULT_BIN"], args=["mcp", *args], env=environment)


def test_an_agent_uses_its_tools_over_stdio(server, tmp_path):
    world = fleet(server)
    errlog = tmp_path / "stderr"

    async def go():
        with open(errlog, "w") as err:
            params = stdio(server, world["agents"]["reader"]["key"])
            async with Client(stdio_client(params, errlog=err), mode="legacy") as c:
                tools = await c.list_tools()
                got = await c.call_tool("get_secret", {"path": "db/password"})
                listed = await c.call_tool("list_secrets", {})
                resource = await c.read_resource("vault://secrets")
            return tools, got, listed, resource

    tools, got, listed, resource = asyncio.run(go())
    assert "db/password" in resource.contents[0].text
    assert world["canaries"]["db/password"] not in resource.contents[0].text
    assert "get_secret" in {t.name for t in tools.tools}
    assert data_of(got)["value"] == world["canaries"]["db/password"]
    assert {s["path"] for s in data_of(listed)["secrets"]} >= set(world["canaries"])
    stderr = errlog.read_text()
    for value in world["canaries"].values():
        assert value not in stderr
    assert world["agents"]["reader"]["key"] not in stderr


def test_a_users_key_is_not_handed_to_a_model(server):
    params = stdio(server, env={"CLAWVAULT_API_KEY": server["admin_key"]})
    done = subprocess.run([params.command, *params.args], env=params.env, input="", capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 9, (done.returncode, done.stderr)
    assert "agent's key" in done.stderr and server["admin_key"] not in done.stderr
    assert done.stdout == ""


def test_a_refused_key_stops_at_once_with_the_cause(server):
    params = stdio(server, "ocv_" + "A" * 43)
    done = subprocess.run([params.command, *params.args], env=params.env, input="", capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 4, (done.returncode, done.stderr)
    assert done.stdout == "", "stdout carries MCP messages only"
    assert "error:" in done.stderr and "ocv_AAAA" not in done.stderr


def test_a_use_only_agent_is_refused_values_over_stdio(server, tmp_path):
    world = fleet(server)
    key_file = tmp_path / "agent.key"
    key_file.write_text(world["agents"]["user"]["key"] + "\n")
    key_file.chmod(0o600)

    async def go():
        async with Client(stdio(server, args=["--key-file", str(key_file), "--vault", world["name"]]), mode="legacy") as c:
            return await c.call_tool("get_secret", {"path": "db/password"})

    refused = asyncio.run(go())
    assert refused.is_error and text_of(refused).startswith("denied:")
    assert world["canaries"]["db/password"] not in text_of(refused)
