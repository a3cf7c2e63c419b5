"""Two replicas on one PostgreSQL database behind alternating requests, as behind a load
balancer: every MCP request (tool calls, the handshake, the OAuth token) succeeds on either,
since no session lives in one replica's memory."""

import asyncio
import os
import shutil
import subprocess
import uuid

import httpx2
import pytest

from conftest import start_server
from mcp_helpers import api, data_of, fleet

pytestmark = pytest.mark.skipif(
    os.environ.get("CLAWVAULT_TEST_STORAGE") != "postgres", reason="replicas share a PostgreSQL database"
)


class Alternating(httpx2.AsyncBaseTransport):
    """Sends each request to the next replica in turn, as a round-robin load balancer does."""

    def __init__(self, bases):
        self.bases = bases
        self.inner = httpx2.AsyncHTTPTransport()
        self.sent = [0] * len(bases)

    async def handle_async_request(self, request):
        i = sum(self.sent) % len(self.bases)
        self.sent[i] += 1
        target = httpx2.URL(self.bases[i])
        request.url = request.url.copy_with(host=target.host, port=target.port)
        request.headers["host"] = f"{target.host}:{target.port}"
        return await self.inner.handle_async_request(request)

    async def aclose(self):
        await self.inner.aclose()


def test_mcp_calls_succeed_on_either_replica(tmp_path):
    admin_url = os.environ.get("CLAWVAULT_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    name = f"clawvault_test_{uuid.uuid4().hex}"
    subprocess.run(["psql", admin_url, "-qc", f"CREATE DATABASE {name}"], check=True)
    env = {"CLAWVAULT_DATABASE_URL": admin_url.rsplit("/", 1)[0] + "/" + name}
    args = ["--storage", "postgres"]
    try:
        with start_server(tmp_path / "r0", args, env) as r0:
            (tmp_path / "r1").mkdir(mode=0o700)
            shutil.copy(tmp_path / "r0" / "root.key", tmp_path / "r1" / "root.key")
            os.chmod(tmp_path / "r1" / "root.key", 0o600)
            with start_server(tmp_path / "r1", args, env) as r1:
                world = fleet(r0)
                agent = world["agents"]["reader"]
                transport = Alternating([r0["base"], r1["base"]])

                async def go():
                    from mcp import Client
                    from mcp.client.streamable_http import streamable_http_client

                    headers = {"Authorization": f"Bearer {agent['key']}"}
                    async with httpx2.AsyncClient(transport=transport, headers=headers, timeout=30) as http:
                        async with Client(streamable_http_client(r0["base"] + "/mcp", http_client=http),
                                          mode="legacy") as c:
                            results = []
                            for i in range(6):
                                results.append(await c.call_tool("put_secret", {"path": f"rr/{i}", "value": f"v-{i}-" + "x" * 12}))
                                results.append(await c.call_tool("list_secrets", {"prefix": "rr/"}))
                            return results

                results = asyncio.run(go())
                for r in results:
                    data_of(r)
                assert len(data_of(results[-1])["secrets"]) == 6, "every write, through either replica, is seen"
                assert min(transport.sent) >= 6, transport.sent
    finally:
        subprocess.run(["psql", admin_url, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=False)
