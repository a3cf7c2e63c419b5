"""The External Secrets Operator against the Vault-compatible API, replayed request by request:
its `vault` provider with a token (SecretStore validation, ExternalSecret `data` and `dataFrom`,
PushSecret, DeleteSecret) and with Kubernetes auth (login with a service-account token, the token
check, reads, a PushSecret, and `Close()` revoking the token), and the store validation of its
native `openbao` provider, against clawvault and against `bao server -dev` with the same checks.

No ESO binary runs here. `GoVault` sends what ESO's Vault Go client
(`github.com/hashicorp/vault/api`) sends — GET, PUT, DELETE, lists as `GET ?list=true`, the path
cleaned by Go's `path.Join`, `X-Vault-Token`, compact JSON bodies — and reads the answer as that
client does (`ParseRawResponseAndCloseBody`, `ParseSecret`: a 404 without `data` is "nothing", a 404
body that is not JSON is an error, a typed envelope field of the wrong JSON type is an error). The
`eso_*` functions follow `providers/v1/vault/{auth,validate,client_get,client_get_all_secrets,
client_push}.go` and `providers/v1/openbao/client.go` step by step and read exactly the fields
those read, so every assertion is about what ESO would conclude: the store is Ready, the value
of a Kubernetes Secret key, "secret not found", a refused push. What passes on OpenBao and on
clawvault is what a SecretStore pointed at clawvault can rely on. The contract:
shared/reference/vault-api.md, sections 1.3, 1.4 and 7.
"""

import gzip
import http.client
import json
import posixpath
import re
import tempfile
import time
import urllib.parse
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jwt as pyjwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from key_server import REVIEW_PATH, KeyServer
from targets import MOUNT, TARGETS, http as plain_http, openbao

# ---------------------------------------------------------------------------------------------
# The Vault Go client, as ESO uses it.


class ResponseError(Exception):
    """The Go client's `*api.ResponseError`: an answer of 400 or more (a 404 only where the
    caller does not look inside 404s)."""

    def __init__(self, status, raw):
        self.status = status
        try:
            self.errors = json.loads(raw).get("errors")
        except (ValueError, AttributeError):
            self.errors = raw.decode(errors="replace")
        super().__init__(f"Code: {status}. Errors: {self.errors!r}")


class DecodeError(Exception):
    """The Go client could not decode the body (`ParseSecret` returned an error)."""


# The typed fields of `api.Secret`: a value of another JSON type fails Go's decoder.
SECRET_FIELDS = {"request_id": str, "lease_id": str, "lease_duration": int, "renewable": bool,
                 "data": dict, "warnings": list, "auth": dict, "wrap_info": dict, "mount_type": str}


def go_type_ok(value, kind):
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def parse_secret(raw):
    """`api.ParseSecret`: no body is no secret; a body must decode into `api.Secret`."""
    if not raw:
        return None
    try:
        body = json.loads(raw)
    except ValueError as e:
        raise DecodeError(f"invalid character in {raw[:80]!r}") from e
    if not isinstance(body, dict):
        raise DecodeError(f"cannot unmarshal {type(body).__name__} into api.Secret")
    for field, kind in SECRET_FIELDS.items():
        value = body.get(field)
        if value is not None and not go_type_ok(value, kind):
            raise DecodeError(f"cannot unmarshal {value!r} into Secret.{field}")
    if not all(isinstance(w, str) for w in body.get("warnings") or []):
        raise DecodeError("cannot unmarshal warnings into []string")
    return body


