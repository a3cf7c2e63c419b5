"""External Secrets Operator's `onepassword` provider, replayed against the Connect API
(contract: ../shared/reference/vault-api.md §9.2; ESO's providers/v1/onepassword): a store
validated by vault title and by id; reads by item title (then by id) and field label; a
document's file through its `content_path`; `find` by tags; `PushSecret` creating then
updating an item; `DeleteSecret` removing a field, then the item. Each step checks the fields
ESO reads and what the server then holds."""

import json
import time

import pytest

from connect_helpers import VAULT, world
from go_connect import ID, ConnectError, GoConnect, go_item


class NotFound(Exception):
    pass


class Provider:
    """ESO's onepassword provider over the Go SDK: `vaults` is the store's {name: priority}."""

    def __init__(self, host, token, vaults):
        self.client = GoConnect(host, token)
        self.vaults = sorted(vaults.items(), key=lambda kv: kv[1])

    def validate(self):
        for name, _ in self.vaults:
            self.client.get_vault(name)

    def find_item(self, key):
        for name, _ in self.vaults:
            vault = self.client.get_vault(name)
            if ID.match(key):
                return self.client.get_item(key, vault["id"])
            items = self.client.get_items_by_title(key, vault["id"])
            if len(items) > 1:
                raise ConnectError(f"expected one 1Password Item matching: '{key}', got {len(items)}")
            if len(items) == 1:
                return self.client.get_item_by_uuid(items[0]["id"], vault["id"])
        raise NotFound(f"key not found in 1Password Vaults: {key}")

    def get_secret(self, key, prop=""):
        item = self.find_item(key)
        if prop.startswith("file/") or (item["category"] == "DOCUMENT" and not prop.startswith("field/")):
            name = prop.removeprefix("file/")
            for f in item.get("files") or []:
                if not name or f["name"] == name:
                    return self.client.get_file_content(f)
            raise ConnectError(f"error finding 1Password Document: '{item['title']}', '{name}'")
        label = prop.removeprefix("field/") or "password"
        matches = [f for f in item.get("fields") or [] if f["label"] == label]
        if len(matches) != 1:
            raise ConnectError(f"expected one 1Password ItemField matching: '{label}' in '{item['title']}', got {len(matches)}")
        return matches[0].get("value", "").encode()

    def get_secret_map(self, key):
        item = self.find_item(key)
        labels = [f["label"] for f in item.get("fields") or []]
        assert len(labels) == len(set(labels)), "ESO refuses duplicate labels"
        return {f["label"]: f.get("value", "").encode() for f in item.get("fields") or []}

    def get_all_secrets_by_tags(self, tags):
        name, _ = self.vaults[0]
        vault = self.client.get_vault(name)
        out = {}
        for summary in self.client.get_items(vault["id"]):
            if all(t in (summary.get("tags") or []) for t in tags):
                item = self.client.get_item_by_uuid(summary["id"], summary["vault"]["id"])
                for f in item.get("fields") or []:
                    out.setdefault(f["label"], f.get("value", "").encode())
        return out

    def push_secret(self, key, value, prop="", tags=None):
        label = prop or "password"
        try:
            item = self.find_item(key)
        except NotFound:
            name, _ = self.vaults[0]
            vault = self.client.get_vault(name)
            # ESO puts the store's vault key (here a name) in the body; the path has the id.
            self.client.create_item(go_item(key, name, "SERVER", [{"type": "CONCEALED", "label": label, "value": value}], tags),
                                    vault["id"])
            self._poll(lambda: self.find_item(key))
            return
        if tags is not None:
            item["tags"] = tags
        matches = [f for f in item.get("fields") or [] if f["label"] == label]
        if len(matches) > 1:
            raise ConnectError("error updating 1Password Item: expected one 1Password ItemField matching")
        if matches:
            matches[0]["value"] = value
        else:
            item.setdefault("fields", []).append({"id": "", "type": "CONCEALED", "label": label, "value": value})
        self.client.update_item(item)
        self._poll(lambda: any(f["label"] == label and f.get("value") == value for f in self.find_item(key)["fields"]) or None)

    def delete_secret(self, key, prop):
        try:
            item = self.find_item(key)
        except NotFound:
            return
        fields = item.get("fields") or []
        if len([f for f in fields if f["label"] == prop]) > 1:
            raise ConnectError("more than one field")
        item["fields"] = [f for f in fields if f["label"] != prop]
        sections = item.get("sections") or []
        if sections == [{"id": "", "label": ""}] or sections == [{}]:
            sections = []
        if not item["fields"] and not (item.get("files") or []) and not sections:
            self.client.delete_item(item)
        else:
            self.client.update_item(item)

    @staticmethod
    def _poll(check):
        deadline = time.monotonic() + 5
        while True:
            try:
                if check():
                    return
            except NotFound:
                pass
            assert time.monotonic() < deadline, "ESO's push would time out waiting for the item"
            time.sleep(0.5)


