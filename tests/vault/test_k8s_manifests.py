"""`clawvault k8s` prints manifests that External Secrets Operator's own CRD schemas accept
(the served v1 `openAPIV3Schema` of SecretStore, ClusterSecretStore and ExternalSecret, from
../shared/schemas), that point ESO's vault provider at this server's Vault-compatible API,
and `clawvault k8s role` creates the login role a store's Kubernetes auth names."""

import json
import os
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIRS = [ROOT.parent / "shared" / "schemas" / "external-secrets", Path("/work/shared/schemas/external-secrets")]
CRDS = {"SecretStore": "secretstores", "ClusterSecretStore": "clustersecretstores", "ExternalSecret": "externalsecrets"}


def schema(kind):
    for directory in SCHEMA_DIRS:
        path = directory / f"external-secrets.io_{CRDS[kind]}.yaml"
        if path.exists():
            crd = yaml.safe_load(path.read_text())
            (served,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
            return served["schema"]["openAPIV3Schema"]
    raise AssertionError(f"ESO's CRD schemas are not in {SCHEMA_DIRS}")


def clawvault(*args, server=None):
    env = {**os.environ, **({"CLAWVAULT_ADDR": server["base"], "CLAWVAULT_API_KEY": server["admin_key"]} if server else {})}
    done = subprocess.run([os.environ["CLAWVAULT_BIN"], *args], capture_output=True, text=True, env=env, timeout=60)
    return done.returncode, done.stdout, done.stderr


def manifest(*args):
    code, out, err = clawvault("k8s", *args, "--address", "http://clawvault.clawvault.svc:8420")
    assert code == 0, err
    doc = yaml.safe_load(out)
    jsonschema.validate(doc, schema(doc["kind"]))
    return doc


@pytest.mark.parametrize("auth", [
    ["--auth", "kubernetes", "--role", "eso"],
    ["--auth", "kubernetes", "--role", "eso", "--service-account", "eso-reader", "--namespace", "apps"],
    ["--auth", "jwt", "--role", "eso", "--service-account", "eso-reader"],
    ["--auth", "token", "--token-secret", "clawvault-token", "--token-key", "token"],
    ["--cluster", "--auth", "kubernetes", "--role", "eso"],
    ["--cluster", "--auth", "jwt", "--role", "eso", "--service-account", "eso-reader",
     "--service-account-namespace", "external-secrets"],
])
def test_stores_are_valid_and_point_at_the_vault_api(auth):
    doc = manifest("secret-store", "--vault", "prod", *auth)
    assert doc["apiVersion"] == "external-secrets.io/v1"
    assert doc["kind"] == ("ClusterSecretStore" if "--cluster" in auth else "SecretStore")
    vault = doc["spec"]["provider"]["vault"]
    assert (vault["server"], vault["path"], vault["version"]) == ("http://clawvault.clawvault.svc:8420", "prod", "v2")
    method = auth[auth.index("--auth") + 1]
    if method == "kubernetes":
        assert vault["auth"]["kubernetes"] == {"mountPath": "kubernetes", "role": "eso", **(
            {"serviceAccountRef": {"name": "eso-reader"}} if "--service-account" in auth else {})}
    elif method == "jwt":
        token = vault["auth"]["jwt"]["kubernetesServiceAccountToken"]
        account = {"name": "eso-reader", **({"namespace": "external-secrets"} if "--cluster" in auth else {})}
        assert token["serviceAccountRef"] == account and token["audiences"] == ["clawvault"]
    else:
        assert vault["auth"]["tokenSecretRef"] == {"name": "clawvault-token", "key": "token"}


def test_an_external_secret_takes_one_field_credential_by_default():
    doc = manifest("external-secret", "--name", "discord", "--key", "bots/discord", "--namespace", "bots")
    spec = doc["spec"]
    assert doc["metadata"] == {"name": "discord", "namespace": "bots"}
    assert spec["secretStoreRef"] == {"name": "clawvault", "kind": "SecretStore"}
    assert spec["target"]["name"] == "discord"
    assert spec["data"] == [{"secretKey": "credential", "remoteRef": {"key": "bots/discord", "property": "credential"}}]
    doc = manifest("external-secret", "--name", "db", "--key", "apps/db", "--property", "password",
                   "--secret-key", "DB_PASSWORD", "--target", "db-env", "--cluster-store", "--refresh", "15m")
    assert doc["spec"]["data"][0] == {"secretKey": "DB_PASSWORD", "remoteRef": {"key": "apps/db", "property": "password"}}
    assert doc["spec"]["secretStoreRef"]["kind"] == "ClusterSecretStore" and doc["spec"]["refreshInterval"] == "15m"


def test_json_output_and_refusals():
    code, out, err = clawvault("k8s", "external-secret", "--name", "x", "--key", "a/b", "--json")
    assert code == 0 and json.loads(out)["kind"] == "ExternalSecret"
    for args, says in [
        (["secret-store", "--vault", "prod", "--auth", "kubernetes"], "--role"),
        (["secret-store", "--vault", "prod", "--auth", "jwt", "--role", "r"], "--service-account"),
        (["secret-store", "--vault", "prod", "--auth", "ldap"], "token, kubernetes or jwt"),
        (["secret-store", "--vault", "prod", "--cluster", "--namespace", "x", "--auth", "token"], "ClusterSecretStore"),
        (["external-secret", "--name", "x", "--key", "a", "--refresh", "soon"], "soon"),
        (["secret-store", "--vault", "p", "--cluster", "--auth", "jwt", "--role", "r", "--service-account", "s"],
         "--service-account-namespace"),
    ]:
        code, out, err = clawvault("k8s", *args)
        assert code != 0 and says in err and out == "", (args, err)


def test_k8s_role_creates_the_login_role_a_store_names(server):
    admin = {"Authorization": f"Bearer {server['admin_key']}", "Content-Type": "application/json"}
    import urllib.request
    req = urllib.request.Request(server["base"] + "/v1/agents", method="POST", headers=admin,
                                 data=json.dumps({"name": "eso-k8s"}).encode())
    with urllib.request.urlopen(req) as resp:
        assert resp.status == 201
    code, out, err = clawvault("k8s", "role", "eso", "--agent", "eso-k8s", "--service-account", "external-secrets",
                               "--namespace", "external-secrets", "--json", server=server)
    assert code == 0, err
    role = json.loads(out)["role"]
    assert role["method"] == "kubernetes" and role["name"] == "eso"
    assert role["bindings"] == {"bound_service_account_names": ["external-secrets"],
                                "bound_service_account_namespaces": ["external-secrets"]}
    code, out, err = clawvault("auth", "role", "list", server=server)
    assert code == 0 and "kubernetes" in out and "eso" in out
