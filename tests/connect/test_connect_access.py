"""Who may do what through the Connect API, and what crosses to the other APIs: every
endpoint for the identities who may and those who may not (the same refusal for a path that
exists and one that does not, and no item id that reveals a path); an item written through
Connect read back through the native API and the Vault API and the other way round; every
access on the one verifiable audit chain, with no value in it, in a listing or in the log;
bad input refused with a 400 that says why, and nothing written."""

import json

import pytest

from connect_helpers import VAULT, title_filter, world

CANARY = "cvcanary-connect-access-5d1e0b"


@pytest.fixture(scope="module")
def w():
    with world() as w:
        w.put("bots/discord", CANARY, "api_key")
        w.put("other/hidden", "hidden-" + CANARY, "api_key")
        w.full = w.agent(("bots/**", ["read", "write", "list", "delete"]), ("apps/**", ["read", "write", "list", "delete"]))
        w.lister = w.agent(("bots/**", ["list"]))
        w.reader = w.agent(("bots/**", ["read", "list"]))
        w.writer = w.agent(("bots/**", ["write"]))
        w.stranger = w.agent()
        w.vid = w.connect_vault_id()
        status, items, _ = w.c("GET", f"/v1/vaults/{w.vid}/items" + title_filter("bots/discord"), w.admin)
        w.discord = items[0]["id"]
        status, items, _ = w.c("GET", f"/v1/vaults/{w.vid}/items" + title_filter("other/hidden"), w.admin)
        w.hidden = items[0]["id"]
        yield w


def item_body(title, value, label="credential"):
    return {"title": title, "category": "API_CREDENTIAL", "fields": [{"type": "CONCEALED", "label": label, "value": value}]}


def test_each_endpoint_answers_who_may_and_refuses_who_may_not(w):
    vid, item = w.vid, w.discord
    cases = [
        # (method, path, body, {who: status})
        ("GET", "/v1/vaults", None, {"admin": 200, "full": 200, "lister": 200, "stranger": 200}),
        ("GET", f"/v1/vaults/{vid}", None, {"admin": 200, "full": 200, "lister": 200, "stranger": 403}),
        ("GET", f"/v1/vaults/{vid}/items", None, {"admin": 200, "full": 200, "lister": 200, "writer": 200, "stranger": 403}),
        # The writer may neither list nor read it: to it the id names nothing (404).
        ("GET", f"/v1/vaults/{vid}/items/{item}", None,
         {"admin": 200, "full": 200, "reader": 200, "lister": 403, "writer": 404, "stranger": 403}),
        ("GET", f"/v1/vaults/{vid}/items/{item}/files", None, {"admin": 200, "reader": 200, "lister": 403, "stranger": 403}),
        ("PUT", f"/v1/vaults/{vid}/items/{item}", item_body("bots/discord", CANARY),
         {"admin": 200, "full": 200, "writer": 200, "reader": 403, "lister": 403, "stranger": 403}),
        ("POST", f"/v1/vaults/{vid}/items", item_body("bots/new-{who}", "v"),
         {"admin": 200, "full": 200, "writer": 200, "reader": 403, "lister": 403, "stranger": 403}),
    ]
    tokens = {"admin": w.admin, "full": w.full, "lister": w.lister, "reader": w.reader, "writer": w.writer,
              "stranger": w.stranger}
    for method, path, body, expected in cases:
        for who, status in expected.items():
            sent = json.loads(json.dumps(body).replace("{who}", who)) if body else None
            got, answer, _ = w.c(method, path, tokens[who], sent)
            assert got == status, (method, path, who, answer)
            if got >= 400:
                assert answer["status"] == got and answer["message"], answer
    for token in (None, "ocv_wrong", "not-even-a-key"):
        got, answer, _ = w.c("GET", "/v1/vaults", token)
        assert got == 401 and answer["status"] == 401, answer
    # An agent without a policy sees no vault.
    assert w.c("GET", "/v1/vaults", w.stranger)[1] == []


