"""A clawvault server with its 1Password Connect API on: a vault `prod`, agents with chosen
policies, and requests in Connect's form (Authorization: Bearer) or the native API's."""

import contextlib
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vault"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sdk"))

VAULT = "prod"


def request(base, method, path, token=None, body=None, headers=None, raw=False):
    """(status, body, headers) of one request: the body parsed as JSON unless `raw`."""
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(
        base + path, method=method, data=data,
        headers={**({"Authorization": f"Bearer {token}"} if token else {}),
                 **({"Content-Type": "application/json"} if data is not None else {}), **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, text, got = resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as e:
        status, text, got = e.code, e.read(), e.headers
    if raw:
        return status, text, got
    try:
        return status, (json.loads(text) if text else None), got
    except ValueError:
        return status, text.decode(errors="replace"), got


def title_filter(title, op="eq"):
    """The filter query as the Go SDK (and so ESO) sends it: form-encoded, `+` for spaces."""
    return "?" + urllib.parse.urlencode({"filter": f'title {op} "{title}"'})


class World:
    def __init__(self, server):
        self.server = server
        self.base = server["base"]
        self.connect = server["connect"]
        self.admin = server["admin_key"]
        status, body, _ = self.native("POST", "/v1/vaults", {"name": VAULT})
        assert status == 201, body
        self.vault_id = body["id"]
        self.agent_ids = {}

    def native(self, method, path, body=None, token=None):
        return request(self.base, method, path, token or self.admin, body)

    def put(self, path, value, type_="api_key", metadata=None):
        """A secret written through the native API."""
        body = {"value": value, "type": type_, **({"metadata": metadata} if metadata else {})}
        status, got, _ = self.native("PUT", f"/v1/vaults/{self.vault_id}/secrets/{path}", body)
        assert status == 201, got
        return got

    def agent(self, *grants, name=None):
        """A new agent's key, with a policy per (pattern, permissions) grant (its id is kept
        in `agent_ids`)."""
        status, made, _ = self.native("POST", "/v1/agents", {"name": name or "agent-" + uuid.uuid4().hex[:8]})
        assert status == 201, made
        for pattern, perms in grants:
            status, body, _ = self.native("POST", f"/v1/vaults/{self.vault_id}/policies", {
                "principal_type": "agent", "principal_id": made["agent"]["id"],
                "secret_path_pattern": pattern, "permissions": perms,
            })
            assert status == 201, body
        self.agent_ids[made["api_key"]] = made["agent"]["id"]
        return made["api_key"]

    def c(self, method, path, token, body=None, raw=False):
        """A request to the Connect API."""
        return request(self.connect, method, path, token, body, raw=raw)

    def connect_vault_id(self, token=None):
        status, vaults, _ = self.c("GET", "/v1/vaults" + title_filter(VAULT), token or self.admin)
        assert status == 200 and len(vaults) == 1, vaults
        return vaults[0]["id"]


@contextlib.contextmanager
def world(extra=()):
    from conftest import running

    with running(["--connect-listen", "127.0.0.1:0", *extra]) as s:
        yield World(s)
