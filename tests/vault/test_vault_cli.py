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
    for args in [("delete",), ("destroy", "-versions=1"), ("metadata", "delete"), ("metadata", "put", "-max-versions=1")]:
        code, _, err = cli(target, "kv", *args, f"{MOUNT}/app/readable", token=reader)
        assert code == 2 and "permission denied" in err, (args, err)
    assert cli_json(target, "kv get", f"{MOUNT}/app/readable")["data"]["data"] == {"k": "v"}, "nothing changed"
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


def test_versions_are_deleted_undeleted_and_destroyed(target):
    base, token = target["base"], target["token"]
    for n in (1, 2, 3):
        cli_json(target, "kv put", f"{MOUNT}/life/x", f"a={n}")
    code, _, err = cli(target, "kv", "delete", f"{MOUNT}/life/x")
    assert code == 0, err
    status, body = http(base, "GET", f"/v1/{MOUNT}/data/life/x", token)
    assert status == 404 and body["data"]["data"] is None, "a deleted latest version: the envelope, data null"
    assert body["data"]["metadata"]["version"] == 3 and body["data"]["metadata"]["deletion_time"] != ""
    read = hvac.Client(url=base, token=token).secrets.kv.v2.read_secret_version(
        path="life/x", mount_point=MOUNT, raise_on_deleted_version=False)
    assert read["data"]["data"] is None
    assert cli(target, "kv", "undelete", "-versions=3", f"{MOUNT}/life/x")[0] == 0
    assert cli_json(target, "kv get", f"{MOUNT}/life/x")["data"]["data"] == {"a": "3"}
    assert cli(target, "kv", "delete", "-versions=1,2", f"{MOUNT}/life/x")[0] == 0
    status, body = http(base, "GET", f"/v1/{MOUNT}/data/life/x?version=1", token)
    assert status == 404 and body["data"]["data"] is None and body["data"]["metadata"]["destroyed"] is False
    assert cli(target, "kv", "destroy", "-versions=2", f"{MOUNT}/life/x")[0] == 0
    assert cli(target, "kv", "undelete", "-versions=2", f"{MOUNT}/life/x")[0] == 0, "a no-op on a destroyed version"
    status, body = http(base, "GET", f"/v1/{MOUNT}/data/life/x?version=2", token)
    assert status == 404 and body["data"]["data"] is None and body["data"]["metadata"]["destroyed"] is True
    versions = cli_json(target, "kv metadata get", f"{MOUNT}/life/x")["data"]["versions"]
    assert versions["2"]["destroyed"] is True and versions["1"]["deletion_time"] != ""
    assert versions["3"]["deletion_time"] == "" and versions["3"]["destroyed"] is False
    assert http(base, "PUT", f"/v1/{MOUNT}/delete/life/x", token, {})[0] == 400, "no versions named"
    assert http(base, "PUT", f"/v1/{MOUNT}/delete/life/x", token, {"versions": ["x"]})[0] == 400
    assert http(base, "PUT", f"/v1/{MOUNT}/delete/no/such", token, {"versions": [1]})[0] == 204, "silently"
    assert http(base, "PUT", f"/v1/{MOUNT}/destroy/life/x", token, {"versions": [99]})[0] == 204