def test_delete_needs_delete_and_is_a_restorable_soft_delete(w):
    status, made, _ = w.c("POST", f"/v1/vaults/{w.vid}/items", w.full, item_body("apps/doomed", "bye"))
    assert status == 200, made
    for who in (w.reader, w.lister, w.stranger):
        assert w.c("DELETE", f"/v1/vaults/{w.vid}/items/{made['id']}", who)[0] in (403, 404)
    status, body, _ = w.c("DELETE", f"/v1/vaults/{w.vid}/items/{made['id']}", w.full, raw=True)
    assert status == 204 and body == b""
    assert w.c("GET", f"/v1/vaults/{w.vid}/items/{made['id']}", w.full)[0] == 404
    assert w.native("POST", f"/v1/vaults/{w.vid and w.vault_id}/secret-restore/apps/doomed")[0] == 200


def test_an_item_id_reveals_nothing_to_who_may_not_list_its_path(w):
    unknown = "0" * 25 + "1"
    for item in (w.hidden, unknown):
        status, answer, _ = w.c("GET", f"/v1/vaults/{w.vid}/items/{item}", w.full)
        assert status == 404, answer
        assert "other/hidden" not in json.dumps(answer)
    listing = w.c("GET", f"/v1/vaults/{w.vid}/items", w.full)[1]
    assert "other/hidden" not in json.dumps(listing)
    # A deactivated agent is refused at its next request.
    agent = w.agent(("bots/**", ["read", "list"]))
    assert w.c("GET", f"/v1/vaults/{w.vid}/items/{w.discord}", agent)[0] == 200
    assert w.native("PATCH", f"/v1/agents/{w.agent_ids[agent]}", {"is_active": False})[0] == 200
    assert w.c("GET", f"/v1/vaults/{w.vid}/items/{w.discord}", agent)[0] == 401


def test_one_secret_three_apis(w):
    # Connect → native and Vault API.
    body = {"title": "apps/db", "category": "DATABASE", "fields": [
        {"type": "STRING", "label": "user", "value": "app"}, {"type": "CONCEALED", "label": "password", "value": "c-pw"}]}
    status, made, _ = w.c("POST", f"/v1/vaults/{w.vid}/items", w.full, body)
    assert status == 200 and made["version"] == 1
    status, native, _ = w.native("GET", f"/v1/vaults/{w.vault_id}/secrets/apps/db")
    assert native["type"] == "json" and json.loads(native["value"]) == {"user": "app", "password": "c-pw"}
    status, kv, _ = w.native("GET", f"/v1/{VAULT}/data/apps/db")
    assert status == 200 and kv["data"]["data"] == {"user": "app", "password": "c-pw"} and kv["data"]["metadata"]["version"] == 1

    # Vault API → Connect: a key added there shows as a field; the layout stays.
    status, _, _ = request_kv(w, {"data": {"user": "app", "password": "kv-pw", "port": "5432"}})
    assert status == 200
    status, item, _ = w.c("GET", f"/v1/vaults/{w.vid}/items/{made['id']}", w.full)
    assert item["version"] == 2 and item["category"] == "DATABASE"
    assert [(f["label"], f["value"]) for f in item["fields"]] == [("user", "app"), ("password", "kv-pw"), ("port", "5432")]
    assert item["fields"][0]["type"] == "STRING"

    # Native → Connect: a plain secret is one credential field; a rotation is the next version.
    w.put("bots/native", "native-v1", "api_key")
    status, found, _ = w.c("GET", f"/v1/vaults/{w.vid}/items" + title_filter("bots/native"), w.full)
    status, item, _ = w.c("GET", f"/v1/vaults/{w.vid}/items/{found[0]['id']}", w.full)
    assert [(f["label"], f["value"]) for f in item["fields"]] == [("credential", "native-v1")]
    w.put("bots/native", "native-v2", "api_key")
    item = w.c("GET", f"/v1/vaults/{w.vid}/items/{found[0]['id']}", w.full)[1]
    assert item["version"] == 2 and item["fields"][0]["value"] == "native-v2"
    # Replaced through Connect with one credential field: still an api_key secret.
    item["fields"][0]["value"] = "connect-v3"
    assert w.c("PUT", f"/v1/vaults/{w.vid}/items/{item['id']}", w.full, item)[0] == 200
    native = w.native("GET", f"/v1/vaults/{w.vault_id}/secrets/bots/native")[1]
    assert (native["version"], native["type"], native["value"]) == (3, "api_key", "connect-v3")


