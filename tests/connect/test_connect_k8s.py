"""`clawvault k8s ... --provider onepassword` prints what a platform's Secret Providers page
creates for 1Password (the token Secret and a SecretStore of ESO's `onepassword` provider in
`claw-machine`, an ExternalSecret taking one field, `credential` by default); ESO's own CRD
schemas accept them, and the store, as ESO would read it, validates and syncs against the
server."""

import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from connect_helpers import VAULT, world
from test_connect_eso import Provider

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vault"))
from test_k8s_manifests import schema  # noqa: E402


def clawvault(*args, stdin=None):
    done = subprocess.run([os.environ["CLAWVAULT_BIN"], *args], capture_output=True, text=True, input=stdin, timeout=60)
    return done.returncode, done.stdout, done.stderr


def documents(out):
    docs = list(yaml.safe_load_all(out))
    for doc in docs:
        if doc["kind"] != "Secret":
            jsonschema.validate(doc, schema(doc["kind"]))
    return docs


def test_the_store_and_its_token_secret_validate_and_sync(tmp_path):
    with world() as w:
        w.put("bots/discord", "discord-k8s-value", "api_key")
        key = w.agent(("**", ["read", "list"]))
        key_file = tmp_path / "eso.key"
        key_file.write_text(key + "\n")
        code, out, err = clawvault("k8s", "secret-store", "--provider", "onepassword", "--vault", VAULT,
                                   "--server", w.connect + "/", "--token-file", str(key_file))
        assert code == 0, err
        secret, store = documents(out)
        assert secret["metadata"] == {"name": "clawvault-token", "namespace": "claw-machine"}
        assert secret["stringData"] == {"token": key}
        assert store["kind"] == "SecretStore" and store["metadata"]["namespace"] == "claw-machine"
        provider = store["spec"]["provider"]["onepassword"]
        ref = provider["auth"]["secretRef"]["connectTokenSecretRef"]
        assert (ref["name"], ref["key"]) == ("clawvault-token", "token") and provider["vaults"] == {VAULT: 1}

        # ESO reads the token from the Secret and the rest from the store.
        eso = Provider(provider["connectHost"], secret["stringData"][ref["key"]], provider["vaults"])
        eso.validate()
        code, out, err = clawvault("k8s", "external-secret", "--provider", "onepassword", "--name", "discord",
                                   "--item", "bots/discord")
        assert code == 0, err
        (es,) = documents(out)
        assert es["metadata"] == {"name": "discord", "namespace": "claw-machine"}
        (data,) = es["spec"]["data"]
        assert data["remoteRef"] == {"key": "bots/discord", "property": "credential"}
        assert eso.get_secret(data["remoteRef"]["key"], data["remoteRef"]["property"]) == b"discord-k8s-value"


def test_without_a_token_file_the_secret_is_explained_not_printed():
    code, out, err = clawvault("k8s", "secret-store", "--provider", "onepassword", "--vault", VAULT,
                               "--server", "http://clawvault.clawvault.svc:8430", "--namespace", "bots")
    assert code == 0, err
    (store,) = documents(out)
    assert store["metadata"]["namespace"] == "bots"
    assert "kubectl -n bots create secret generic clawvault-token" in err


@pytest.mark.parametrize("args, needle", [
    (["--vault", VAULT], "--server"),
    (["--vault", VAULT, "--server", "http://x", "--cluster"], "--cluster"),
    (["--vault", VAULT, "--server", "http://x", "--token-file", "/nonexistent/key"], "cannot read"),
])
def test_mistakes_are_named(args, needle):
    code, _, err = clawvault("k8s", "secret-store", "--provider", "onepassword", *args)
    assert code != 0 and needle in err, err


def test_a_field_is_named_with_field_and_the_token_can_come_from_stdin():
    code, out, err = clawvault("k8s", "external-secret", "--provider", "onepassword", "--name", "db", "--item",
                               "apps/db", "--field", "password", "--namespace", "apps")
    assert code == 0, err
    (es,) = documents(out)
    assert es["metadata"]["namespace"] == "apps"
    assert es["spec"]["data"][0] == {"secretKey": "password", "remoteRef": {"key": "apps/db", "property": "password"}}
    code, out, err = clawvault("k8s", "secret-store", "--provider", "onepassword", "--vault", VAULT, "--server",
                               "http://x:8430", "--token-file", "-", stdin="ocv_from_stdin\n")
    assert code == 0, err
    assert documents(out)[0]["stringData"]["token"] == "ocv_from_stdin"
