"""`clawvault import dotenv` stores what python-dotenv reads from the same file, and python-dotenv
reads back from `clawvault export dotenv` exactly the values the vault holds."""

import json
import os
import subprocess
import urllib.request
import uuid

import dotenv

TRICKY = r"""# settings of a bot
export TOKEN=tok-3f9a   # inline comment
SPACED =  value with spaces
SINGLE='literal $TOKEN and # hash'
DOUBLE="escapes\n\t\"quoted\" \\ back"
MULTI="-----BEGIN KEY-----
line two
-----END KEY-----"
MULTI_SINGLE='first
second'
REF=${TOKEN}/suffix
REF_QUOTED="pre-${SPACED}-post"
EMPTY=
HASH_IN=a#b
URL=postgres://u:p@h:5432/db?sslmode=require
"""


def cli(server, *args):
    env = {**os.environ, "CLAWVAULT_ADDR": server["base"], "CLAWVAULT_API_KEY": server["admin_key"],
           "CLAWVAULT_CONFIG_DIR": server["config_dir"]}
    done = subprocess.run([os.environ["CLAWVAULT_BIN"], *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def read(server, vault, path):
    req = urllib.request.Request(f"{server['base']}/v1/vaults/{vault}/secrets/{path}",
                                 headers={"Authorization": f"Bearer {server['admin_key']}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())["value"]


def test_import_and_export_agree_with_python_dotenv(server, tmp_path):
    server = {**server, "config_dir": str(tmp_path / "config")}
    vault = f"dotenv-{uuid.uuid4().hex[:8]}"
    cli(server, "vault", "create", vault)
    source = tmp_path / "tricky.env"
    source.write_text(TRICKY)
    expected = dotenv.dotenv_values(source, interpolate=True)
    cli(server, "import", "dotenv", str(source), "--vault", vault, "--prefix", "app")
    stored = {key: read(server, vault, f"app/{key}") for key in expected}
    assert stored == {k: (v or "") for k, v in expected.items()}

    back = tmp_path / "back.env"
    cli(server, "export", "dotenv", "--vault", vault, "--prefix", "app", "-o", str(back))
    assert oct(back.stat().st_mode & 0o777) == "0o600"
    assert dotenv.dotenv_values(back, interpolate=True) == stored