def request_kv(w, body):
    from connect_helpers import request
    return request(w.base, "PUT", f"/v1/{VAULT}/data/apps/db", None, body, {"X-Vault-Token": w.admin})


def test_every_access_is_on_the_verified_chain_and_no_value_anywhere(w):
    w.c("GET", f"/v1/vaults/{w.vid}/items/{w.discord}", w.reader)
    w.c("GET", f"/v1/vaults/{w.vid}/items/{w.discord}", w.lister)
    status, events, _ = w.native("GET", "/v1/audit/events?order=newest&limit=500")
    assert status == 200
    reads = [e for e in events["events"] if e["action"] == "secret.read" and "bots/discord" in e["resource_id"]]
    assert any(e["outcome"] == "success" for e in reads) and any(e["outcome"] == "denied" for e in reads)
    assert any(e["action"] == "secret.write" for e in events["events"])
    text = json.dumps(events)
    assert CANARY not in text and "c-pw" not in text and "kv-pw" not in text
    status, verified, _ = w.native("GET", "/v1/audit/verify")
    assert status == 200 and verified["chain_valid"] is True, verified
    for who in (w.full, w.lister):
        listing = w.c("GET", f"/v1/vaults/{w.vid}/items", who)[1]
        assert CANARY not in json.dumps(listing) and all("fields" not in i for i in listing)
    log = open(w.server["log"], errors="replace").read()
    assert CANARY not in log and "c-pw" not in log


@pytest.mark.parametrize("sent, needle", [
    (b"{not json", "not valid JSON"),
    ({"title": "apps/bad", "fields": [{"label": "a", "value": "1"}, {"label": "a", "value": "2"}]}, "two fields"),
    ({"title": "apps/bad", "fields": [{"type": "OTP", "label": "otp", "value": "otpauth://totp/x"}]}, "OTP"),
    ({"title": "apps/bad", "category": "DOCUMENT"}, "Invalid item category"),
    ({"title": "apps/bad", "fields": [{"label": str(i)} for i in range(300)]}, "at most"),
    ({"title": "apps/bad", "files": [{"name": "x"}]}, "files cannot be written"),
    ({"title": "../escape", "fields": [{"label": "credential", "value": "x"}]}, ""),
    ({"fields": [{"label": "credential", "value": "x"}]}, "title"),
])
def test_bad_items_are_refused_and_nothing_is_written(w, sent, needle):
    status, answer, _ = w.c("POST", f"/v1/vaults/{w.vid}/items", w.full, sent if isinstance(sent, bytes) else sent)
    assert status == 400 and answer["status"] == 400 and needle in answer["message"], answer
    assert w.native("GET", f"/v1/vaults/{w.vault_id}/secrets/apps/bad")[0] == 404


def test_bad_requests_get_connect_errors(w):
    assert w.c("GET", f"/v1/vaults/{w.vid}/items/not-an-id", w.full)[0] == 400
    status, answer, _ = w.c("GET", f"/v1/vaults/{w.vid}/items?filter=tag%20eq%20%22x%22", w.full)
    assert status == 400 and "title eq" in answer["message"]
    status, answer, _ = w.c("PATCH", f"/v1/vaults/{w.vid}/items/{w.discord}", w.full, [])
    assert status == 405 and "PUT" in answer["message"]
    status, answer, headers = w.c("GET", "/v1/activity", w.full)
    assert status == 404 and answer["status"] == 404 and headers["1Password-Connect-Version"]
    item = w.c("GET", f"/v1/vaults/{w.vid}/items/{w.discord}", w.full)[1]
    item["title"] = "bots/renamed"
    status, answer, _ = w.c("PUT", f"/v1/vaults/{w.vid}/items/{w.discord}", w.full, item)
    assert status == 400 and "renamed" in answer["message"]
    status, answer, _ = w.c("GET", "/heartbeat", None, raw=True)
    assert status == 200 and answer == b"."


