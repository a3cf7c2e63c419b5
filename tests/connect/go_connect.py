"""1Password's Go Connect SDK (connect-sdk-go v1.5.3), as External Secrets Operator's
`onepassword` provider drives it, replayed request for request in Python: URLs joined by
string concatenation (a host ending in `/` sends `//v1/...`), filters form-encoded, the exact
status codes it insists on (200 for GET, POST and PUT, 204 for DELETE), the version header it
checks on file endpoints, errors read from the body as `status N: message`, and responses
decoded as Go would (RFC 3339 times, integer versions, 26-character ids)."""

import json
import re
import urllib.parse
from datetime import datetime

from connect_helpers import request

ID = re.compile(r"^[a-z0-9]{26}$")
GO_ZERO_TIME = "0001-01-01T00:00:00Z"


class ConnectError(Exception):
    pass


def go_time(text, where):
    """Go's time.Time decoding of an RFC 3339 string (an empty string fails the whole decode)."""
    if text is None:
        return
    assert isinstance(text, str) and text, f"{where}: Go cannot decode time {text!r}"
    datetime.fromisoformat(text.replace("Z", "+00:00"))


def decode_item(item, full):
    assert isinstance(item, dict), item
    assert ID.match(item["id"]) and ID.match(item["vault"]["id"]), item
    assert isinstance(item["version"], int) and isinstance(item.get("tags", []), list)
    for key in ("createdAt", "updatedAt"):
        go_time(item.get(key), key)
    if full:
        for f in item.get("fields") or []:
            assert isinstance(f.get("id"), str) and isinstance(f.get("label"), str), f
        for f in item.get("files") or []:
            assert ID.match(f["id"]) and isinstance(f["size"], int) and f["content_path"].startswith("/v1/"), f
    return item


class GoConnect:
    def __init__(self, host, token, user_agent="external-secrets"):
        self.host, self.token, self.user_agent = host, token, user_agent
        self.requests = []

    def _do(self, method, path, body=None, expect=200, version_check=False, raw=False):
        url = self.host + path
        sent = urllib.parse.urlsplit(url)
        self.requests.append((method, sent.path + (f"?{sent.query}" if sent.query else "")))
        status, got, headers = request(url, method, "", self.token,
                                       None if body is None else json.dumps(body).encode(),
                                       {"Content-Type": "application/json", "User-Agent": self.user_agent}, raw=True)
        if version_check:
            version = headers.get("1Password-Connect-Version")
            if version is None:
                raise ConnectError("need at least version 1.3.0 of Connect for this function, detected version 1.2.0 (or earlier)")
            parts = version.split(".")
            if len(parts) == 3 and all(p.isdigit() for p in parts):
                assert tuple(map(int, parts)) >= (1, 3, 0), version
        if status != expect:
            try:
                err = json.loads(got)
                raise ConnectError(f"status {err.get('status', 0)}: {err.get('message', '')}")
            except ValueError:
                raise ConnectError(f"status {status}")
        if raw:
            return got
        return json.loads(got) if got else None

    # Vaults.
    def get_vault(self, query):
        if not query:
            raise ConnectError("Please provide either the vault name or its ID.")
        if ID.match(query):
            return self._do("GET", f"/v1/vaults/{query}")
        filter_ = urllib.parse.urlencode({"filter": f'title eq "{query}"'})
        vaults = self._do("GET", f"/v1/vaults?{filter_}")
        if len(vaults) != 1:
            raise ConnectError(f'Found {len(vaults)} vaults with title "{query}"')
        return vaults[0]

    # Items.
    def get_item_by_uuid(self, item_id, vault_id):
        if not ID.match(item_id):
            raise ConnectError("malformed item uuid provided")
        return decode_item(self._do("GET", f"/v1/vaults/{vault_id}/items/{item_id}"), True)

    def get_item(self, query, vault_id):
        if ID.match(query):
            try:
                return self.get_item_by_uuid(query, vault_id)
            except ConnectError:
                pass
        return self.get_item_by_title(query, vault_id)

    def get_items_by_title(self, title, vault_id):
        filter_ = urllib.parse.urlencode({"filter": f'title eq "{title}"'})
        summaries = self._do("GET", f"/v1/vaults/{vault_id}/items?{filter_}")
        return [self.get_item(decode_item(s, False)["id"], s["vault"]["id"]) for s in summaries]

    def get_item_by_title(self, title, vault_id):
        items = self.get_items_by_title(title, vault_id)
        if len(items) != 1:
            raise ConnectError(f'Found {len(items)} item(s) in vault "{vault_id}" with title "{title}"')
        return items[0]

    def get_items(self, vault_id):
        return [decode_item(s, False) for s in self._do("GET", f"/v1/vaults/{vault_id}/items")]

    def create_item(self, item, vault_id):
        return decode_item(self._do("POST", f"/v1/vaults/{vault_id}/items", item), True)

    def update_item(self, item):
        return decode_item(self._do("PUT", f"/v1/vaults/{item['vault']['id']}/items/{item['id']}", item), True)

    def delete_item(self, item):
        self._do("DELETE", f"/v1/vaults/{item['vault']['id']}/items/{item['id']}", expect=204)

    # Files.
    def get_file_content(self, file):
        if "content" in file:
            return file["content"]
        return self._do("GET", file["content_path"], version_check=True, raw=True)


def go_item(title, vault_key, category, fields, tags=None):
    """An item as Go marshals a `onepassword.Item` that ESO builds: empty ids, zero times."""
    item = {"id": "", "title": title, "vault": {"id": vault_key}, "category": category,
            "fields": [{"id": "", "type": f["type"], "label": f["label"], **({"value": f["value"]} if f.get("value") else {})}
                       for f in fields],
            "createdAt": GO_ZERO_TIME, "updatedAt": GO_ZERO_TIME}
    if tags:
        item["tags"] = tags
    return item
