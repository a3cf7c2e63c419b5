"""The real `bao` CLI (OpenBao 2.7.2) and hvac against the Vault-compatible API, and the same
checks against `bao server -dev`: what passes on both is what Vault clients can rely on."""

import hvac
import pytest

from targets import MOUNT, TARGETS, cli, cli_json, http


@pytest.fixture(scope="module", params=sorted(TARGETS))
def target(request):
    with TARGETS[request.param]() as t:
        yield t


def test_put_get_patch_list_and_metadata(target):
    put = cli_json(target, "kv put", f"{MOUNT}/app/db", "user=app", "password=hunter2")
    assert put["data"]["version"] == 1 and put["data"]["deletion_time"] == ""
    got = cli_json(target, "kv get", f"{MOUNT}/app/db")
    assert got["data"]["data"] == {"user": "app", "password": "hunter2"}
    assert got["data"]["metadata"]["version"] == 1 and got["data"]["metadata"]["destroyed"] is False
    patched = cli_json(target, "kv patch", f"{MOUNT}/app/db", "port=5432")
    assert patched["data"]["version"] == 2
    assert cli_json(target, "kv get", f"{MOUNT}/app/db")["data"]["data"] == {
        "user": "app", "password": "hunter2", "port": "5432"}
    assert cli_json(target, "kv get", "-version=1", f"{MOUNT}/app/db")["data"]["data"] == {
        "user": "app", "password": "hunter2"}
    cli_json(target, "kv put", f"{MOUNT}/app/nested/deep", "k=v")
    cli_json(target, "kv put", f"{MOUNT}/top", "k=v")
    assert sorted(cli_json(target, "kv list", f"{MOUNT}/")) == ["app/", "top"]
    assert sorted(cli_json(target, "kv list", f"{MOUNT}/app")) == ["db", "nested/"]
    meta = cli_json(target, "kv metadata get", f"{MOUNT}/app/db")["data"]
    assert meta["current_version"] == 2 and meta["oldest_version"] == 0, "0 until versions are trimmed"
    assert set(meta["versions"]) == {"1", "2"} and meta["versions"]["2"]["destroyed"] is False


def test_check_and_set_and_missing_paths(target):
    cli_json(target, "kv put", f"{MOUNT}/cas/x", "a=1")
    code, _, err = cli(target, "kv", "put", "-cas=0", f"{MOUNT}/cas/x", "a=2")
    assert code == 2 and "check-and-set parameter did not match the current version" in err
    assert cli_json(target, "kv put", "-cas=1", f"{MOUNT}/cas/x", "a=2")["data"]["version"] == 2
    assert cli_json(target, "kv put", "-cas=0", f"{MOUNT}/cas/new", "a=1")["data"]["version"] == 1
    code, out, err = cli(target, "kv", "get", f"{MOUNT}/cas/none")
    assert code == 2 and "No value found at secret/data/cas/none" in (out + err)
    code, _, err = cli(target, "kv", "list", f"{MOUNT}/nothing-here")
    assert code == 2
    code, _, err = cli(target, "kv", "patch", f"{MOUNT}/cas/none", "a=1")
    assert code == 2 and "404" in err


def test_a_bad_token_and_a_denied_read_are_403(target):
    code, _, err = cli(target, "kv", "get", f"{MOUNT}/app/db", token="not-a-token")
    assert code == 2 and "permission denied" in err and "403" in err
    reader = target["reader"]()
    cli_json(target, "kv put", f"{MOUNT}/app/readable", "k=v")
    cli_json(target, "kv put", f"{MOUNT}/private/x", "k=v")
    assert cli_json(target, "kv get", f"{MOUNT}/app/readable", token=reader)["data"]["data"] == {"k": "v"}
    code, _, err = cli(target, "kv", "get", f"{MOUNT}/private/x", token=reader)
    assert code == 2 and "permission denied" in err and "403" in err
    code, _, err = cli(target, "kv", "put", f"{MOUNT}/app/readable", "k=w", token=reader)
    assert code == 2 and "permission denied" in err
    # Refused before existence is looked up: a missing path is refused the same way.
    code, _, err = cli(target, "kv", "get", f"{MOUNT}/private/missing", token=reader)
    assert code == 2 and "permission denied" in err


def test_token_lookup_self_has_the_fields_eso_reads(target):
    status, body = http(target["base"], "GET", "/v1/auth/token/lookup-self", target["token"])
    assert status == 200, body
    data = body["data"]
    assert data["type"] in ("service", "batch") and isinstance(data["ttl"], int) and "expire_time" in data
    assert http(target["base"], "GET", "/v1/auth/token/lookup-self", "bogus") == (403, {"errors": ["permission denied"]})


def test_hvac_drives_kv_v2(target):
    client = hvac.Client(url=target["base"], token=target["token"])
    assert client.is_authenticated()
    kv = client.secrets.kv.v2
    written = kv.create_or_update_secret(path="hvac/one", secret={"n": 1, "nested": {"ok": True}}, mount_point=MOUNT)
    assert written["data"]["version"] == 1
    read = kv.read_secret_version(path="hvac/one", mount_point=MOUNT, raise_on_deleted_version=True)
    assert read["data"]["data"] == {"n": 1, "nested": {"ok": True}}, "JSON values round-trip unchanged"
    with pytest.raises(hvac.exceptions.InvalidRequest):
        kv.create_or_update_secret(path="hvac/one", secret={"n": 2}, cas=0, mount_point=MOUNT)
    assert kv.create_or_update_secret(path="hvac/one", secret={"n": 2}, cas=1, mount_point=MOUNT)["data"]["version"] == 2
    kv.create_or_update_secret(path="hvac/two", secret={"k": "v"}, mount_point=MOUNT)
    assert sorted(kv.list_secrets(path="hvac", mount_point=MOUNT)["data"]["keys"]) == ["one", "two"]
    assert kv.read_secret_metadata(path="hvac/one", mount_point=MOUNT)["data"]["current_version"] == 2
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.read_secret_version(path="hvac/none", mount_point=MOUNT, raise_on_deleted_version=True)
    with pytest.raises(hvac.exceptions.Forbidden):
        hvac.Client(url=target["base"], token="bogus").secrets.kv.v2.read_secret_version(
            path="hvac/one", mount_point=MOUNT, raise_on_deleted_version=True)
    assert not hvac.Client(url=target["base"], token="bogus").is_authenticated()


def test_bad_input_gets_vaults_status_and_no_write(target):
    base, token = target["base"], target["token"]
    assert http(base, "PUT", f"/v1/{MOUNT}/data/bad/x", token, {"options": {}})[0] == 400, "no data"
    assert http(base, "PUT", f"/v1/{MOUNT}/data/bad/x", token, {"data": "text"})[0] == 400
    assert http(base, "GET", f"/v1/{MOUNT}/data/bad/x?version=abc", token)[0] == 400
    status, body = http(base, "PATCH", f"/v1/{MOUNT}/data/bad/x", token, {"data": {"a": 1}},
                        {"Content-Type": "application/json"})
    assert status == 415 and "merge-patch" in body["errors"][0]
    assert http(base, "GET", f"/v1/{MOUNT}/data/bad/x", token) == (404, {"errors": []}), "nothing was written"
    assert http(base, "GET", f"/v1/{MOUNT}/metadata/bad/x", token) == (404, {"errors": []})