def go_marshal(value):
    """Go's `json.Marshal`: compact, map keys sorted, `<`, `>` and `&` escaped."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class GoVault:
    """ESO's Vault client for one token. `calls` records every request as `METHOD /v1/path?query`,
    so a test can hold a flow to the exact requests ESO makes."""

    def __init__(self, base, token):
        self.base, self.token, self.calls = base, token, []

    def send(self, method, path, params=None, body=None):
        """One request as the Go client sends it: (status, body bytes). `NewRequest` builds the URL
        path with `path.Join("/v1/", path)`, which drops a trailing slash."""
        url_path = posixpath.normpath("/v1/" + path)
        query = "?" + urllib.parse.urlencode(sorted(params.items())) if params else ""
        headers = {"X-Vault-Request": "true", "User-Agent": "Go-http-client/1.1", "Accept-Encoding": "gzip"}
        if self.token:
            headers["X-Vault-Token"] = self.token
        data = None if body is None else go_marshal(body).encode()
        address = urllib.parse.urlsplit(self.base)
        conn = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        try:
            conn.request(method, urllib.parse.quote(url_path) + query, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            if resp.getheader("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
        finally:
            conn.close()
        self.calls.append(f"{method} {url_path}{query}")
        return resp.status, raw

    def logical(self, method, path, params=None, body=None):
        """`Logical().{ReadWithData,List,Write,Delete}WithContext`: a 404 is no secret unless its
        body carries `data` or `warnings` (a deleted version's envelope does); a 404 body that is
        not JSON is an error; any other status of 400 or more is an error."""
        status, raw = self.send(method, path, params, body)
        if status == 404:
            secret = parse_secret(raw)
            if secret and (secret.get("data") or secret.get("warnings")):
                return secret
            return None
        if status >= 400:
            raise ResponseError(status, raw)
        return parse_secret(raw)

    def read(self, path, params=None):
        return self.logical("GET", path, params)

    def list(self, path):
        return self.logical("GET", path, {"list": "true"})

    def write(self, path, body):
        return self.logical("PUT", path, body=body)

    def delete(self, path):
        return self.logical("DELETE", path)

    def strict(self, path):
        """A GET through the raw request (`Auth().Token().LookupSelf`, `Sys().MountInfo`): every
        status of 400 or more, 404 included, is an error."""
        status, raw = self.send("GET", path)
        if status >= 400:
            raise ResponseError(status, raw)
        return parse_secret(raw)


# ---------------------------------------------------------------------------------------------
# ESO's vault provider: a SecretStore with `path: secret`, `version: v2`, `auth.tokenSecretRef`.


class ESOError(Exception):
    """ESO gives up with an error: the store is not Ready, or the ExternalSecret/PushSecret fails."""


class NoSecretError(Exception):
    """`esv1.NoSecretError`: the ExternalSecret reports "secret not found" (and `deletionPolicy`
    decides what happens to the Kubernetes Secret)."""


MANAGED_BY = {"managed-by": "external-secrets"}
RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def go_parse_rfc3339(text):
    """`time.Parse(time.RFC3339, text)` (which takes fractional seconds too)."""
    match = RFC3339.fullmatch(text)
    if not match:
        raise ESOError(f"invalid token expiration time: {text}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zone = match.group(7), match.group(8)
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    offset = timezone.utc
    if zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        offset = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        return datetime(year, month, day, hour, minute, second, micro, offset)
    except ValueError as e:
        raise ESOError(f"invalid token expiration time: {text}") from e


def eso_check_token(vault):
    """`checkToken`: `GET auth/token/lookup-self`, then `data.type` (batch: not reusable),
    `data.ttl` asserted as `json.Number` and read with `Int64()`, the `data.expire_time` key (null:
    never expires, else RFC3339). Returns (valid, expiry)."""
    secret = vault.strict("auth/token/lookup-self")
    if secret is None:
        raise ESOError("no response nor error for token lookup")
    data = secret.get("data") or {}
    if "type" not in data:
        raise ESOError("could not assert token type")
    if not isinstance(data["type"], str):
        raise ESOError(f"interface conversion: type is {type(data['type']).__name__}, not string (a panic)")
    if data["type"] == "batch":
        return False, None
    if "ttl" not in data:
        raise ESOError("no TTL found in response")
    ttl = data["ttl"]
    if not go_type_ok(ttl, int):
        raise ESOError(f"invalid token TTL: {ttl!r} is not a JSON whole number (json.Number.Int64)")
    if "expire_time" not in data:
        raise ESOError("no expiration time found in response")
    expire_time = data["expire_time"]
    if ttl < 60 and expire_time is not None:
        return False, None  # about to expire: treated as expired
    if expire_time is None:
        return True, None
    if not isinstance(expire_time, str):
        raise ESOError(f"expire time is not a string but is: {type(expire_time).__name__}")
    return True, go_parse_rfc3339(expire_time)


def eso_validate_store(vault):
    """`client.Validate()`: the token check (an error there: "invalid vault credentials", the
    store is not Ready), then `validateKVMount` reads `sys/internal/ui/mounts/<path>` and wants
    a kv mount of version 2 (an error from that read is ignored, a missing mount is not)."""
    try:
        eso_check_token(vault)
    except (ResponseError, DecodeError) as e:
        raise ESOError(f"invalid vault credentials: {e}") from e
    try:
        mount = vault.read(f"sys/internal/ui/mounts/{MOUNT}")
    except (ResponseError, DecodeError):
        return "Ready"
    if mount is None:
        raise ESOError(f"vault mount path {MOUNT!r} was not found")
    data = mount.get("data") or {}
    if str(data.get("type", "<missing>")) != "kv":
        raise ESOError(f"vault mount path {MOUNT!r} is not a kv secret engine, got {data.get('type')!r}")
    options = data.get("options")
    if not isinstance(options, dict) or str(options.get("version")) != "2":
        raise ESOError(f"vault mount path {MOUNT!r} uses kv version v1 but store is configured for kv version v2")
    return "Ready"


def build_path(key):
    """`buildPath`: a key may carry the mount (`secret/x`) or `secret/data/x`; both are stripped."""
    out = key
    if out.startswith(MOUNT + "/"):
        out = out[len(MOUNT) + 1:]
        if out.startswith("data/"):
            out = out[len("data/"):]
    return f"{MOUNT}/data/{out}"


def build_metadata_path(key):
    """`buildMetadataPath`, the same for `metadata/`."""
    out = key
    if out.startswith(MOUNT + "/"):
        out = out[len(MOUNT) + 1:]
        if out.startswith("data/"):
            out = out[len("data/"):]
    return f"{MOUNT}/metadata/{out}"


def eso_read_secret(vault, key, version=None):
    """`readSecret`: `GET data/<key>[?version=N]`; no secret, or `data.data: null`, is
    NoSecretError; `data.data` must be present and an object."""
    secret = vault.read(build_path(key), {"version": version} if version else None)
    if secret is None:
        raise NoSecretError(key)
    data = secret.get("data")
    if not isinstance(data, dict) or "data" not in data:
        raise ESOError("failed to find data field")
    if data["data"] is None:
        raise NoSecretError(key)
    if not isinstance(data["data"], dict):
        raise ESOError("failed to unmarshall JSON")
    return data["data"]


def go_sprint(value):
    """`fmt.Sprintf("%v", v)` of a decoded JSON value (numbers are json.Number: their text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    return str(value)


def eso_read_secret_metadata(vault, key):
    """`readSecretMetadata`: `GET metadata/<key>`; `created_time`, `current_version`,
    `delete_version_after` and every `custom_metadata` entry, as strings. No metadata is an
    error ("secret not found"), not a NoSecretError."""
    secret = vault.read(build_metadata_path(key))
    if secret is None:
        raise ESOError("secret not found")
    data = secret.get("data") or {}
    metadata = {k: go_sprint(data[k]) for k in ("created_time", "current_version", "delete_version_after")
                if data.get(k) is not None}
    custom = data.get("custom_metadata")
    if isinstance(custom, dict):
        metadata.update({k: v if isinstance(v, str) else go_sprint(v) for k, v in custom.items()})
    return metadata


def get_byte_value(value):
    """`esutils.GetByteValue`: strings as they are, objects and lists as JSON, numbers as text."""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (dict, list)):
        return go_marshal(value).encode()
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if value is None:
        return b""
    return str(value).encode()


MISSING = object()


def gjson_get(document, path):
    """`gjson.Get` for the paths ESO users write: keys and array indexes joined by dots (`a.b`,
    `list.0`); `\\.` escapes a dot."""
    current = document
    for part in (p.replace("\\.", ".") for p in re.split(r"(?<!\\)\.", path)):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return MISSING
    return current


def get_secret_value(data, prop):
    """`getSecretValue`: no property is the whole map as JSON; an exact top-level key wins over a
    gjson path; a gjson result is its string form (objects and lists: their JSON)."""
    if data is None:
        raise NoSecretError(prop)
    if not prop:
        return go_marshal(data).encode()
    if prop in data:
        return get_byte_value(data[prop])
    value = gjson_get(data, prop)
    if value is MISSING:
        raise ESOError(f"cannot find secret data for key: {json.dumps(prop)}")
    return b"" if value is None else get_byte_value(value)


def eso_get_secret(vault, key, prop=None, version=None, metadata_policy="None"):
    """`GetSecret`: an ExternalSecret `data[].remoteRef` {key, property, version, metadataPolicy}."""
    if metadata_policy == "Fetch":
        metadata = eso_read_secret_metadata(vault, key)
        if not metadata:
            return None
        return get_secret_value(metadata, prop)
    return get_secret_value(eso_read_secret(vault, key, version), prop)


def eso_get_secret_map(vault, key, prop=None, version=None, metadata_policy="None"):
    """`GetSecretMap`: `dataFrom[].extract`, one Kubernetes Secret key per top-level field."""
    secret = json.loads(eso_get_secret(vault, key, prop, version, metadata_policy))
    return {k: get_byte_value(v) for k, v in secret.items()}


def eso_list_secrets(vault, path):
    """`listSecrets`: `GET metadata/<path>?list=true`, recursing into every key ending in `/`."""
    listed = vault.list(build_metadata_path(path))
    if listed is None:
        raise NoSecretError(path)
    secrets = []
    for name in (listed.get("data") or {}).get("keys", []):
        full = path + name
        secrets.extend(eso_list_secrets(vault, full) if name.endswith("/") else [full])
    return secrets


def eso_get_all_secrets(vault, path=None, name=None, tags=None):
    """`GetAllSecrets`: `dataFrom[].find` {path, name.regexp, tags}. Keys that read as not found
    (no version, deleted) are skipped."""
    candidates = eso_list_secrets(vault, "" if path is None else path + "/")
    found = {}
    for candidate in candidates:
        if name is not None:
            if not re.search(name, candidate):
                continue
        else:
            metadata = eso_read_secret_metadata(vault, candidate)
            if any(metadata.get(k) != v for k, v in tags.items()):
                continue
        try:
            found[candidate] = eso_get_secret(vault, candidate)
        except NoSecretError:
            continue
    return found


def reconcile_data(existing, value, prop):
    """`reconcileData`: the map to write, and whether it differs from what is there. With a
    property, the existing map gets that one field (a string)."""
    if not prop:
        incoming = json.loads(value)
        return incoming, existing != incoming
    merged = dict(existing or {})
    unchanged = existing is not None and existing.get(prop) == value.decode()
    merged[prop] = value.decode()
    return merged, not unchanged


def eso_cas_version(vault, key, exists):
    """`getCASVersion`: 0 for a new key, else `current_version` of `GET metadata/<key>` (a
    json.Number read with `Int64()`)."""
    if not exists:
        return 0
    secret = vault.read(build_metadata_path(key))
    if secret is None or secret.get("data") is None:
        return 1
    current = secret["data"].get("current_version", 1)
    if not go_type_ok(current, int):
        raise ESOError(f"unexpected type for current_version: {current!r}")
    return current


def eso_push_secret(vault, key, value, prop=None, check_and_set=False):
    """`PushSecret`, KV v2 (reference 7.5): 1. `GET data` (does it exist?); 2. if it does,
    `GET metadata` and refuse unless `managed-by: external-secrets`, and stop if nothing changes;
    3. with `checkAndSet.required`, the `current_version` of `GET metadata` (0 for a new key);
    4. `PUT metadata {"custom_metadata": {"managed-by": "external-secrets"}}`, before the data,
    also for a new key; 5. `PUT data {"data": ...}` (+ `options.cas`). Returns "written" or
    "unchanged"."""
    try:
        existing, exists = eso_read_secret(vault, key), True
    except NoSecretError:
        existing, exists = None, False
    merged, needs_update = reconcile_data(existing, value, prop)
    if exists:
        if eso_read_secret_metadata(vault, key).get("managed-by") != MANAGED_BY["managed-by"]:
            raise ESOError("secret not managed by external-secrets")
        if not needs_update:
            return "unchanged"
    body = {"data": merged}
    if check_and_set:
        body["options"] = {"cas": eso_cas_version(vault, key, exists)}
    try:
        vault.write(build_metadata_path(key), {"custom_metadata": MANAGED_BY})
    except ResponseError as e:
        raise ESOError(f"failed to write secret metadata: {e}") from e
    try:
        vault.write(build_path(key), body)
    except ResponseError as e:
        raise ESOError(f"failed to write secret data: {e}") from e
    return "written"


def eso_delete_secret(vault, key, prop=None):
    """`DeleteSecret` (PushSecret `deletionPolicy: Delete`): `GET data` (missing: done),
    `GET metadata` (not managed: done); with a property, `PUT data` without it while fields
    remain; else `DELETE data` then `DELETE metadata`. Returns what it did."""
    try:
        existing = eso_read_secret(vault, build_path(key))
    except NoSecretError:
        return "absent"
    if eso_read_secret_metadata(vault, key).get("managed-by") != MANAGED_BY["managed-by"]:
        return "not managed"
    if prop:
        existing.pop(prop, None)
        if existing:
            vault.write(build_path(key), {"data": existing})
            return "property removed"
    vault.delete(build_path(key))
    vault.delete(build_metadata_path(key))
    return "deleted"


# ---------------------------------------------------------------------------------------------
# ESO's vault provider with `auth.kubernetes` (`providers/v1/vault/{auth,auth_kubernetes,client}.go`
# and the Go client's `api/auth/kubernetes`): a login per reconcile, its token revoked by `Close()`.

# The typed fields of `api.SecretAuth` that the login's `auth` decodes into.
AUTH_FIELDS = {"client_token": str, "accessor": str, "policies": list, "token_policies": list,
               "identity_policies": list, "metadata": dict, "orphan": bool, "entity_id": str,
               "lease_duration": int, "renewable": bool, "mfa_requirement": dict}


def parse_auth(secret):
    """The `auth` of a login answer as `api.ParseSecret` decodes it: each field of its Go type,
    the policy lists of strings, `metadata` a map of strings."""
    auth = (secret or {}).get("auth")
    if auth is None:
        return None
    for field, kind in AUTH_FIELDS.items():
        value = auth.get(field)
        if value is not None and not go_type_ok(value, kind):
            raise DecodeError(f"cannot unmarshal {value!r} into SecretAuth.{field}")
    for field in ("policies", "token_policies", "identity_policies"):
        if not all(isinstance(p, str) for p in auth.get(field) or []):
            raise DecodeError(f"cannot unmarshal SecretAuth.{field} into []string")
    if not all(isinstance(v, str) for v in (auth.get("metadata") or {}).values()):
        raise DecodeError("cannot unmarshal SecretAuth.metadata into map[string]string")
    return auth


def eso_login_kubernetes(vault, role, jwt, mount="kubernetes"):
    """`requestTokenWithKubernetesAuth`: `Auth().Login` with `authkubernetes.NewKubernetesAuth`,
    which sends `PUT auth/<mount>/login {"jwt", "role"}` through `Logical().Write` with whatever
    token the client holds. An answer of 400 or more, or one that does not decode, is an error;
    no `auth.client_token` is "did not return client token"; else the client takes that token."""
    try:
        auth = parse_auth(vault.write(f"auth/{mount}/login", {"jwt": jwt, "role": role}))
    except (ResponseError, DecodeError) as e:
        raise ESOError(f"unable to log in to auth method: unable to log in with Kubernetes auth: {e}") from e
    if auth is None or not auth.get("client_token"):
        raise ESOError("login response from auth method did not return client token")
    vault.token = auth["client_token"]
    return auth


def eso_new_client_kubernetes(base, role, jwt, token=None):
    """`NewClient` of a store with `auth.kubernetes` (`initClient`, `setAuth`). Without the token
    cache (the default) the client holds no token and logs in at once, sending no X-Vault-Token.
    A client that holds one (from the experimental cache) checks it first and keeps it while it
    is valid and unexpired; when the check fails (a revoked or unknown token) it logs in still
    sending the old one. An error means no client: the store is not Ready, the ExternalSecret or
    PushSecret fails."""
    vault = GoVault(base, token)
    if token:
        try:
            valid, expiry = eso_check_token(vault)
        except (ResponseError, DecodeError, ESOError):
            valid, expiry = False, None
        if valid and (expiry is None or expiry > datetime.now(timezone.utc)):
            return vault
    eso_login_kubernetes(vault, role, jwt)
    return vault


def eso_close(vault):
    """`Close()` of a login-based store without the token cache (`revokeTokenIfValid`):
    `checkToken` (an error there is "error while revoking token"), then a valid token is revoked
    with `PUT auth/token/revoke-self` (`RevokeSelfWithContext`: no body, any status of 400 or more
    is an error) and cleared from the client. Returns the revoke's status, None if none was sent."""
    if not vault.token:
        return None
    try:
        valid, _ = eso_check_token(vault)
    except (ResponseError, DecodeError) as e:
        raise ESOError(f"error while revoking token: {e}") from e
    if not valid:
        return None
    status, raw = vault.send("PUT", "auth/token/revoke-self")
    if status >= 400:
        raise ESOError(f"error while revoking token: {ResponseError(status, raw)}")
    vault.token = None
    return status


# ---------------------------------------------------------------------------------------------
# ESO's openbao provider: `Validate()` reads the mount (`Sys().MountInfoWithContext`).

# The typed fields of `api.MountOutput` that mapstructure decodes `data` into.
MOUNT_FIELDS = {"uuid": str, "type": str, "description": str, "accessor": str, "config": dict, "options": dict,
                "local": bool, "seal_wrap": bool, "external_entropy_access": bool, "plugin_version": str,
                "running_plugin_version": str, "running_sha256": str, "deprecation_status": str}


def openbao_validate_store(vault, mount=MOUNT, version="v2"):
    """`GET sys/mounts/<path>` (any status of 400 or more is an error), `data` decoded into
    `MountOutput`; Ready only for `type: kv` and `options.version` equal to the store's version."""
    try:
        secret = vault.strict(f"sys/mounts/{mount}")
    except (ResponseError, DecodeError) as e:
        raise ESOError(str(e)) from e
    if secret is None or secret.get("data") is None:
        raise ESOError("data from server response is empty")
    data = secret["data"]
    for field, kind in MOUNT_FIELDS.items():
        if data.get(field) is not None and not go_type_ok(data[field], kind):
            raise ESOError(f"mapstructure: {field} expected {kind.__name__}, got {data[field]!r}")
    options = data.get("options") or {}
    if not all(isinstance(v, str) for v in options.values()):
        raise ESOError("mapstructure: options is not a map[string]string")
    config = data.get("config") or {}
    for field in ("default_lease_ttl", "max_lease_ttl"):
        if config.get(field) is not None and not go_type_ok(config[field], int):
            raise ESOError(f"mapstructure: config.{field} is not a number")
    if data.get("type") != "kv":
        raise ESOError(f'expected mount type "kv" found {data.get("type")!r}')
    if options.get("version") != version[1:]:
        raise ESOError(f"expected kv engine version {version[1:]} found version {options.get('version')}")
    return "Ready"


# ---------------------------------------------------------------------------------------------
# The servers, and arranging state the way a user (not ESO) would.


@pytest.fixture(scope="module", params=sorted(TARGETS))
def target(request):
    with TARGETS[request.param]() as t:
        yield t


def eso(target, token=None):
    return GoVault(target["base"], target["token"] if token is None else token)


def kv_put(target, key, data):
    status, body = plain_http(target["base"], "PUT", f"/v1/{MOUNT}/data/{key}", target["token"], {"data": data})
    assert status == 200, body
    return body["data"]["version"]


def kv_metadata_put(target, key, settings):
    status, body = plain_http(target["base"], "PUT", f"/v1/{MOUNT}/metadata/{key}", target["token"], settings)
    assert status == 204, body


def kv_metadata(target, key):
    return plain_http(target["base"], "GET", f"/v1/{MOUNT}/metadata/{key}", target["token"])


def data_url(key, query=""):
    return f"GET /v1/{MOUNT}/data/{key}{query}"


def metadata_url(key, method="GET"):
    return f"{method} /v1/{MOUNT}/metadata/{key}"


# ---------------------------------------------------------------------------------------------
# The flows.


def test_secret_store_with_a_token_validates_ready(target):
    vault = eso(target)
    assert eso_validate_store(vault) == "Ready"
    assert vault.calls == ["GET /v1/auth/token/lookup-self", f"GET /v1/sys/internal/ui/mounts/{MOUNT}"]
    # The fields ESO reads, for the all-powerful token, a token that may only read app/, and (on
    # clawvault) an access token exchanged for the admin key, which expires.
    tokens = [target["token"], target["reader"]()]
    if target["name"] == "clawvault":
        status, issued = plain_http(target["base"], "POST", "/v1/auth/api-key-token", None,
                                    {"api_key": target["token"]})
        assert status == 200, issued
        tokens.append(issued["access_token"])
    expiring = 0
    for token in tokens:
        data = GoVault(target["base"], token).strict("auth/token/lookup-self")["data"]
        assert isinstance(data["type"], str) and data["type"] != "batch", data
        assert go_type_ok(data["ttl"], int) and data["ttl"] >= 0, "a JSON whole number: not a string, not a float"
        assert "expire_time" in data, "the key must be there, null for a token that never expires"
        if data["expire_time"] is not None:
            assert go_parse_rfc3339(data["expire_time"]) > datetime.now(timezone.utc)
            assert data["ttl"] >= 60, "a ttl under a minute with an expiry: ESO takes the token as expired"
            expiring += 1
        else:
            assert data["ttl"] == 0
        assert eso_check_token(GoVault(target["base"], token)) == (
            True, None if data["expire_time"] is None else go_parse_rfc3339(data["expire_time"]))
    assert expiring == 1, "one token with an RFC3339 expire_time was checked"
    # The store works with the limited token: lookup-self, then a read under app/.
    kv_put(target, "app/eso-reader", {"password": "read-me"})
    reader = eso(target, target["reader"]())
    assert eso_validate_store(reader) == "Ready"
    assert eso_get_secret(reader, "app/eso-reader", "password") == b"read-me"


def test_secret_store_with_a_bad_token_is_not_ready(target):
    vault = eso(target, "not-a-token")
    with pytest.raises(ESOError, match="invalid vault credentials") as refused:
        eso_validate_store(vault)
    cause = refused.value.__cause__
    assert isinstance(cause, ResponseError) and cause.status == 403 and cause.errors == ["permission denied"]
    assert vault.calls == ["GET /v1/auth/token/lookup-self"], "nothing after the failed token check"
    # An ExternalSecret on that store errors; it does not conclude "secret not found".
    kv_put(target, "eso-badtoken/x", {"k": "v"})
    with pytest.raises(ResponseError) as denied:
        eso_get_secret(vault, "eso-badtoken/x")
    assert denied.value.status == 403
    with pytest.raises(ResponseError) as denied:
        eso_get_secret(vault, "eso-badtoken/missing")
    assert denied.value.status == 403, "refused before existence is looked up"


def test_openbao_provider_validates_the_kv_v2_mount(target):
    vault = eso(target)
    status, raw = vault.send("GET", f"sys/mounts/{MOUNT}")
    body = json.loads(raw)
    assert status == 200
    for where in (body["data"], body):  # in `data`, and flattened at the top level as Vault answers
        assert where["type"] == "kv" and where["options"] == {"version": "2"}, where
    vault.calls.clear()
    assert openbao_validate_store(vault) == "Ready"
    assert vault.calls == [f"GET /v1/sys/mounts/{MOUNT}"]
    with pytest.raises(ESOError, match="expected kv engine version 1 found version 2"):
        openbao_validate_store(vault, version="v1")
    with pytest.raises(ESOError, match="Code: 4"):
        openbao_validate_store(vault, mount="no-such-mount")
    with pytest.raises(ESOError, match="Code: 403"):
        openbao_validate_store(eso(target, "not-a-token"))


def test_external_secret_reads_the_latest_or_a_version(target):
    kv_put(target, "eso-read/db", {"user": "app", "password": "one"})
    kv_put(target, "eso-read/db", {"user": "app", "password": "two"})
    vault = eso(target)
    status, raw = vault.send("GET", f"{MOUNT}/data/eso-read/db")
    body = json.loads(raw)
    assert status == 200 and body["data"]["data"] == {"user": "app", "password": "two"}
    assert go_type_ok(body["data"]["metadata"]["version"], int) and body["data"]["metadata"]["version"] == 2
    vault.calls.clear()
    assert eso_get_secret(vault, "eso-read/db") == b'{"password":"two","user":"app"}'
    assert eso_get_secret(vault, "eso-read/db", "password", version="1") == b"one"
    assert eso_get_secret(vault, "eso-read/db", "password", version="2") == b"two"
    # remoteRef.key may carry the mount, or the mount and data/: the same request.
    assert eso_get_secret(vault, f"{MOUNT}/eso-read/db", "password") == b"two"
    assert eso_get_secret(vault, f"{MOUNT}/data/eso-read/db", "password") == b"two"
    assert vault.calls == [data_url("eso-read/db"), data_url("eso-read/db", "?version=1"),
                           data_url("eso-read/db", "?version=2"), data_url("eso-read/db"), data_url("eso-read/db")]


def test_remote_ref_property_takes_a_key_then_a_gjson_path(target):
    kv_put(target, "eso-prop/app", {
        "password": "hunter2", "port": 5432, "enabled": True, "a.b": "the dotted key itself",
        "a": {"b": "nested b", "c": {"d": 1}}, "list": ["first", {"y": "z"}],
        "nested": {"user": "app", "roles": ["r1", "r2"]},
    })
    vault = eso(target)

    def prop(name):
        return eso_get_secret(vault, "eso-prop/app", name)

    assert prop("password") == b"hunter2"
    assert prop("port") == b"5432", "a number stays a JSON number, written as its text"
    assert prop("enabled") == b"true"
    assert prop("a.b") == b"the dotted key itself", "an exact top-level key wins over the gjson path"
    assert prop("a.c") == b'{"d":1}' and prop("a.c.d") == b"1"
    assert prop("list.0") == b"first" and prop("list.1.y") == b"z" and prop("list.1") == b'{"y":"z"}'
    assert prop("nested") == b'{"roles":["r1","r2"],"user":"app"}', "nested values JSON-encoded"
    assert prop("nested.roles") == b'["r1","r2"]'
    with pytest.raises(ESOError, match='cannot find secret data for key: "nope"'):
        prop("nope")
    with pytest.raises(ESOError, match='cannot find secret data for key: "list.5"'):
        prop("list.5")
    whole = json.loads(eso_get_secret(vault, "eso-prop/app"))
    assert whole["a.b"] == "the dotted key itself" and whole["list"] == ["first", {"y": "z"}]


def test_data_from_extract_makes_one_key_per_field(target):
    kv_put(target, "eso-extract/cfg", {"user": "app", "port": 5432, "tls": {"ca": "pem"}, "flags": [1, 2],
                                       "on": False, "nothing": None})
    vault = eso(target)
    assert eso_get_secret_map(vault, "eso-extract/cfg") == {
        "user": b"app", "port": b"5432", "tls": b'{"ca":"pem"}', "flags": b"[1,2]", "on": b"false", "nothing": b""}
    assert eso_get_secret_map(vault, "eso-extract/cfg", prop="tls") == {"ca": b"pem"}
    assert vault.calls == [data_url("eso-extract/cfg")] * 2
    with pytest.raises(NoSecretError):
        eso_get_secret_map(vault, "eso-extract/none")


def test_metadata_policy_fetch_reads_custom_and_system_metadata(target):
    kv_metadata_put(target, "eso-meta/k", {"custom_metadata": {"team": "payments", "owner": "ci"},
                                           "delete_version_after": "1h"})
    kv_put(target, "eso-meta/k", {"v": "1"})
    kv_put(target, "eso-meta/k", {"v": "2"})
    vault = eso(target)
    fetched = json.loads(eso_get_secret(vault, "eso-meta/k", metadata_policy="Fetch"))
    assert fetched.keys() == {"team", "owner", "created_time", "current_version", "delete_version_after"}
    assert (fetched["team"], fetched["owner"]) == ("payments", "ci")
    assert fetched["current_version"] == "2" and fetched["delete_version_after"] == "1h0m0s"
    assert go_parse_rfc3339(fetched["created_time"]) <= datetime.now(timezone.utc)
    assert eso_get_secret(vault, "eso-meta/k", "team", metadata_policy="Fetch") == b"payments"
    assert eso_get_secret(vault, "eso-meta/k", "current_version", metadata_policy="Fetch") == b"2"
    assert eso_get_secret_map(vault, "eso-meta/k", metadata_policy="Fetch")["owner"] == b"ci"
    assert vault.calls == [metadata_url("eso-meta/k")] * 4, "metadata only, never the data"
    with pytest.raises(ESOError, match="secret not found"):
        eso_get_secret(vault, "eso-meta/none", metadata_policy="Fetch")


def test_data_from_find_by_name_lists_recursively(target):
    for key in ("eso-find/a", "eso-find/sub", "eso-find/sub/b", "eso-find/sub/deeper/c", "eso-find/other",
                "eso-findtop"):
        kv_put(target, key, {"name": key})
    # A folder whose only key a PushSecret deleted must leave the listing, or the recursion
    # would hit its 404 and the whole find would fail.
    eso_push_secret(eso(target), "eso-find/emptied/only", b'{"k":"v"}')
    assert eso_delete_secret(eso(target), "eso-find/emptied/only") == "deleted"
    kv_put(target, "eso-find/sub/gone", {"name": "gone"})
    plain_http(target["base"], "DELETE", f"/v1/{MOUNT}/data/eso-find/sub/gone", target["token"])
    kv_metadata_put(target, "eso-find/sub/settings-only", {"custom_metadata": {"k": "v"}})
    vault = eso(target)
    found = eso_get_all_secrets(vault, path="eso-find", name=r"^eso-find/(a|sub(/.*)?)$")
    assert found == {k: go_marshal({"name": k}).encode()
                     for k in ("eso-find/a", "eso-find/sub", "eso-find/sub/b", "eso-find/sub/deeper/c")}, \
        "a key and a folder of the same name both found; a deleted key and a key without versions skipped"
    lists = [c for c in vault.calls if c.endswith("?list=true")]
    # ESO builds `metadata/eso-find/`; the Go client's path.Join sends it without the slash.
    assert lists == [f"GET /v1/{MOUNT}/metadata/eso-find?list=true", f"GET /v1/{MOUNT}/metadata/eso-find/sub?list=true",
                     f"GET /v1/{MOUNT}/metadata/eso-find/sub/deeper?list=true"]
    for folder in ("eso-find", "eso-find/sub"):
        with_slash, without = (plain_http(target["base"], "GET", f"/v1/{MOUNT}/metadata/{folder}{s}?list=true",
                                          target["token"]) for s in ("/", ""))
        assert with_slash[0] == 200 and with_slash[1]["data"] == without[1]["data"]
    listed = plain_http(target["base"], "GET", f"/v1/{MOUNT}/metadata/eso-find/sub/?list=true", target["token"])
    assert sorted(listed[1]["data"]["keys"]) == ["b", "deeper/", "gone", "settings-only"], "folders end in /"
    listed = plain_http(target["base"], "GET", f"/v1/{MOUNT}/metadata/eso-find/?list=true", target["token"])
    assert sorted(listed[1]["data"]["keys"]) == ["a", "other", "sub", "sub/"], "the emptied folder is gone"
    # No find.path: from the mount's root.
    vault.calls.clear()
    assert eso_get_all_secrets(vault, name=r"^eso-findtop$") == {"eso-findtop": b'{"name":"eso-findtop"}'}
    assert vault.calls[0] == f"GET /v1/{MOUNT}/metadata?list=true"
    for s in ("/", ""):
        assert plain_http(target["base"], "GET", f"/v1/{MOUNT}/metadata{s}?list=true", target["token"])[0] == 200
    with pytest.raises(NoSecretError):
        eso_get_all_secrets(eso(target), path="eso-find-nothing-here", name=".*")


def test_data_from_find_by_tags_matches_custom_metadata(target):
    tagged = {"eso-tags/a": {"env": "prod", "team": "x"}, "eso-tags/b": {"env": "dev"},
              "eso-tags/sub/d": {"env": "prod"}, "eso-tags/gone": {"env": "prod"}}
    for key, tags in tagged.items():
        kv_metadata_put(target, key, {"custom_metadata": tags})
        kv_put(target, key, {"key": key})
    kv_put(target, "eso-tags/c", {"key": "untagged"})
    kv_metadata_put(target, "eso-tags/settings-only", {"custom_metadata": {"env": "prod"}})
    plain_http(target["base"], "DELETE", f"/v1/{MOUNT}/data/eso-tags/gone", target["token"])
    vault = eso(target)
    found = eso_get_all_secrets(vault, path="eso-tags", tags={"env": "prod"})
    assert found == {"eso-tags/a": b'{"key":"eso-tags/a"}', "eso-tags/sub/d": b'{"key":"eso-tags/sub/d"}'}
    candidates = ["eso-tags/a", "eso-tags/b", "eso-tags/c", "eso-tags/gone", "eso-tags/settings-only", "eso-tags/sub/d"]
    assert sorted(c for c in vault.calls if "/metadata/eso-tags/" in c and "?" not in c) == \
        [metadata_url(c) for c in candidates], "one metadata read per listed key"
    assert sorted(c for c in vault.calls if "/data/" in c) == [
        data_url(k) for k in ("eso-tags/a", "eso-tags/gone", "eso-tags/settings-only", "eso-tags/sub/d")]
    assert eso_get_all_secrets(eso(target), path="eso-tags", tags={"env": "prod", "team": "x"}) == {
        "eso-tags/a": b'{"key":"eso-tags/a"}'}


def test_push_secret_writes_metadata_then_data_and_respects_ownership(target):
    vault = eso(target)
    key = "eso-push/db"
    assert eso_push_secret(vault, key, b'{"user":"app","password":"p1"}') == "written"
    assert vault.calls == [data_url(key), metadata_url(key, "PUT"), f"PUT /v1/{MOUNT}/data/{key}"]
    status, meta = kv_metadata(target, key)
    assert meta["data"]["custom_metadata"] == MANAGED_BY and meta["data"]["current_version"] == 1
    assert eso_get_secret(vault, key) == b'{"password":"p1","user":"app"}'

    vault.calls.clear()
    assert eso_push_secret(vault, key, b'{"password":"p1","user":"app"}') == "unchanged"
    assert vault.calls == [data_url(key), metadata_url(key)], "the same value: nothing written"
    vault.calls.clear()
    assert eso_push_secret(vault, key, b'{"user":"app","password":"p2"}') == "written"
    assert vault.calls == [data_url(key), metadata_url(key), metadata_url(key, "PUT"), f"PUT /v1/{MOUNT}/data/{key}"]
    assert kv_metadata(target, key)[1]["data"]["current_version"] == 2

    # A key someone else made, or made without the marker, is not ESO's to overwrite.
    kv_put(target, "eso-push/theirs", {"password": "keep"})
    kv_metadata_put(target, "eso-push/theirs", {"custom_metadata": {"managed-by": "someone-else"}})
    vault.calls.clear()
    with pytest.raises(ESOError, match="secret not managed by external-secrets"):
        eso_push_secret(vault, "eso-push/theirs", b'{"password":"mine"}')
    assert vault.calls == [data_url("eso-push/theirs"), metadata_url("eso-push/theirs")]
    assert eso_get_secret(vault, "eso-push/theirs", "password") == b"keep"

    # A property push merges one field into what is there.
    assert eso_push_secret(vault, "eso-push/props", b"s3cret", prop="password") == "written"
    assert eso_push_secret(vault, "eso-push/props", b"app", prop="user") == "written"
    assert eso_push_secret(vault, "eso-push/props", b"app", prop="user") == "unchanged"
    assert eso_get_secret_map(vault, "eso-push/props") == {"password": b"s3cret", "user": b"app"}
    assert kv_metadata(target, "eso-push/props")[1]["data"]["current_version"] == 2


def test_push_secret_with_check_and_set_uses_the_current_version(target):
    vault = eso(target)
    key = "eso-cas/db"
    assert eso_push_secret(vault, key, b'{"v":"1"}', check_and_set=True) == "written"
    assert vault.calls == [data_url(key), metadata_url(key, "PUT"), f"PUT /v1/{MOUNT}/data/{key}"], \
        "a new key: cas 0 without asking, after a metadata write that made a key without versions"
    vault.calls.clear()
    assert eso_push_secret(vault, key, b'{"v":"2"}', check_and_set=True) == "written"
    assert vault.calls == [data_url(key), metadata_url(key), metadata_url(key), metadata_url(key, "PUT"),
                           f"PUT /v1/{MOUNT}/data/{key}"]
    assert eso_get_secret(vault, key, "v") == b"2"
    assert kv_metadata(target, key)[1]["data"]["current_version"] == 2
    # What the cas write sent is what the server checks: a stale version is refused.
    status, body = plain_http(target["base"], "PUT", f"/v1/{MOUNT}/data/{key}", target["token"],
                              {"data": {"v": "x"}, "options": {"cas": 1}})
    assert status == 400 and "check-and-set parameter did not match the current version" in body["errors"][0]
    # A key the PushSecret deleted (deletionPolicy: Delete) is new again for the next push.
    assert eso_delete_secret(vault, key) == "deleted"
    vault.calls.clear()
    assert eso_push_secret(vault, key, b'{"v":"again"}', check_and_set=True) == "written"
    assert vault.calls == [data_url(key), metadata_url(key, "PUT"), f"PUT /v1/{MOUNT}/data/{key}"]
    assert eso_get_secret(vault, key, "v") == b"again"


def test_delete_secret_deletes_data_then_metadata_of_managed_keys_only(target):
    vault = eso(target)
    key = "eso-del/db"
    eso_push_secret(vault, key, b'{"user":"app","password":"p"}')
    vault.calls.clear()
    assert eso_delete_secret(vault, key) == "deleted"
    assert vault.calls == [data_url(key), metadata_url(key), f"DELETE /v1/{MOUNT}/data/{key}",
                           metadata_url(key, "DELETE")]
    assert plain_http(target["base"], "GET", f"/v1/{MOUNT}/data/{key}", target["token"]) == (404, {"errors": []})
    assert kv_metadata(target, key) == (404, {"errors": []})
    with pytest.raises(NoSecretError):
        eso_get_secret(vault, key)
    vault.calls.clear()
    assert eso_delete_secret(vault, key) == "absent" and vault.calls == [data_url(key)]

    kv_put(target, "eso-del/theirs", {"k": "v"})
    assert eso_delete_secret(vault, "eso-del/theirs") == "not managed"
    assert eso_get_secret(vault, "eso-del/theirs", "k") == b"v"

    # A property: removed from the map while other fields remain, then the key goes.
    eso_push_secret(vault, "eso-del/props", b"p", prop="password")
    eso_push_secret(vault, "eso-del/props", b"u", prop="user")
    assert eso_delete_secret(vault, "eso-del/props", prop="user") == "property removed"
    assert eso_get_secret_map(vault, "eso-del/props") == {"password": b"p"}
    assert eso_delete_secret(vault, "eso-del/props", prop="password") == "deleted"
    assert kv_metadata(target, "eso-del/props") == (404, {"errors": []})


def test_deleted_and_destroyed_versions_read_as_not_found(target):
    base, token = target["base"], target["token"]
    key = "eso-gone/db"
    for n in ("1", "2", "3"):
        kv_put(target, key, {"v": n})
    assert plain_http(base, "DELETE", f"/v1/{MOUNT}/data/{key}", token)[0] == 204
    vault = eso(target)
    status, raw = vault.send("GET", f"{MOUNT}/data/{key}")
    body = json.loads(raw)
    assert status == 404 and body["data"]["data"] is None and body["data"]["metadata"]["version"] == 3
    assert vault.logical("GET", f"{MOUNT}/data/{key}") is not None, "the Go client returns that 404 as a secret"
    with pytest.raises(NoSecretError):
        eso_get_secret(vault, key)
    with pytest.raises(NoSecretError):
        eso_get_secret(vault, key, "v")
    assert eso_get_secret(vault, key, "v", version="2") == b"2", "an older version still reads"
    assert plain_http(base, "PUT", f"/v1/{MOUNT}/destroy/{key}", token, {"versions": [1]})[0] == 204
    with pytest.raises(NoSecretError):
        eso_get_secret(vault, key, version="1")
    with pytest.raises(NoSecretError):
        eso_get_secret(vault, key, version="9")
    # A PushSecret sees a deleted latest version as no secret: no ownership check, metadata and a
    # new version written. With checkAndSet it sends cas 0, which a key with versions refuses.
    vault.calls.clear()
    with pytest.raises(ESOError, match="failed to write secret data: Code: 400"):
        eso_push_secret(vault, key, b'{"v":"pushed"}', check_and_set=True)
    assert vault.calls == [data_url(key), metadata_url(key, "PUT"), f"PUT /v1/{MOUNT}/data/{key}"]
    assert eso_push_secret(vault, key, b'{"v":"pushed"}') == "written"
    assert eso_get_secret(vault, key, "v") == b"pushed"
    assert kv_metadata(target, key)[1]["data"]["current_version"] == 4


def test_every_404_eso_meets_is_json_or_empty(target):
    kv_put(target, "eso-404/db", {"k": "v"})
    kv_put(target, "eso-404/deleted", {"k": "v"})
    plain_http(target["base"], "DELETE", f"/v1/{MOUNT}/data/eso-404/deleted", target["token"])
    vault = eso(target)
    nothing = [f"{MOUNT}/data/eso-404/none", f"{MOUNT}/data/eso-404/db?version=7", f"{MOUNT}/metadata/eso-404/none",
               f"{MOUNT}/metadata/eso-404/none/?list=true"]
    for path in nothing + [f"{MOUNT}/data/eso-404/deleted"]:
        path, _, query = path.partition("?")
        status, raw = vault.send("GET", path, dict(urllib.parse.parse_qsl(query)))
        assert status == 404, (path, status, raw)
        body = parse_secret(raw)  # raises unless the body is empty or JSON the Go client can decode
        assert body is None or isinstance(body, dict), (path, raw)
    for path in nothing:
        path, _, query = path.partition("?")
        assert vault.logical("GET", path, dict(urllib.parse.parse_qsl(query))) is None, path
    with pytest.raises(NoSecretError):
        eso_get_secret(vault, "eso-404/none")
    with pytest.raises(NoSecretError):
        eso_get_secret(vault, "eso-404/db", version="7")
    with pytest.raises(ESOError, match="secret not found"):
        eso_read_secret_metadata(vault, "eso-404/none")
    with pytest.raises(NoSecretError):
        eso_list_secrets(vault, "eso-404/none/")


# ---------------------------------------------------------------------------------------------
# Kubernetes auth: a SecretStore with `auth.kubernetes {mountPath: kubernetes, role: eso,
# serviceAccountRef}`. The service-account token (what the TokenRequest API gives ESO: the API
# server's audience, 600 s) is signed by a local RSA key. A cluster stand-in on 127.0.0.1:0 serves
# that key's JWKS, which clawvault reads (`kubernetes_jwks` in a `--config` file), and answers the
# TokenReview that OpenBao's kubernetes method asks for every token it accepts after checking it
# against `pem_keys`. The role maps to an agent (a policy on OpenBao) that may read, write and
# list `eso/**`, nothing else.

K8S_ISSUER = "https://kubernetes.default.svc.cluster.local"
K8S_NAMESPACE = K8S_ACCOUNT = "external-secrets"
K8S_ROLE = "eso"
ESO_POLICY = "\n".join(f'path "{MOUNT}/{kind}/eso/*" {{ capabilities = ["create", "read", "update", "list"] }}'
                       for kind in ("data", "metadata"))


def service_account_token(key, namespace=K8S_NAMESPACE, name=K8S_ACCOUNT):
    """What `CreateToken` (TokenRequest, no audiences, 600 s) gives ESO for a service account."""
    now = int(time.time())
    uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"serviceaccount/{namespace}/{name}"))
    claims = {"iss": K8S_ISSUER, "sub": f"system:serviceaccount:{namespace}:{name}", "aud": [K8S_ISSUER],
              "iat": now, "nbf": now, "exp": now + 600,
              "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}}}
    return pyjwt.encode(claims, key, algorithm="RS256", headers={"kid": "sa-1"})


def clawvault_with_kubernetes_auth(cluster):
    """clawvault reading the stand-in's JWKS; role `eso` maps to an agent with read, write and
    list on `eso/**`."""
    from conftest import running

    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "clawvault.toml"
        config.write_text(f"kubernetes_jwks = {json.dumps(cluster.url + '/jwks.json')}\n"
                          f"kubernetes_issuer = {json.dumps(K8S_ISSUER)}\n")
        with running(["--config", str(config)]) as s:
            base, admin_key = s["base"], s["admin_key"]

            def native(path, body):
                status, answer = plain_http(base, "POST", path, None, body, {"Authorization": f"Bearer {admin_key}"})
                assert status == 201, (path, status, answer)
                return answer

            vault = native("/v1/vaults", {"name": MOUNT})
            agent = native("/v1/agents", {"name": "external-secrets"})["agent"]
            native(f"/v1/vaults/{vault['id']}/policies", {
                "principal_type": "agent", "principal_id": agent["id"], "secret_path_pattern": "eso/**",
                "permissions": ["read", "write", "list"]})
            native("/v1/auth/roles", {
                "method": "kubernetes", "name": K8S_ROLE, "agent_id": agent["id"], "token_ttl_seconds": 600,
                "bindings": {"bound_service_account_names": [K8S_ACCOUNT],
                             "bound_service_account_namespaces": [K8S_NAMESPACE]}})
            yield {"name": "clawvault", "base": base, "token": admin_key, "checked_with": "/jwks.json"}


def openbao_with_kubernetes_auth(cluster):
    """`bao server -dev` with its kubernetes method at `auth/kubernetes`: `pem_keys` the signing
    key, `kubernetes_host` the stand-in (for the TokenReview); role `eso` bound to the same
    account, with a policy of create, read, update and list on `eso/*` data and metadata."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test cluster CA")])
    now = datetime.now(timezone.utc)
    ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode())
    signing = cluster.public["sa-1"][0].public_bytes(serialization.Encoding.PEM,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with openbao() as target:
        base, root = target["base"], target["token"]

        def call(path, body):
            status, answer = plain_http(base, "POST", path, root, body)
            assert status in (200, 204), (path, status, answer)

        call("/v1/sys/policies/acl/eso", {"policy": ESO_POLICY})
        call("/v1/sys/auth/kubernetes", {"type": "kubernetes"})
        call("/v1/auth/kubernetes/config", {
            "kubernetes_host": cluster.url, "kubernetes_ca_cert": ca, "disable_local_ca_jwt": True,
            "pem_keys": [signing], "issuer": K8S_ISSUER, "disable_iss_validation": False})
        call(f"/v1/auth/kubernetes/role/{K8S_ROLE}", {
            "bound_service_account_names": [K8S_ACCOUNT], "bound_service_account_namespaces": [K8S_NAMESPACE],
            "token_policies": ["eso"], "token_ttl": 600})
        yield {"name": "openbao", "base": base, "token": root, "checked_with": REVIEW_PATH}


@pytest.fixture(scope="module")
def sa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module", params=["clawvault", "openbao"])
def k8s_target(request, sa_key):
    """A target (as `target`, plus `cluster`) whose `auth/kubernetes` logs in service accounts."""
    servers = {"clawvault": clawvault_with_kubernetes_auth, "openbao": openbao_with_kubernetes_auth}
    with KeyServer({"sa-1": sa_key}, K8S_ISSUER) as cluster:
        for t in servers[request.param](cluster):
            yield {**t, "cluster": cluster}


def test_kubernetes_store_reconcile_logs_in_reads_pushes_and_revokes(k8s_target, sa_key):
    target, base = k8s_target, k8s_target["base"]
    kv_put(target, "eso/db", {"user": "app", "password": "one"})
    kv_put(target, "eso/db", {"user": "app", "password": "two"})
    jwt = service_account_token(sa_key)
    started = datetime.now(timezone.utc)

    # NewClient: the login, with no token (what eso_new_client_kubernetes does for a new client).
    vault = GoVault(base, None)
    auth = eso_login_kubernetes(vault, K8S_ROLE, jwt)
    assert vault.calls == ["PUT /v1/auth/kubernetes/login"] and vault.token == auth["client_token"]
    assert target["checked_with"] in target["cluster"].served, "the token was checked with the stand-in's key"
    assert 0 < auth["lease_duration"] <= 600, auth
    token = vault.token

    # Validate(): checkToken (a service token, a JSON whole number ttl, an RFC3339 expire_time),
    # then the kv mount.
    assert eso_validate_store(vault) == "Ready"
    data = GoVault(base, token).strict("auth/token/lookup-self")["data"]
    assert isinstance(data["type"], str) and data["type"] != "batch", data
    assert go_type_ok(data["ttl"], int) and 60 <= data["ttl"] <= 600, data
    valid, expiry = eso_check_token(GoVault(base, token))
    assert valid and started < expiry <= started + timedelta(seconds=601), (expiry, data)

    # ExternalSecret data[].remoteRef: with a property, with a version, the whole map.
    assert eso_get_secret(vault, "eso/db", "password") == b"two"
    assert eso_get_secret(vault, "eso/db", "password", version="1") == b"one"
    assert eso_get_secret_map(vault, "eso/db") == {"user": b"app", "password": b"two"}

    # PushSecret: the metadata (the managed-by marker), then the data.
    assert eso_push_secret(vault, "eso/pushed", b'{"user":"app","password":"p1"}') == "written"
    assert eso_push_secret(vault, "eso/pushed", b"p2", prop="password") == "written"
    assert eso_get_secret(vault, "eso/pushed", "password") == b"p2"

    # Close(): lookup-self, then revoke-self.
    assert eso_close(vault) == 204 and vault.token is None
    assert vault.calls == [
        "PUT /v1/auth/kubernetes/login",
        "GET /v1/auth/token/lookup-self", f"GET /v1/sys/internal/ui/mounts/{MOUNT}",
        data_url("eso/db"), data_url("eso/db", "?version=1"), data_url("eso/db"),
        data_url("eso/pushed"), metadata_url("eso/pushed", "PUT"), f"PUT /v1/{MOUNT}/data/eso/pushed",
        data_url("eso/pushed"), metadata_url("eso/pushed"), metadata_url("eso/pushed", "PUT"),
        f"PUT /v1/{MOUNT}/data/eso/pushed",
        data_url("eso/pushed"),
        "GET /v1/auth/token/lookup-self", "PUT /v1/auth/token/revoke-self",
    ]
    status, meta = kv_metadata(target, "eso/pushed")
    assert status == 200 and meta["data"]["custom_metadata"] == MANAGED_BY and meta["data"]["current_version"] == 2
    status, read = plain_http(base, "GET", f"/v1/{MOUNT}/data/eso/pushed", target["token"])
    assert read["data"]["data"] == {"user": "app", "password": "p2"}

    # The revoked token is refused: its lookup, a read.
    revoked = GoVault(base, token)
    with pytest.raises(ResponseError) as refused:
        revoked.strict("auth/token/lookup-self")
    assert refused.value.status == 403
    with pytest.raises(ResponseError) as refused:
        eso_get_secret(revoked, "eso/db", "password")
    assert refused.value.status == 403


def test_kubernetes_store_token_does_only_what_the_role_allows(k8s_target, sa_key):
    target, base = k8s_target, k8s_target["base"]
    kv_put(target, "other/secret", {"password": "not-for-eso"})
    vault = eso_new_client_kubernetes(base, K8S_ROLE, service_account_token(sa_key))
    with pytest.raises(ResponseError) as refused:
        eso_get_secret(vault, "other/secret", "password")
    assert refused.value.status == 403, "an error, not \"secret not found\""
    with pytest.raises(ResponseError) as refused:
        eso_push_secret(vault, "other/pushed", b'{"k":"v"}')
    assert refused.value.status == 403
    assert vault.calls[-2:] == [data_url("other/secret"), data_url("other/pushed")], "the push stops at its read"
    assert plain_http(base, "GET", f"/v1/{MOUNT}/metadata/other/pushed", target["token"])[0] == 404, "nothing written"
    assert eso_close(vault) == 204


def test_kubernetes_store_find_outside_the_roles_paths_is_refused(k8s_target, sa_key):
    """dataFrom.find under a path the role may not list: `GET metadata/other?list=true` must be
    refused (403, an error: the ExternalSecret keeps its Secret), not answered as nothing there
    (404: NoSecretError, "secret not found", which `deletionPolicy: Delete` acts on)."""
    kv_put(k8s_target, "other/listed", {"k": "v"})
    vault = eso_new_client_kubernetes(k8s_target["base"], K8S_ROLE, service_account_token(sa_key))
    try:
        with pytest.raises(ResponseError) as refused:
            eso_get_all_secrets(vault, path="other", name=".*")
        assert refused.value.status == 403
        assert vault.calls[-1] == f"GET /v1/{MOUNT}/metadata/other?list=true"
    finally:
        eso_close(vault)


def test_kubernetes_store_logs_in_again_ignoring_a_stale_token(k8s_target, sa_key):
    """A client that still holds a token (ESO's token cache) whose check fails logs in again with
    that token still in X-Vault-Token; the login ignores it."""
    base = k8s_target["base"]
    jwt = service_account_token(sa_key)
    first = eso_new_client_kubernetes(base, K8S_ROLE, jwt)
    revoked = first.token
    assert eso_close(first) == 204
    kv_put(k8s_target, "eso/stale", {"k": "v"})
    for stale in (revoked, "not-a-token"):
        vault = eso_new_client_kubernetes(base, K8S_ROLE, jwt, token=stale)
        assert vault.calls == ["GET /v1/auth/token/lookup-self", "PUT /v1/auth/kubernetes/login"], \
            "the stale token's check fails, then the login (sent with it) succeeds"
        assert vault.token not in (None, stale, revoked), "each login: a new token"
        assert eso_check_token(GoVault(base, vault.token))[0]
        assert eso_get_secret(vault, "eso/stale", "k") == b"v"
        assert eso_close(vault) == 204
    # A token that is still valid is kept: no login.
    vault = eso_new_client_kubernetes(base, K8S_ROLE, jwt)
    kept = eso_new_client_kubernetes(base, K8S_ROLE, jwt, token=vault.token)
    assert kept.calls == ["GET /v1/auth/token/lookup-self"] and kept.token == vault.token
    assert eso_close(kept) == 204
    with pytest.raises(ResponseError) as refused:
        GoVault(base, vault.token).strict("auth/token/lookup-self")
    assert refused.value.status == 403, "the one token, revoked"


def test_kubernetes_store_with_an_unbound_service_account_is_not_ready(k8s_target, sa_key):
    """A login that fails (a service account the role does not bind) is an error from NewClient:
    the store is not Ready and nothing else is sent. clawvault answers Vault's 400 for a failed
    login; OpenBao's kubernetes method 403. ESO only sees an error, so both are a failed login."""
    base = k8s_target["base"]
    for token in (None, "stale-token"):
        for namespace, name in [("default", K8S_ACCOUNT), (K8S_NAMESPACE, "intruder")]:
            with pytest.raises(ESOError, match="unable to log in") as failed:
                eso_new_client_kubernetes(base, K8S_ROLE, service_account_token(sa_key, namespace, name), token=token)
            cause = failed.value.__cause__
            assert isinstance(cause, ResponseError) and cause.status in (400, 403), cause
            assert isinstance(cause.errors, list) and cause.errors, cause.errors
            if k8s_target["name"] == "clawvault":
                assert cause.status == 400, "clawvault refuses a login with Vault's 400"
    vault = GoVault(base, None)
    with pytest.raises(ESOError, match="unable to log in"):
        eso_login_kubernetes(vault, K8S_ROLE, service_account_token(sa_key, "default", "intruder"))
    assert vault.calls == ["PUT /v1/auth/kubernetes/login"] and vault.token is None, "no token, nothing after"