def test_metadata_settings_and_keys_without_versions(target):
    base, token = target["base"], target["token"]
    code, _, err = cli(target, "kv", "metadata", "put", "-max-versions=5", "-cas-required=true",
                       "-delete-version-after=1h", "-custom-metadata=owner=ci", f"{MOUNT}/meta/k")
    assert code == 0, err
    meta = cli_json(target, "kv metadata get", f"{MOUNT}/meta/k")["data"]
    assert (meta["max_versions"], meta["cas_required"], meta["delete_version_after"]) == (5, True, "1h0m0s")
    assert meta["custom_metadata"] == {"owner": "ci"} and meta["current_version"] == 0 and meta["versions"] == {}
    assert cli_json(target, "kv list", f"{MOUNT}/meta") == ["k"], "a key without versions is listed"
    assert cli(target, "kv", "get", f"{MOUNT}/meta/k")[0] == 2
    code, _, err = cli(target, "kv", "put", f"{MOUNT}/meta/k", "a=1")
    assert code == 2 and "check-and-set parameter required for this call" in err
    put = cli_json(target, "kv put", "-cas=0", f"{MOUNT}/meta/k", "a=1")["data"]
    assert put["version"] == 1 and put["custom_metadata"] == {"owner": "ci"}
    assert put["deletion_time"] != "", "delete_version_after: the deletion time is set, in the future"
    got = cli_json(target, "kv get", f"{MOUNT}/meta/k")["data"]
    assert got["data"] == {"a": "1"} and got["metadata"]["custom_metadata"] == {"owner": "ci"}
    code, _, err = cli(target, "kv", "metadata", "patch", "-custom-metadata=team=x", f"{MOUNT}/meta/k")
    assert code == 0, err
    assert cli_json(target, "kv metadata get", f"{MOUNT}/meta/k")["data"]["custom_metadata"] == {"owner": "ci", "team": "x"}
    status, _ = http(base, "PUT", f"/v1/{MOUNT}/metadata/meta/k", token, {"custom_metadata": {"only": "this"}})
    assert status == 204
    meta = cli_json(target, "kv metadata get", f"{MOUNT}/meta/k")["data"]
    assert meta["custom_metadata"] == {"only": "this"}, "a metadata write replaces the custom map"
    assert meta["max_versions"] == 5 and meta["cas_required"] is True, "and leaves what it does not name"
    assert cli(target, "kv", "metadata", "delete", f"{MOUNT}/meta/k")[0] == 0
    assert http(base, "GET", f"/v1/{MOUNT}/metadata/meta/k", token) == (404, {"errors": []})
    assert http(base, "GET", f"/v1/{MOUNT}/data/meta/k", token) == (404, {"errors": []})
    assert cli(target, "kv", "list", f"{MOUNT}/meta")[0] == 2, "gone from the listing"
    assert http(base, "DELETE", f"/v1/{MOUNT}/metadata/meta/never", token)[0] == 204, "silently"
    for bad in [{"delete_version_after": "soon"}, {"delete_version_after": "-1h"}, {"max_versions": "abc"},
                {"cas_required": "maybe"}, {"custom_metadata": "str"}]:
        assert http(base, "PUT", f"/v1/{MOUNT}/metadata/meta/bad", token, bad)[0] == 400, bad
    if target["name"] == "clawvault":
        # OpenBao stores -1 as 4294967295; clawvault refuses it (docs/vault-api.md).
        assert http(base, "PUT", f"/v1/{MOUNT}/metadata/meta/bad", token, {"max_versions": -1})[0] == 400
    assert http(base, "GET", f"/v1/{MOUNT}/metadata/meta/bad", token) == (404, {"errors": []}), "nothing written"


def test_push_secret_writes_metadata_first_as_eso_does(target):
    base, token = target["base"], target["token"]
    key = f"/v1/{MOUNT}/metadata/pushed/db"
    assert http(base, "GET", f"/v1/{MOUNT}/data/pushed/db", token) == (404, {"errors": []})
    assert http(base, "PUT", key, token, {"custom_metadata": {"managed-by": "external-secrets"}})[0] == 204
    status, body = http(base, "PUT", f"/v1/{MOUNT}/data/pushed/db", token, {"data": {"password": "pushed"}})
    assert status == 200 and body["data"]["version"] == 1
    status, body = http(base, "GET", key, token)
    assert body["data"]["custom_metadata"] == {"managed-by": "external-secrets"} and body["data"]["current_version"] == 1
    assert http(base, "DELETE", f"/v1/{MOUNT}/data/pushed/db", token)[0] == 204
    assert http(base, "DELETE", key, token)[0] == 204
    assert http(base, "GET", key, token) == (404, {"errors": []})


def test_max_versions_trims_old_versions(target):
    base, token = target["base"], target["token"]
    assert http(base, "PUT", f"/v1/{MOUNT}/metadata/trim/x", token, {"max_versions": 2})[0] == 204
    for n in range(1, 5):
        assert http(base, "PUT", f"/v1/{MOUNT}/data/trim/x", token, {"data": {"n": n}})[0] == 200
    meta = cli_json(target, "kv metadata get", f"{MOUNT}/trim/x")["data"]
    assert meta["current_version"] == 4 and meta["oldest_version"] == 3
    assert sorted(meta["versions"]) == ["3", "4"], "trimmed versions are gone from the map"
    assert http(base, "GET", f"/v1/{MOUNT}/data/trim/x?version=1", token) == (404, {"errors": []})
    assert http(base, "GET", f"/v1/{MOUNT}/data/trim/x?version=3", token)[1]["data"]["data"] == {"n": 3}


def test_a_namespace_other_than_the_root_is_not_found(target):
    base, token = target["base"], target["token"]
    http(base, "PUT", f"/v1/{MOUNT}/data/ns/x", token, {"data": {"k": "v"}})
    status, body = http(base, "GET", f"/v1/{MOUNT}/data/ns/x", token, headers={"X-Vault-Namespace": "team-a/"})
    assert status == 404 and body == {"errors": ["namespace not found"]}, (status, body)
    assert http(base, "GET", f"/v1/{MOUNT}/data/ns/x", token, headers={"X-Vault-Namespace": "root"})[0] == 200
