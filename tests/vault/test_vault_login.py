"""Logins of the Vault-compatible API: a Kubernetes service-account token and an identity
provider's JWT, signed with RS256 and ES256 by test keys whose JWKS the server reads from a
file, and an AppRole; each becomes a short-lived token of the agent its role maps to, which
may do exactly what that agent's policies allow. Forged, expired, early, foreign and
unbound tokens are refused with Vault's 400, and a stray X-Vault-Token is ignored."""

import base64
import json
import tempfile
import time
import uuid
from pathlib import Path

import hvac
import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from targets import MOUNT, http

K8S_ISSUER = "https://kubernetes.default.svc.cluster.local"
IDP_ISSUER = "https://idp.example"


def b64(n, length=None):
    data = n.to_bytes(length or (n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwks_of(rsa_key, ec_key):
    r, e = rsa_key.public_key().public_numbers(), ec_key.public_key().public_numbers()
    return {"keys": [
        {"kty": "RSA", "kid": "rsa-1", "alg": "RS256", "use": "sig", "n": b64(r.n), "e": b64(r.e)},
        {"kty": "EC", "kid": "ec-1", "alg": "ES256", "use": "sig", "crv": "P-256", "x": b64(e.x, 32), "y": b64(e.y, 32)},
    ]}


@pytest.fixture(scope="module")
def world():
    from conftest import running

    keys = {"rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "ec": ec.generate_private_key(ec.SECP256R1())}
    with tempfile.TemporaryDirectory() as tmp:
        jwks = Path(tmp) / "jwks.json"
        jwks.write_text(json.dumps(jwks_of(keys["rsa"], keys["ec"])))
        config = Path(tmp) / "clawvault.toml"
        config.write_text(f'kubernetes_jwks = "{jwks}"\nkubernetes_issuer = "{K8S_ISSUER}"\n'
                          f'jwt_jwks = "{jwks}"\njwt_issuer = "{IDP_ISSUER}"\n')
        with running(["--config", str(config)]) as s:
            admin = {"Authorization": f"Bearer {s['admin_key']}"}
            status, vault = http(s["base"], "POST", "/v1/vaults", None, {"name": MOUNT}, admin)
            assert status == 201, vault
            status, agent = http(s["base"], "POST", "/v1/agents", None, {"name": "eso"}, admin)
            assert status == 201, agent
            status, _ = http(s["base"], "POST", f"/v1/vaults/{vault['id']}/policies", None, {
                "principal_type": "agent", "principal_id": agent["agent"]["id"],
                "secret_path_pattern": "apps/**", "permissions": ["read", "list"]}, admin)
            assert status == 201
            status, _ = http(s["base"], "PUT", f"/v1/{MOUNT}/data/apps/db", s["admin_key"], {"data": {"password": "pw"}})
            assert status == 200
            status, _ = http(s["base"], "PUT", f"/v1/{MOUNT}/data/other/x", s["admin_key"], {"data": {"k": "v"}})
            assert status == 200
            roles = {}
            for body in [
                {"method": "kubernetes", "name": "eso", "agent_id": agent["agent"]["id"], "bindings": {
                    "bound_service_account_names": ["external-secrets"], "bound_service_account_namespaces": ["eso"]}},
                {"method": "jwt", "name": "ci", "agent_id": agent["agent"]["id"], "bindings": {
                    "bound_audiences": ["clawvault"], "bound_claims": {"repository": ["org/app"]}}},
                {"method": "approle", "name": "machine", "agent_id": agent["agent"]["id"], "token_ttl_seconds": 120},
            ]:
                status, made = http(s["base"], "POST", "/v1/auth/roles", None, body, admin)
                assert status == 201, made
                roles[body["method"]] = made
            yield {**s, "keys": keys, "roles": roles, "agent": agent}


def sign(world, claims, key="rsa", **overrides):
    now = int(time.time())
    body = {"iat": now, "nbf": now - 5, "exp": now + 600, **claims, **overrides}
    alg, kid = ("RS256", "rsa-1") if key == "rsa" else ("ES256", "ec-1")
    return pyjwt.encode(body, world["keys"][key], algorithm=alg, headers={"kid": kid})


def service_account(world, namespace="eso", name="external-secrets", key="rsa", **overrides):
    return sign(world, {"iss": K8S_ISSUER, "sub": f"system:serviceaccount:{namespace}:{name}",
                        "aud": [K8S_ISSUER]}, key, **overrides)


def login(world, method, body, token=None):
    return http(world["base"], "PUT", f"/v1/auth/{method}/login", token, body)


@pytest.mark.parametrize("key", ["rsa", "ec"])
def test_a_service_account_logs_in_and_reads_what_its_agent_may(world, key):
    status, body = login(world, "kubernetes", {"role": "eso", "jwt": service_account(world, key=key)}, token="stale")
    assert status == 200, body
    auth = body["auth"]
    assert 0 < auth["lease_duration"] <= 600 and auth["renewable"] is False, "short-lived"
    token = auth["client_token"]
    client = hvac.Client(url=world["base"], token=token)
    assert client.secrets.kv.v2.read_secret_version(path="apps/db", mount_point=MOUNT,
                                                    raise_on_deleted_version=True)["data"]["data"] == {"password": "pw"}
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v2.read_secret_version(path="other/x", mount_point=MOUNT, raise_on_deleted_version=True)
    status, me = http(world["base"], "GET", "/v1/auth/token/lookup-self", token)
    assert status == 200 and me["data"]["display_name"] == "eso" and 0 < me["data"]["ttl"] <= 600
    assert http(world["base"], "PUT", "/v1/auth/token/revoke-self", token)[0] == 204
    assert http(world["base"], "GET", "/v1/auth/token/lookup-self", token)[0] == 403, "revoked at once"


def test_tokens_that_must_not_log_in_are_refused_with_400(world):
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = pyjwt.encode({"iss": K8S_ISSUER, "sub": "system:serviceaccount:eso:external-secrets",
                           "exp": int(time.time()) + 600}, other_key, algorithm="RS256", headers={"kid": "rsa-1"})
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=").decode()
    claims = base64.urlsafe_b64encode(json.dumps({"iss": K8S_ISSUER, "sub": "system:serviceaccount:eso:external-secrets",
                                                  "exp": int(time.time()) + 600}).encode()).rstrip(b"=").decode()
    hs256 = pyjwt.encode({"iss": K8S_ISSUER, "sub": "system:serviceaccount:eso:external-secrets",
                          "exp": int(time.time()) + 600}, "secret" * 6, algorithm="HS256", headers={"kid": "rsa-1"})
    cases = {
        "another key's signature": forged,
        "alg none": f"{header}.{claims}.",
        "HMAC with a public key as secret": hs256,
        "expired": service_account(world, exp=int(time.time()) - 3600),
        "not yet valid": service_account(world, nbf=int(time.time()) + 3600),
        "another issuer": service_account(world, iss="https://evil.example"),
        "another namespace": service_account(world, namespace="default"),
        "another service account": service_account(world, name="intruder"),
        "garbage": "not.a.jwt",
    }
    for why, token in cases.items():
        status, body = login(world, "kubernetes", {"role": "eso", "jwt": token})
        assert status == 400 and body["errors"], (why, status, body)
    assert login(world, "kubernetes", {"role": "nobody", "jwt": service_account(world)})[0] == 400
    assert login(world, "kubernetes", {"role": "eso"})[0] == 400, "no jwt"


def test_an_identity_providers_jwt_logs_in_only_with_its_bound_audience_and_claims(world):
    good = {"iss": IDP_ISSUER, "sub": "repo:org/app", "aud": "clawvault", "repository": "org/app"}
    status, body = login(world, "jwt", {"role": "ci", "jwt": sign(world, good, key="ec")})
    assert status == 200, body
    for why, claims in {"wrong audience": {**good, "aud": "other"}, "wrong claim": {**good, "repository": "org/evil"},
                        "no claim": {k: v for k, v in good.items() if k != "repository"}}.items():
        assert login(world, "jwt", {"role": "ci", "jwt": sign(world, claims)})[0] == 400, why
    k8s_token = service_account(world)
    assert login(world, "jwt", {"role": "ci", "jwt": k8s_token})[0] == 400, "another issuer's token"


def test_an_approle_logs_in_with_its_secret_and_nothing_else(world):
    role = world["roles"]["approle"]
    role_id, secret_id = role["role"]["id"], role["secret_id"]
    client = hvac.Client(url=world["base"])
    answer = client.auth.approle.login(role_id=role_id, secret_id=secret_id)
    assert 0 < answer["auth"]["lease_duration"] <= 120
    status, body = login(world, "approle", {"role_id": role_id, "secret_id": secret_id + "x"})
    assert status == 400 and body["errors"] == ["invalid role or secret ID"]
    assert login(world, "approle", {"role_id": str(uuid.uuid4()), "secret_id": secret_id})[0] == 400
    assert login(world, "approle", {"role_id": "not-a-uuid", "secret_id": secret_id})[0] == 400
    status, listed = http(world["base"], "GET", "/v1/auth/roles", None, None, {"Authorization": f"Bearer {world['admin_key']}"})
    assert status == 200 and secret_id not in json.dumps(listed), "the secret is shown once"


def test_a_deactivated_agent_logs_in_no_more_and_only_admins_manage_roles(world):
    admin = {"Authorization": f"Bearer {world['admin_key']}"}
    status, other = http(world["base"], "POST", "/v1/agents", None, {"name": "short-lived"}, admin)
    status, made = http(world["base"], "POST", "/v1/auth/roles", None, {
        "method": "kubernetes", "name": "gone", "agent_id": other["agent"]["id"], "bindings": {
            "bound_service_account_names": ["*"], "bound_service_account_namespaces": ["*"]}}, admin)
    assert status == 201, made
    assert login(world, "kubernetes", {"role": "gone", "jwt": service_account(world)})[0] == 200
    assert http(world["base"], "PATCH", f"/v1/agents/{other['agent']['id']}", None, {"is_active": False}, admin)[0] == 200
    assert login(world, "kubernetes", {"role": "gone", "jwt": service_account(world)})[0] == 400
    agent_key = {"Authorization": f"Bearer {other['api_key']}"}
    assert http(world["base"], "GET", "/v1/auth/roles", None, None, {"Authorization": f"Bearer {world['agent']['api_key']}"})[0] == 403
    status, body = http(world["base"], "POST", "/v1/auth/roles", None, {"method": "kubernetes", "name": "x", "agent_id": world["agent"]["agent"]["id"],
                                                                         "bindings": {"bogus": 1}}, admin)
    assert status == 400 and "bogus" in json.dumps(body)
    assert http(world["base"], "POST", "/v1/auth/roles", None, {"method": "ldap", "name": "x", "agent_id": world["agent"]["agent"]["id"]}, admin)[0] == 400
    assert http(world["base"], "DELETE", f"/v1/auth/roles/{made['role']['id']}", None, None, admin)[0] == 204
    assert login(world, "kubernetes", {"role": "gone", "jwt": service_account(world)})[0] == 400
    del agent_key


def test_login_rules_that_stop_a_whole_cluster_or_a_copied_token(world):
    admin = {"Authorization": f"Bearer {world['admin_key']}"}
    agent_id = world["agent"]["agent"]["id"]
    status, body = http(world["base"], "POST", "/v1/auth/roles", None, {
        "method": "jwt", "name": "audience-only", "agent_id": agent_id, "bindings": {"bound_audiences": ["clawvault"]}}, admin)
    assert status == 400 and "bound_subject or bound_claims" in json.dumps(body), "an audience alone admits every pod"
    # A legacy-lifetime token (a year of exp) is taken only until its warnafter.
    stale = service_account(world, **{"kubernetes.io": {"namespace": "eso", "warnafter": int(time.time()) - 60}})
    assert login(world, "kubernetes", {"role": "eso", "jwt": stale})[0] == 400
    fresh = service_account(world, **{"kubernetes.io": {"namespace": "eso", "warnafter": int(time.time()) + 600}})
    assert login(world, "kubernetes", {"role": "eso", "jwt": fresh})[0] == 200
    # An admin key scoped to reading agents cannot mint a way to act as one.
    status, key = http(world["base"], "POST", "/v1/auth/api-keys", None, {"name": "ro", "scopes": ["agents:read"]}, admin)
    assert status == 201, key
    scoped = {"Authorization": f"Bearer {key['api_key']}"}
    status, body = http(world["base"], "POST", "/v1/auth/roles", None, {
        "method": "approle", "name": "sneaky", "agent_id": agent_id}, scoped)
    assert status == 403 and "agents:write" in json.dumps(body), body
    assert http(world["base"], "GET", "/v1/auth/roles", None, None, scoped)[0] == 200
