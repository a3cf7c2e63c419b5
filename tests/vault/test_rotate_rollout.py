"""`clawvault rotate`: the new value becomes the next version (type and metadata kept), then
the Kubernetes workloads the secret's metadata names get the ExternalSecret force-sync
annotation and a rollout restart, printed, or with --apply run through kubectl and reported.
kubectl here is a stand-in (no API server runs here) that checks every call's shape."""

import json
import os
import stat
import subprocess
import uuid

import pytest

from targets import http

FAKE_KUBECTL = r"""#!/bin/sh
# Accepts only the two calls `clawvault rotate` may make, and records them.
set -eu
log="$(dirname "$0")/calls.log"
case "$*" in
  "-n "*" annotate externalsecret "*" force-sync="*" --overwrite")
    stamp=$(echo "$*" | sed 's/.*force-sync=\([^ ]*\).*/\1/')
    case "$stamp" in (*[!0-9]*|"") echo "bad stamp $stamp" >&2; exit 2;; esac ;;
  "-n "*" rollout restart deployment/"*)
    case "$*" in (*deployment/broken*) echo 'Error from server (NotFound): deployments.apps "broken" not found' >&2; exit 1;; esac ;;
  *) echo "unexpected kubectl call: $*" >&2; exit 2 ;;
esac
echo "$*" >> "$log"
"""


@pytest.fixture(scope="module")
def world(server, tmp_path_factory):
    auth = {"Authorization": f"Bearer {server['admin_key']}"}
    name = "rot-" + uuid.uuid4().hex[:6]
    status, _ = http(server["base"], "POST", "/v1/vaults", None, {"name": name}, auth)
    assert status == 201
    tmp = tmp_path_factory.mktemp("kubectl")
    kubectl = tmp / "kubectl"
    kubectl.write_text(FAKE_KUBECTL)
    kubectl.chmod(kubectl.stat().st_mode | stat.S_IEXEC)
    return {"server": server, "auth": auth, "vault": name, "kubectl": kubectl, "log": tmp / "calls.log"}


def put(world, path, value, metadata, secret_type="api_key"):
    status, body = http(world["server"]["base"], "PUT", f"/v1/vaults/{world['vault']}/secrets/{path}", None,
                        {"value": value, "type": secret_type, "metadata": metadata}, world["auth"])
    assert status in (200, 201), body


def get(world, path):
    status, body = http(world["server"]["base"], "GET", f"/v1/vaults/{world['vault']}/secrets/{path}", None, None,
                        world["auth"])
    assert status == 200, body
    return body


def rotate(world, *args, stdin=None, key=None):
    env = {**os.environ, "CLAWVAULT_ADDR": world["server"]["base"],
           "CLAWVAULT_API_KEY": key or world["server"]["admin_key"]}
    done = subprocess.run([os.environ["CLAWVAULT_BIN"], "rotate", *args, "--kubectl", str(world["kubectl"])],
                          input=stdin, capture_output=True, text=True, env=env, timeout=60)
    return done.returncode, done.stdout, done.stderr


def calls(world):
    return world["log"].read_text().splitlines() if world["log"].exists() else []


def test_a_dry_run_shows_the_plan_and_changes_nothing(world):
    meta = {"k8s": {"namespace": "bots", "external_secrets": ["discord-token"], "deployments": ["discord-bot"]}}
    put(world, "bots/discord", "old-value", meta)
    code, out, err = rotate(world, f"{world['vault']}/bots/discord", "--dry-run")
    assert code == 0, err
    assert "annotate externalsecret discord-token force-sync=" in out and "rollout restart deployment/discord-bot" in out
    assert get(world, "bots/discord")["version"] == 1 and calls(world) == []


def test_apply_rotates_keeps_metadata_and_rolls_out(world):
    before = len(calls(world))
    code, out, err = rotate(world, f"{world['vault']}/bots/discord", "--apply", "--namespace", "bots", stdin="new-value\n")
    assert code == 0, err
    assert "Rotated" in out and "version 2" in out and out.count("ok ") == 2
    got = get(world, "bots/discord")
    assert (got["value"], got["version"], got["type"]) == ("new-value", 2, "api_key"), "the paste's newline dropped"
    assert got["metadata"]["k8s"]["deployments"] == ["discord-bot"], "metadata kept"
    made = calls(world)[before:]
    assert made[0].startswith("-n bots annotate externalsecret discord-token force-sync=")
    assert made[1] == "-n bots rollout restart deployment/discord-bot"
    assert "new-value" not in out + err, "the value is never printed"


def test_a_generated_value_and_a_json_report(world):
    code, out, err = rotate(world, f"{world['vault']}/bots/discord", "--generate", "--length", "40", "--apply", "--namespace", "bots",
                           "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["version"] == 3 and [s["outcome"] for s in report["steps"]] == ["ok", "ok"]
    assert len(get(world, "bots/discord")["value"]) == 40


def test_a_failed_step_is_reported_and_the_version_stays(world):
    put(world, "apps/db", "pw-1", {"k8s": [{"namespace": "apps", "deployments": ["api", "broken"]}]}, "password")
    code, out, err = rotate(world, f"{world['vault']}/apps/db", "--apply", "--namespace", "apps", stdin="pw-2")
    assert code == 1, (out, err)
    assert "FAILED  restart deployment apps/broken" in out and "not found" in out
    assert "1 of 2 rollout steps failed" in err
    assert get(world, "apps/db")["value"] == "pw-2", "the new version is stored whatever the rollout did"


def test_refusals(world):
    put(world, "plain/x", "v", {})
    code, out, err = rotate(world, f"{world['vault']}/plain/x", stdin="w")
    assert code == 0 and "names no Kubernetes workload" in out
    put(world, "bad/meta", "v", {"k8s": {"deployments": ["x"]}})
    code, out, err = rotate(world, f"{world['vault']}/bad/meta", "--apply", "--namespace", "x", stdin="w")
    assert code == 9 and "namespace" in err and get(world, "bad/meta")["version"] == 1, "nothing rotated"
    code, out, err = rotate(world, f"{world['vault']}/none/here", stdin="w")
    assert code == 6, err
    code, out, err = rotate(world, f"{world['vault']}/plain/x", "--apply", "--namespace", "x", stdin="")
    assert code == 9 and "empty" in err
    # Whoever may write a secret writes its metadata: --apply acts only where it is told to.
    put(world, "elsewhere/x", "v", {"k8s": {"namespace": "kube-system", "deployments": ["coredns"]}})
    before = len(calls(world))
    code, out, err = rotate(world, f"{world['vault']}/elsewhere/x", "--apply", "--namespace", "bots", stdin="w2")
    assert code == 9 and "kube-system/coredns" in err and "nothing was changed" in err
    assert get(world, "elsewhere/x")["version"] == 1 and len(calls(world)) == before
    code, out, err = rotate(world, f"{world['vault']}/elsewhere/x", "--apply", stdin="w2")
    assert code == 2 and "--namespace" in err, "--apply needs --namespace"
