"""The Kubernetes manifests in deploy/kubernetes: rendered with kustomize (kubectl's built-in),
checked for what a cluster needs (replicas, probes, secrets taken from existing Secrets, a
disruption budget whose selector matches the pods), and the clawvault.toml they ship run by the
real binary as two replicas on one PostgreSQL database."""

import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import uuid

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes"


@pytest.fixture(scope="module")
def rendered():
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with its built-in kustomize) is needed to render deploy/kubernetes"
    out = subprocess.run([kubectl, "kustomize", str(MANIFESTS)], check=True, capture_output=True, text=True).stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    return {d["kind"]: d for d in docs}, out


def test_replicas_probes_and_secrets(rendered):
    docs, text = rendered
    assert set(docs) == {"ConfigMap", "Deployment", "Service", "PodDisruptionBudget"}
    deploy = docs["Deployment"]
    assert deploy["spec"]["replicas"] == 3
    pod = deploy["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v1/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v1/health"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    secrets = {v["name"]: v["secret"]["secretName"] for v in pod["spec"]["volumes"] if "secret" in v}
    assert secrets == {"database": "clawvault-database", "root-key": "clawvault-root-key"}
    for v in pod["spec"]["volumes"]:
        if "secret" in v:
            assert v["secret"]["defaultMode"] == 0o400
    # The generated ConfigMap's hashed name is what the pod mounts.
    config = next(v for v in pod["spec"]["volumes"] if v["name"] == "config")
    assert config["configMap"]["name"] == docs["ConfigMap"]["metadata"]["name"]
    # Nothing secret in any manifest.
    assert not re.search(r"postgres(ql)?://", text)
    assert "clawvault-root-key-v1:" not in text
    assert "database_url =" not in docs["ConfigMap"]["data"]["clawvault.toml"]


def test_disruption_budget_and_service_select_the_pods(rendered):
    docs, _ = rendered
    labels = docs["Deployment"]["spec"]["template"]["metadata"]["labels"]
    pdb = docs["PodDisruptionBudget"]["spec"]
    assert pdb["minAvailable"] == 2 and pdb["minAvailable"] < docs["Deployment"]["spec"]["replicas"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    assert docs["Service"]["spec"]["selector"].items() <= labels.items()


def psql(url, sql):
    subprocess.run(["psql", url, "-qc", sql], check=True, capture_output=True)


def start(binary, config, listen_dir, env):
    proc = subprocess.Popen(
        [binary, "server", "--config", str(config), "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=open(listen_dir / "server.log", "ab"),
        text=True,
        env=env,
    )
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "listening on " in line:
            return proc, line.split("listening on ", 1)[1].strip(), lines
    raise AssertionError(f"server did not start: {lines} {(listen_dir / 'server.log').read_text()}")


def test_the_shipped_configuration_runs_replicas(rendered):
    import httpx

    binary = os.environ.get("CLAWVAULT_BIN")
    assert binary and os.path.exists(binary), "set CLAWVAULT_BIN (scripts/test does)"
    admin_url = os.environ.get("CLAWVAULT_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    name = f"clawvault_test_{uuid.uuid4().hex}"
    psql(admin_url, f"CREATE DATABASE {name}")
    procs = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = pathlib.Path(tmp)
            # A root key made by the real server, mounted read-only as a Secret would be.
            seed, base, _ = start(binary, "/dev/null", tmp, dict(os.environ, CLAWVAULT_DATA_DIR=str(tmp / "seed")))
            seed.terminate()
            seed.wait(timeout=30)
            mounts = {
                "/etc/clawvault/database/url": admin_url.rsplit("/", 1)[0] + "/" + name,
                "/etc/clawvault/root-key/root.key": (tmp / "seed" / "root.key").read_text(),
            }
            toml = rendered[0]["ConfigMap"]["data"]["clawvault.toml"]
            for path, content in mounts.items():
                local = tmp / path.lstrip("/")
                local.parent.mkdir(parents=True, exist_ok=True)
                local.write_text(content)
                local.chmod(0o400)
                toml = toml.replace(path, str(local))
            replicas = []
            for i in range(2):
                config = tmp / f"clawvault-{i}.toml"
                config.write_text(toml.replace("/var/lib/clawvault", str(tmp / f"data-{i}")))
                proc, base, lines = start(binary, config, tmp, {k: v for k, v in os.environ.items() if not k.startswith("CLAWVAULT_")})
                procs.append(proc)
                replicas.append((base, lines))
            for base, _ in replicas:
                assert httpx.get(f"{base}/v1/health/ready").status_code == 200
            keys = [(tmp / f"data-{i}" / "admin-key") for i in range(2)]
            made = [k for k in keys if k.exists()]
            assert len(made) == 1, "exactly one replica bootstraps the new database"
            admin_key = made[0].read_text().strip()
            token = httpx.post(f"{replicas[1][0]}/v1/auth/api-key-token", json={"api_key": admin_key}).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            r = httpx.put(f"{replicas[0][0]}/v1/vaults/default/secrets/k8s/check", json={"value": "ok"}, headers=auth)
            assert r.status_code == 201, r.text
            r = httpx.get(f"{replicas[1][0]}/v1/vaults/default/secrets/k8s/check", headers=auth)
            assert r.json()["value"] == "ok"
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=30)
        psql(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
