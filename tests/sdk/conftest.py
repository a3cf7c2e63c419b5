"""Starts the real clawvault binary (CLAWVAULT_BIN) on a free loopback port with a throwaway
data directory, and hands tests its address and first admin key."""

import os
import pathlib
import subprocess
import tempfile

import pytest


@pytest.fixture(scope="module")
def server():
    binary = os.environ.get("CLAWVAULT_BIN")
    assert binary and os.path.exists(binary), "set CLAWVAULT_BIN to the clawvault binary (scripts/test does)"
    with tempfile.TemporaryDirectory() as tmp:
        data = pathlib.Path(tmp) / "data"
        log = open(pathlib.Path(tmp) / "server.log", "wb")
        proc = subprocess.Popen(
            [binary, "server", "--data-dir", str(data), "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        base = None
        for line in proc.stdout:
            if "listening on " in line:
                base = line.split("listening on ", 1)[1].strip()
                break
        assert base, "server did not start"
        key = (data / "admin-key").read_text().strip()
        try:
            yield {"base": base, "admin_key": key}
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()
