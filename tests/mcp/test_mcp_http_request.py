"""`http_request`: an agent that may only *use* a key calls an HTTP API with it filled in, and
never sees it. Upstreams are real HTTP servers on loopback addresses that record what reaches
them: the value arrives only where the secret's `allowed_hosts` says, nothing is sent anywhere
else, and an upstream that echoes the key (raw, base64, split across chunks) has it redacted."""

import asyncio
import base64
import gzip
import http.server
import json
import threading
import time
import uuid

import pytest

from mcp_helpers import api, connect, data_of, ok, text_of


class Upstream:
    """An HTTP server on `host` that records requests and answers by path:
    /echo the Authorization header raw and base64; /chunks it split over two chunks;
    /redirect a 302 elsewhere; anything else 200 "ok"."""

    def __init__(self, host="127.0.0.1"):
        self.seen = []
        upstream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                self.handle_any()

            def do_POST(self):
                self.handle_any()

            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                upstream.seen.append({"method": self.command, "path": self.path,
                                      "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body.decode(errors="replace")})
                auth = self.headers.get("Authorization", "")
                if self.path.startswith("/echo"):
                    out = f"raw={auth} b64={base64.b64encode(auth.encode()).decode()} q={self.path}".encode()
                    self.answer(200, [out])
                elif self.path.startswith("/chunks"):
                    half = len(auth) // 2
                    self.answer(200, [b"start " + auth[:half].encode(), auth[half:].encode() + b" end"], chunked=True)
                elif self.path.startswith("/gzip"):
                    self.send_response(200)
                    self.send_header("Content-Encoding", "gzip")
                    packed = gzip.compress(auth.encode())
                    self.send_header("Content-Length", str(len(packed)))
                    self.end_headers()
                    self.wfile.write(packed)
                elif self.path.startswith("/utf16"):
                    self.answer(200, [auth.encode("utf-16-le")])
                elif self.path.startswith("/big"):
                    # The value straddles the 1 MiB the server reads: its head falls before the cut.
                    cut = 1024 * 1024 - 12
                    self.answer(200, [b"f" * cut + auth.encode() + b" and more"])
                elif self.path.startswith("/redirect"):
                    self.send_response(302)
                    self.send_header("Location", "http://127.0.0.2:9/stolen")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self.answer(200, [b"ok"])

            def answer(self, status, parts, chunked=False):
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for part in parts:
                        self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                        self.wfile.flush()
                        time.sleep(0.05)
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    body = b"".join(parts)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.port = self.httpd.server_address[1]
        self.host = host
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path):
        return f"http://{self.host}:{self.port}{path}"

    def close(self):
        self.httpd.shutdown()


@pytest.fixture(scope="module")
def upstreams():
    allowed, other = Upstream("127.0.0.1"), Upstream("127.0.0.2")
    yield allowed, other
    allowed.close()
    other.close()


@pytest.fixture(scope="module")
def setup(server, upstreams):
    allowed, _ = upstreams
    name = f"egress-{uuid.uuid4().hex[:8]}"
    vault = ok(api(server, "POST", "/v1/vaults", {"name": name}))["id"]
    key = f"sk-egress-canary-{uuid.uuid4().hex}"
    secrets = {
        "providers/echo": (key, [f"127.0.0.1:{allowed.port}"]),
        "providers/named": ("named-canary-" + uuid.uuid4().hex, [f"localhost:{allowed.port}"]),
        "providers/nowhere": ("nowhere-canary-" + uuid.uuid4().hex, None),
        "providers/crlf": ("line\r\nX-Injected: yes", [f"127.0.0.1:{allowed.port}"]),
        "providers/slashy": (f"slash/val=ue-{uuid.uuid4().hex}", [f"127.0.0.1:{allowed.port}"]),
    }
    for path, (value, hosts) in secrets.items():
        body = {"value": value, "type": "api_key"}
        if hosts is not None:
            body["metadata"] = {"allowed_hosts": hosts}
        ok(api(server, "PUT", f"/v1/vaults/{vault}/secrets/{path}", body))
    made = ok(api(server, "POST", "/v1/agents", {"name": f"{name}-user", "vault_ids": [vault]}))
    ok(api(server, "POST", f"/v1/vaults/{vault}/policies", {
        "principal_type": "agent", "principal_id": made["agent"]["id"],
        "secret_path_pattern": "**", "permissions": ["use"],
    }))
    stranger = ok(api(server, "POST", "/v1/agents", {"name": f"{name}-stranger", "vault_ids": [vault]}))
    return {"vault": vault, "key": key, "secrets": secrets, "agent": made["api_key"], "stranger": stranger["api_key"]}


def call(server, bearer, args):
    async def go():
        async with connect(server, bearer) as c:
            return await c.call_tool("http_request", args)

    return asyncio.run(go())


def test_the_key_reaches_the_allowed_upstream_and_its_echo_is_redacted(server, upstreams, setup):
    allowed, _ = upstreams
    before = len(allowed.seen)
    result = call(server, setup["agent"], {
        "method": "GET", "url": allowed.url("/echo?k={{secret:providers/echo}}"),
        "headers": {"Authorization": "Bearer {{secret:providers/echo}}"},
    })
    answer = data_of(result)
    assert answer["status"] == 200
    seen = allowed.seen[before:]
    assert len(seen) == 1 and seen[0]["headers"]["authorization"] == "Bearer " + setup["key"]
    assert setup["key"] in seen[0]["path"] or setup["key"].replace("-", "%2D") in seen[0]["path"]
    shown = text_of(result)
    assert setup["key"] not in shown
    assert base64.b64encode(f"Bearer {setup['key']}".encode()).decode()[8:40] not in shown
    assert "[REDACTED:providers/echo]" in answer["body"]
    assert answer["secrets_used"] == ["providers/echo"]


def test_an_echo_split_across_chunks_is_redacted(server, upstreams, setup):
    allowed, _ = upstreams
    result = call(server, setup["agent"], {
        "url": allowed.url("/chunks"), "headers": {"Authorization": "{{secret:providers/echo}}"},
    })
    answer = data_of(result)
    assert answer["body"].startswith("start ") and answer["body"].endswith(" end")
    assert setup["key"] not in text_of(result)
    assert setup["key"][: len(setup["key"]) // 2] not in text_of(result)


def test_a_host_the_secret_does_not_allow_receives_nothing(server, upstreams, setup):
    allowed, other = upstreams
    before_other, before_allowed = len(other.seen), len(allowed.seen)
    refused = [
        # Another address than the one allowed.
        call(server, setup["agent"], {"url": other.url("/x"), "headers": {"Authorization": "{{secret:providers/echo}}"}}),
        # A secret without allowed_hosts goes nowhere.
        call(server, setup["agent"], {"url": allowed.url("/x"), "body": "{{secret:providers/nowhere}}", "method": "POST"}),
        # A name that resolves to loopback does not open the inside of the network.
        call(server, setup["agent"], {"url": f"http://localhost:{allowed.port}/x",
                                      "headers": {"Authorization": "{{secret:providers/named}}"}}),
        # No placeholder: no open relay.
        call(server, setup["agent"], {"url": allowed.url("/x")}),
        # A value with CR LF would inject a header.
        call(server, setup["agent"], {"url": allowed.url("/x"), "headers": {"X-Key": "{{secret:providers/crlf}}"}}),
        # An agent without `use`.
        call(server, setup["stranger"], {"url": allowed.url("/x"), "headers": {"Authorization": "{{secret:providers/echo}}"}}),
        # A secret that does not exist.
        call(server, setup["agent"], {"url": allowed.url("/x"), "headers": {"Authorization": "{{secret:providers/none}}"}}),
        # Not HTTP.
        call(server, setup["agent"], {"url": "file:///etc/passwd?{{secret:providers/echo}}"}),
    ]
    for r in refused:
        assert r.is_error, text_of(r)
        for value, _ in setup["secrets"].values():
            assert value not in text_of(r)
    assert text_of(refused[0]).startswith("denied:") and "127.0.0.2" in text_of(refused[0])
    assert "allowed_hosts" in text_of(refused[1])
    assert text_of(refused[3]).startswith("invalid request:")
    assert len(other.seen) == before_other and len(allowed.seen) == before_allowed, "nothing was sent"
    events = ok(api(server, "GET", "/v1/audit/events?action=secret.use&limit=100"))
    denied = [e for e in events["events"] if e["outcome"] == "denied" and "127.0.0.2" in json.dumps(e["details"])]
    assert denied, "the refused destination is audited"


def test_a_redirect_is_not_followed_with_the_key(server, upstreams, setup):
    allowed, other = upstreams
    before = len(other.seen)
    answer = data_of(call(server, setup["agent"], {
        "url": allowed.url("/redirect"), "headers": {"Authorization": "{{secret:providers/echo}}"},
    }))
    assert answer["status"] == 302 and answer["headers"]["location"] == "http://127.0.0.2:9/stolen"
    assert len(other.seen) == before


def test_answers_that_would_hide_an_echo_are_not_returned(server, upstreams, setup):
    allowed, _ = upstreams
    auth = {"Authorization": "{{secret:providers/echo}}"}
    gz = call(server, setup["agent"], {"url": allowed.url("/gzip"), "headers": auth})
    assert gz.is_error and "encoded" in text_of(gz), text_of(gz)
    wide = call(server, setup["agent"], {"url": allowed.url("/utf16"), "headers": auth})
    assert wide.is_error and "not text" in text_of(wide), text_of(wide)
    for header in ("Accept-Encoding", "Range", "X-Forwarded-Host"):
        asked = call(server, setup["agent"], {"url": allowed.url("/echo"), "headers": {**auth, header: "gzip"}})
        assert asked.is_error and text_of(asked).startswith("invalid request:"), text_of(asked)
    seen = [r for r in allowed.seen if r["path"] == "/gzip"]
    assert seen and seen[-1]["headers"]["accept-encoding"] == "identity"


def test_a_value_cut_at_the_limit_is_not_returned_in_part(server, upstreams, setup):
    allowed, _ = upstreams
    answer = data_of(call(server, setup["agent"], {"url": allowed.url("/big"), "headers": {"Authorization": "{{secret:providers/echo}}"}}))
    assert answer["truncated"]
    assert setup["key"][:8] not in answer["body"][-200:], "no head of the value survives the cut"


def test_a_value_percent_encoded_into_the_url_is_redacted_in_an_echo(server, upstreams, setup):
    allowed, _ = upstreams
    value = setup["secrets"]["providers/slashy"][0]
    result = call(server, setup["agent"], {"url": allowed.url("/echo/{{secret:providers/slashy}}"),
                                           "headers": {"Authorization": "none"}})
    answer = data_of(result)
    assert allowed.seen[-1]["path"].startswith("/echo/slash%2Fval%3Due-")
    assert "val%3Due" not in text_of(result) and value not in text_of(result)
    assert "[REDACTED:providers/slashy]" in answer["body"]


def test_a_host_no_entry_names_is_not_even_looked_up(server, setup):
    refused = call(server, setup["agent"], {"url": "https://db.corp.invalid/{{secret:providers/echo}}"})
    assert refused.is_error and "may not be sent to db.corp.invalid:443" in text_of(refused), text_of(refused)
    assert "resolve" not in text_of(refused)
