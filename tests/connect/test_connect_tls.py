"""The Connect listener speaks the server's TLS: a Connect client that trusts the server's
certificate reads through it, and one that sends plain HTTP gets no HTTP answer."""

import http.client
import json
import ssl
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from connect_helpers import title_filter


def self_signed(directory):
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "30", "-subj", "/CN=clawvault",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


def test_the_connect_listener_uses_the_servers_tls():
    from conftest import running

    with tempfile.TemporaryDirectory() as tmp:
        cert, key = self_signed(Path(tmp))
        with running(["--tls-cert", str(cert), "--tls-key", str(key), "--connect-listen", "127.0.0.1:0"]) as s:
            assert s["connect"].startswith("https://127.0.0.1:")
            trusted = ssl.create_default_context(cafile=str(cert))
            req = urllib.request.Request(s["connect"] + "/v1/vaults" + title_filter("default"),
                                         headers={"Authorization": f"Bearer {s['admin_key']}"})
            with urllib.request.urlopen(req, context=trusted, timeout=30) as resp:
                vaults = json.loads(resp.read())
            assert [v["name"] for v in vaults] == ["default"]
            with pytest.raises((urllib.error.URLError, http.client.HTTPException, OSError)):
                urllib.request.urlopen(s["connect"].replace("https://", "http://") + "/heartbeat", timeout=10).read()
