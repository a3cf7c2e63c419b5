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


def run_tool(server, key, arguments, allow=True, vault=None):
    args = (["--allow-run"] if allow else []) + (["--vault", vault] if vault else [])

    async def go():
        async with Client(stdio(server, key, args=args), mode="legacy") as c:
            tools = await c.list_tools()
            return {t.name for t in tools.tools}, await c.call_tool("run_with_secrets", arguments)

    return asyncio.run(go())


def test_run_with_secrets_runs_with_values_it_never_shows(server):
    world = fleet(server)
    key = world["agents"]["user"]["key"]
    script = 'echo "db=$DB"; printf %s "$DB" | base64; env; echo done >&2'
    names, result = run_tool(server, key, {"command": [script], "shell": True, "env": {"DB": "db/password"}})
    assert "run_with_secrets" in names
    out = data_of(result)
    assert out["exit_code"] == 0 and not out["timed_out"]
    assert out["stdout"].count("[REDACTED:db/password]") >= 3, out["stdout"]
    assert world["canaries"]["db/password"] not in text_of(result)
    assert key not in text_of(result) and "CLAWVAULT_AGENT_KEY" not in out["stdout"], "the agent's key stays out"
    assert out["stderr"] == "done\n"


def test_run_with_secrets_is_off_unless_allowed_and_bounded_when_on(server):
    world = fleet(server)
    key = world["agents"]["user"]["key"]
    names, off = run_tool(server, key, {"command": ["true"]}, allow=False)
    assert "run_with_secrets" not in names
    assert off.is_error and "--allow-run" in text_of(off)
    _, slow = run_tool(server, key, {"command": ["sleep", "30"], "timeout_seconds": 1})
    assert data_of(slow)["timed_out"]
    _, refused = run_tool(server, world["agents"]["stranger"]["key"], {"command": ["env"], "env": {"DB": "db/password"}},
                          vault=world["name"])
    assert refused.is_error and world["canaries"]["db/password"] not in text_of(refused)
    _, bad = run_tool(server, key, {"command": ["env"], "env": {"1BAD": "db/password"}})
    assert bad.is_error and text_of(bad).startswith("invalid request:")