def test_who_may_not_write_is_refused_before_the_item_is_read_and_recorded(w):
    # A recipe that would be costly to read, and a megabyte title, from an agent with no rights.
    costly = {"title": "bots/x" + "y" * 1_000_000, "fields": [{"label": "p", "generate": True,
              "recipe": {"characterSets": ["LETTERS"] * 50_000, "excludeCharacters": "abc" * 50_000}}]}
    status, answer, _ = w.c("POST", f"/v1/vaults/{w.vid}/items", w.stranger, costly)
    assert status == 403, answer
    status, answer, _ = w.c("POST", f"/v1/vaults/{w.vid}/items", w.lister, {**costly, "title": "bots/costly"})
    assert status == 403, answer
    # Denied replaces and deletes are recorded as what they tried to do.
    assert w.c("PUT", f"/v1/vaults/{w.vid}/items/{w.discord}", w.reader, item_body("bots/discord", "x"))[0] == 403
    assert w.c("DELETE", f"/v1/vaults/{w.vid}/items/{w.discord}", w.reader)[0] == 403
    events = w.native("GET", "/v1/audit/events?order=newest&limit=50")[1]["events"]
    denied = {e["action"] for e in events if e["outcome"] == "denied"}
    assert {"secret.write", "secret.delete"} <= denied, denied
    assert max(len(e["resource_id"]) for e in events) < 1000, "a huge title is not stored whole"


def test_values_never_come_back_in_an_error(w):
    for field in ({"label": "p", "value": 123456789}, {"label": "p", "value": ["cvcanary-err-2"]},
                  {"label": "p", "value": {"x": "cvcanary-err-3"}}):
        status, answer, _ = w.c("POST", f"/v1/vaults/{w.vid}/items", w.full, {"title": "apps/err", "fields": [field]})
        assert status == 400, answer
        text = json.dumps(answer)
        assert "123456789" not in text and "cvcanary-err" not in text, answer
    status, answer, _ = w.c("PUT", f"/v1/vaults/{w.vid}/items/{w.discord}", w.full, {**item_body("bots/discord", "x"), "version": 0})
    assert status == 400 and "version" in answer["message"]


def test_every_error_a_client_reads_is_in_connects_form(w):
    for method, path, body in [
        ("HEAD", "/v1/vaults", None),
        ("GET", f"/v1/vaults/{w.vid}/items/%ff%fe", None),
        ("POST", f"/v1/vaults/{w.vid}/items", b"{" + b" " * (6 * 1024 * 1024) + b"}"),
        ("GET", f"/v1/vaults/{w.vid}/items?filter=a&filter=b", None),
    ]:
        status, answer, headers = w.c(method, path, w.full, body, raw=True)
        assert status >= 400, (method, path)
        if method != "HEAD":
            assert headers["Content-Type"] == "application/json", (method, path, answer[:200])
            parsed = json.loads(answer)
            assert parsed["status"] == status and parsed["message"], parsed


def test_a_document_item_is_not_replaced_through_connect(w):
    w.put("certs/tls.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "file")
    agent = w.agent(("certs/**", ["read", "write", "list"]))
    found = w.c("GET", f"/v1/vaults/{w.vid}/items" + title_filter("certs/tls.pem"), agent)[1]
    item = w.c("GET", f"/v1/vaults/{w.vid}/items/{found[0]['id']}", agent)[1]
    assert item["category"] == "DOCUMENT"
    for sent in (item, {k: v for k, v in item.items() if k != "files"}):
        status, answer, _ = w.c("PUT", f"/v1/vaults/{w.vid}/items/{item['id']}", agent, sent)
        assert status == 400 and "file" in answer["message"], answer
    assert w.native("GET", f"/v1/vaults/{w.vault_id}/secrets/certs/tls.pem")[1]["version"] == 1