@pytest.fixture(scope="module")
def w():
    with world() as w:
        w.put("bots/discord", "discord-token-eso", "api_key")
        status, _, _ = w.native("PUT", f"/v1/vaults/{w.vault_id}/secrets/apps/db",
                                {"value": json.dumps({"username": "app", "password": "db-pw-eso"}), "type": "json"})
        assert status == 201
        w.put("certs/ca.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "file")
        w.reader = w.agent(("**", ["read", "list"]))
        w.pusher = w.agent(("**", ["read", "list"]), ("pushed/**", ["write", "delete"]))
        yield w


@pytest.mark.parametrize("slash", ["", "/"], ids=["host", "host-with-slash"])
def test_a_store_validates_by_vault_title_and_by_id(w, slash):
    eso = Provider(w.connect + slash, w.reader, {VAULT: 1})
    eso.validate()
    if slash:
        assert eso.client.requests[0][1].startswith("//v1/vaults?filter=title+eq+%22prod%22")
    by_id = Provider(w.connect, w.reader, {w.connect_vault_id(): 1})
    by_id.validate()
    assert by_id.client.requests == [("GET", f"/v1/vaults/{w.connect_vault_id()}")]


def test_a_bad_token_or_an_unseen_vault_leaves_the_store_not_ready(w):
    with pytest.raises(ConnectError, match="status 401: Invalid bearer token"):
        Provider(w.connect, "ocv_wrong", {VAULT: 1}).validate()
    outsider = w.agent()
    with pytest.raises(ConnectError, match="Found 0 vaults"):
        Provider(w.connect, outsider, {VAULT: 1}).validate()


def test_reads_take_the_field_eso_names(w):
    eso = Provider(w.connect, w.reader, {VAULT: 1})
    assert eso.get_secret("bots/discord", "credential") == b"discord-token-eso"
    assert eso.get_secret("apps/db") == b"db-pw-eso", "no property: the field labelled password"
    assert eso.get_secret("apps/db", "field/username") == b"app"
    assert eso.get_secret_map("apps/db") == {"username": b"app", "password": b"db-pw-eso"}
    with pytest.raises(ConnectError, match="ItemField matching: 'nope'"):
        eso.get_secret("bots/discord", "nope")
    with pytest.raises(NotFound):
        eso.get_secret("bots/nothing", "credential")
    # A key that is an item id is read directly.
    item_id = eso.find_item("bots/discord")["id"]
    assert eso.get_secret(item_id, "credential") == b"discord-token-eso"


def test_a_documents_file_is_read_through_its_content_path(w):
    eso = Provider(w.connect, w.reader, {VAULT: 1})
    assert eso.get_secret("certs/ca.pem").startswith(b"-----BEGIN CERTIFICATE-----")
    assert eso.get_secret("certs/ca.pem", "file/ca.pem").endswith(b"-----END CERTIFICATE-----\n")
    assert eso.client.requests[-1][1].endswith("/content")


def test_push_creates_then_updates_and_delete_removes_fields_then_the_item(w):
    eso = Provider(w.connect, w.pusher, {VAULT: 1})
    eso.push_secret("pushed/token", "push-v1", tags=["eso"])
    status, got, _ = w.native("GET", f"/v1/vaults/{w.vault_id}/secrets/pushed/token")
    assert status == 200 and got["type"] == "json" and json.loads(got["value"]) == {"password": "push-v1"}
    assert eso.get_secret("pushed/token") == b"push-v1"

    eso.push_secret("pushed/token", "push-v2")
    eso.push_secret("pushed/token", "cred-v1", prop="credential")
    status, got, _ = w.native("GET", f"/v1/vaults/{w.vault_id}/secrets/pushed/token")
    assert got["version"] == 3 and json.loads(got["value"]) == {"password": "push-v2", "credential": "cred-v1"}
    assert eso.get_all_secrets_by_tags(["eso"]) == {"password": b"push-v2", "credential": b"cred-v1"}

    # One field left: a plain secret again, which the Vault API reads as `credential`.
    eso.delete_secret("pushed/token", "password")
    status, got, _ = w.native("GET", f"/v1/vaults/{w.vault_id}/secrets/pushed/token")
    assert got["version"] == 4 and got["value"] == "cred-v1" and got["type"] != "json"
    eso.delete_secret("pushed/token", "credential")
    assert eso.client.requests[-1][0] == "DELETE"
    status, _, _ = w.native("GET", f"/v1/vaults/{w.vault_id}/secrets/pushed/token")
    assert status == 410, "soft-deleted: an admin can restore it"
    eso.delete_secret("pushed/token", "credential")  # already gone: ESO counts it done

    # A push outside the agent's write paths is refused, and nothing is written.
    with pytest.raises(ConnectError, match="status 403"):
        eso.push_secret("bots/discord", "hijack", prop="credential")
    assert Provider(w.connect, w.reader, {VAULT: 1}).get_secret("bots/discord", "credential") == b"discord-token-eso"
