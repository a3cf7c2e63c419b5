"""Starts the real clawvault binary (CLAWVAULT_BIN) on a free loopback port with a throwaway
data directory, and hands tests its address and first admin key. With
CLAWVAULT_TEST_STORAGE=postgres the server runs on a throwaway database of the PostgreSQL named
by CLAWVAULT_TEST_PG_URL."""

import contextlib
import os
import pathlib
import subprocess
import tempfile
import uuid

import pytest


@contextlib.contextmanager
def storage():
    """Extra server arguments and environment for the storage under test."""
    if os.environ.get("CLAWVAULT_TEST_STORAGE") != "postgres":
        yield [], {}
        return
    admin = os.environ.get("CLAWVAULT_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    name = f"clawvault_test_{uuid.uuid4().hex}"
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True)
    try:
        url = admin.rsplit("/", 1)[0] + "/" + name
        yield ["--storage", "postgres"], {"CLAWVAULT_DATABASE_URL": url}
    finally:
        subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=False)


@contextlib.contextmanager
def start_server(data, args=(), env=None):
    """The server on data directory `data` (made if missing): its address, first admin key (a
    replica joining a database that has one gets none), log file, and the address of its
    Connect API when `args` turn it on."""
    binary = os.environ.get("CLAWVAULT_BIN")
    assert binary and os.path.exists(binary), "set CLAWVAULT_BIN to the clawvault binary (scripts/test does)"
    data = pathlib.Path(data)
    log_path = data.parent / f"{data.name}.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [binary, "server", "--data-dir", str(data), "--listen", "127.0.0.1:0", *args],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        base = None
        for line in proc.stdout:
            if "listening on " in line:
                base = line.split("listening on ", 1)[1].strip()
                break
        assert base, "server did not start"
        connect = None
        if "--connect-listen" in args:
            for line in proc.stdout:
                if "Connect API listening on " in line:
                    connect = line.split("listening on ", 1)[1].strip()
                    break
            assert connect, "the Connect API did not start"
        key_file = data / "admin-key"
        key = key_file.read_text().strip() if key_file.exists() else None
        yield {"base": base, "admin_key": key, "log": log_path, "connect": connect}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@contextlib.contextmanager
def running(extra=()):
    """The server with `extra` arguments on a throwaway data directory and the storage under test."""
    with tempfile.TemporaryDirectory() as tmp, storage() as (args, env):
        with start_server(pathlib.Path(tmp) / "data", [*args, *extra], env) as s:
            yield s


@pytest.fixture(scope="module")
def server():
    with running() as s:
        yield s
