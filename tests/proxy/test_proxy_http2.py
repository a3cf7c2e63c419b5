"""An upstream that speaks HTTP/2 over TLS (hypercorn, ALPN h2) behind a private CA: the proxy
trusts it through `[proxy] ca_file`, talks HTTP/2 to it, injects the key and streams the answer
back; a server not told about the CA refuses the upstream's certificate with a 502 and sends
nothing."""

import asyncio
import contextlib
import json
import pathlib
import socket
import tempfile
import threading

import httpx
import pytest
import trustme
from hypercorn.asyncio import serve
from hypercorn.config import Config

from conftest import running
from proxy_helpers import fleet, route


class H2Upstream:
    """hypercorn on 127.0.0.1 with a certificate of `ca`; answers whether the key it got is
    `key` and which HTTP version carried the request; /stream streams three events."""

    def __init__(self, ca, key):
        self.key, self.seen = key, []
        cert = ca.issue_cert("127.0.0.1")
        self.dir = tempfile.TemporaryDirectory()
        d = pathlib.Path(self.dir.name)
        cert.private_key_pem.write_to_path(d / "key.pem")
        cert.cert_chain_pems[0].write_to_path(d / "cert.pem")
        # A socket bound here, handed to hypercorn, so the port is known before it serves.
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        config = Config()
        config.bind = [f"fd://{self.sock.fileno()}"]
        config.certfile, config.keyfile = str(d / "cert.pem"), str(d / "key.pem")
        config.alpn_protocols = ["h2", "http/1.1"]
        config.loglevel = "ERROR"
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        self.thread = threading.Thread(target=self.loop.run_until_complete,
                                       args=(serve(self.app, config, shutdown_trigger=self.stopped),), daemon=True)
        self.thread.start()

    async def stopped(self):
        await self.stop.wait()

    async def app(self, scope, receive, send):
        if scope["type"] != "http":
            return
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.seen.append({"version": scope["http_version"], "path": scope["path"], "headers": headers})
        good = headers.get("authorization") == f"Bearer {self.key}"
        kind = b"text/event-stream" if scope["path"] == "/stream" else b"application/json"
        await send({"type": "http.response.start", "status": 200 if good else 401, "headers": [(b"content-type", kind)]})
        if scope["path"] == "/stream":
            for i in range(3):
                await send({"type": "http.response.body", "body": f"data: {i}\n\n".encode(), "more_body": True})
                await asyncio.sleep(0.05)
            await send({"type": "http.response.body", "body": b""})
        else:
            body = json.dumps({"http_version": scope["http_version"], "key_ok": good}).encode()
            await send({"type": "http.response.body", "body": body})

    def url(self):
        return f"https://127.0.0.1:{self.port}"

    def close(self):
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)
        with contextlib.suppress(OSError):  # hypercorn may have closed it already
            self.sock.close()
        self.dir.cleanup()


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


def test_an_http2_upstream_behind_a_private_ca_is_reached_through_the_configured_ca(ca):
    with tempfile.TemporaryDirectory() as tmp:
        ca_file = pathlib.Path(tmp) / "ca.pem"
        ca.cert_pem.write_to_path(ca_file)
        config = pathlib.Path(tmp) / "clawvault.toml"
        config.write_text(f'[proxy]\nca_file = "{ca_file}"\n')
        with running(("--config", str(config))) as server:
            f = fleet(server)
            up = H2Upstream(ca, f["keys"]["providers/echo"])
            try:
                vault = f["vault"]["name"]
                route(server, "h2", vault, upstream=up.url(),
                      inject=[{"in": "header", "name": "Authorization", "value": "Bearer {{secret:providers/echo}}"}])
                auth = {"Authorization": f"Bearer {f['agents']['user']['key']}"}
                r = httpx.get(f"{server['base']}/proxy/h2/version", headers=auth, timeout=30)
                assert r.status_code == 200, r.text
                assert r.json() == {"http_version": "2", "key_ok": True}
                with httpx.stream("GET", f"{server['base']}/proxy/h2/stream", headers=auth, timeout=30) as s:
                    chunks = [c for c in s.iter_raw() if c]
                assert b"".join(chunks) == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
                assert all(seen["version"] == "2" for seen in up.seen)
            finally:
                up.close()


def test_an_upstream_whose_certificate_is_not_trusted_gets_nothing(server, ca):
    f = fleet(server)
    up = H2Upstream(ca, f["keys"]["providers/echo"])
    try:
        route(server, f"untrusted-{f['vault']['name']}", f["vault"]["name"], upstream=up.url(),
              inject=[{"in": "header", "name": "Authorization", "value": "Bearer {{secret:providers/echo}}"}])
        r = httpx.get(f"{server['base']}/proxy/untrusted-{f['vault']['name']}/version",
                      headers={"Authorization": f"Bearer {f['agents']['user']['key']}"}, timeout=30)
        assert r.status_code == 502, r.text
        assert f["keys"]["providers/echo"] not in r.text
        assert up.seen == [], "the TLS handshake failed before any request"
    finally:
        up.close()
