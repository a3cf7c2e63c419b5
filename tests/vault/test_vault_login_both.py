"""The logins of the Vault-compatible API against clawvault and against OpenBao's `bao server
-dev`, with the same requests and the same checks: what passes on both is what a Vault client
logging in to clawvault can rely on.

A test identity provider runs on 127.0.0.1:0 in a thread: it serves the JWKS of an RSA and an EC
P-256 key (`/jwks.json`), a discovery document naming it, and, standing in for a Kubernetes API
server, the TokenReview API. Service-account tokens (RS256 and ES256, shaped as a projected
Kubernetes token) and an identity provider's JWTs are signed with those keys by PyJWT.

- clawvault reads the keys from that server (`kubernetes_jwks` the JWKS URL, `jwt_jwks` the
  discovery URL, both issuers set, in a `--config` file); its roles are made through the native
  API with the admin key.
- OpenBao is configured through its HTTP API with the root token. Its `kubernetes` method does
  not verify locally: with `pem_keys` it checks the signature, issuer, times and bindings itself
  and then still asks `kubernetes_host` for a TokenReview of every token it accepts (it also needs
  `disable_local_ca_jwt` and a `kubernetes_ca_cert`, and checks the issuer only with
  `disable_iss_validation: false`). So a service-account token is logged in on OpenBao two ways:
  through the `jwt` method mounted at `auth/kubernetes-jwt` (`jwks_url`, `bound_issuer`, the
  account bound by `bound_claims` on `/kubernetes.io/namespace` and
  `/kubernetes.io/serviceaccount/name`), and through the real `kubernetes` method at
  `auth/kubernetes`, whose TokenReview the test server answers as an API server would (it
  verifies the token against the same keys). An identity provider's JWT goes to a `jwt` mount at
  `auth/jwt`; AppRole to `auth/approle`.

Where the two differ in status, the check keeps clawvault's (and Vault's `jwt` method's) answer
and is an xfail, strict, on the other side: OpenBao's `kubernetes` method refuses a token it
rejects with 403, not 400.
"""

import base64
import datetime
import json
import tempfile
import time
import uuid
from pathlib import Path

import hvac
import jwt as pyjwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from key_server import REVIEW_PATH, KeyServer
from targets import MOUNT, http, openbao

K8S_ISSUER = "https://kubernetes.default.svc.cluster.local"
IDP_ISSUER = "https://idp.example"
AUDIENCE = "vault"
NAMESPACE, ACCOUNT = "eso", "external-secrets"
READ_APPS = f'path "{MOUNT}/data/apps/*" {{ capabilities = ["read"] }}'


def pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                          serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.fixture(scope="module")
def keys():
    return {"rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "ec": ec.generate_private_key(ec.SECP256R1())}


def sign(keys, claims, key="rsa", **overrides):
    now = int(time.time())
    body = {"iat": now, "nbf": now - 5, "exp": now + 600, **claims, **overrides}
    alg, kid = ("RS256", "rsa-1") if key == "rsa" else ("ES256", "ec-1")
    return pyjwt.encode(body, keys[key], algorithm=alg, headers={"kid": kid})


def account_claims(namespace=NAMESPACE, name=ACCOUNT):
    """The claims of a projected Kubernetes service-account token."""
    uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"serviceaccount/{namespace}/{name}"))
    return {"iss": K8S_ISSUER, "sub": f"system:serviceaccount:{namespace}:{name}", "aud": [K8S_ISSUER],
            "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}}}


def service_account(keys, namespace=NAMESPACE, name=ACCOUNT, key="rsa", **overrides):
    return sign(keys, account_claims(namespace, name), key, **overrides)


def idp_claims():
    return {"iss": IDP_ISSUER, "sub": "repo:org/app", "aud": AUDIENCE, "repository": "org/app"}


def unsigned(claims, alg):
    part = lambda doc: base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{part({'alg': alg, 'typ': 'JWT', 'kid': 'rsa-1'})}.{part(claims)}."


class AnsweredOtherwise(AssertionError):
    """A refusal as Vault words one, with the other status of a refused login (403 for 400)."""


def refused_as_vault(status, body, expected=400):
    """Vault's refusal: the status and a JSON list of errors."""
    assert isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"], (status, body)
    if status != expected and {status, expected} == {400, 403}:
        raise AnsweredOtherwise(f"{status} instead of {expected}: {body}")
    assert status == expected, (status, body)


# ---------------------------------------------------------------------------------------------
# The two servers, each with its own test identity provider.


@pytest.fixture(scope="module")
def clawvault_side(keys):
    from conftest import running

    with KeyServer({"rsa-1": keys["rsa"], "ec-1": keys["ec"]}, K8S_ISSUER, IDP_ISSUER) as issuer, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "clawvault.toml"
        config.write_text(
            f"kubernetes_jwks = {json.dumps(issuer.url + '/jwks.json')}\n"
            f"kubernetes_issuer = {json.dumps(K8S_ISSUER)}\n"
            f"jwt_jwks = {json.dumps(issuer.url + '/.well-known/openid-configuration')}\n"
            f"jwt_issuer = {json.dumps(IDP_ISSUER)}\n")
        with running(["--config", str(config)]) as s:
            base, admin_key = s["base"], s["admin_key"]
            admin = {"Authorization": f"Bearer {admin_key}"}

            def native(method, path, body, expected=201):
                status, answer = http(base, method, path, None, body, admin)
                assert status == expected, (path, status, answer)
                return answer

            vault = native("POST", "/v1/vaults", {"name": MOUNT})
            agent = native("POST", "/v1/agents", {"name": "apps-reader"})["agent"]
            native("POST", f"/v1/vaults/{vault['id']}/policies", {
                "principal_type": "agent", "principal_id": agent["id"],
                "secret_path_pattern": "apps/**", "permissions": ["read"]})
            for path, data in [("apps/db", {"password": "pw"}), ("other/x", {"k": "v"})]:
                status, answer = http(base, "PUT", f"/v1/{MOUNT}/data/{path}", admin_key, {"data": data})
                assert status == 200, answer
            native("POST", "/v1/auth/roles", {
                "method": "kubernetes", "name": "eso", "agent_id": agent["id"], "token_ttl_seconds": 600,
                "bindings": {"bound_service_account_names": [ACCOUNT], "bound_service_account_namespaces": [NAMESPACE]}})
            native("POST", "/v1/auth/roles", {
                "method": "jwt", "name": "ci", "agent_id": agent["id"], "token_ttl_seconds": 600,
                "bindings": {"bound_audiences": [AUDIENCE], "bound_claims": {"repository": ["org/app"]}}})
            made = native("POST", "/v1/auth/roles", {
                "method": "approle", "name": "machine", "agent_id": agent["id"], "token_ttl_seconds": 120})
            yield {"name": "clawvault", "base": base, "issuer": issuer, "idp_fetch": "/.well-known/openid-configuration",
                   "approle": (made["role"]["id"], made["secret_id"])}


@pytest.fixture(scope="module")
def openbao_side(keys):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test cluster CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(keys["ec"].public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now)
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(keys["ec"], hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode())

    with KeyServer({"rsa-1": keys["rsa"], "ec-1": keys["ec"]}, K8S_ISSUER, IDP_ISSUER) as issuer, openbao() as target:
        base, root = target["base"], target["token"]

        def call(method, path, body=None):
            status, answer = http(base, method, path, root, body)
            assert status in (200, 204), (path, status, answer)
            return answer

        call("PUT", "/v1/sys/policies/acl/apps-reader", {"policy": READ_APPS})
        for path, data in [("apps/db", {"password": "pw"}), ("other/x", {"k": "v"})]:
            call("PUT", f"/v1/{MOUNT}/data/{path}", {"data": data})
        policy = {"token_policies": ["apps-reader"], "token_ttl": 600}

        call("POST", "/v1/sys/auth/kubernetes", {"type": "kubernetes"})
        call("POST", "/v1/auth/kubernetes/config", {
            "kubernetes_host": issuer.url, "kubernetes_ca_cert": ca, "disable_local_ca_jwt": True,
            "pem_keys": [pem(keys["rsa"]), pem(keys["ec"])], "issuer": K8S_ISSUER, "disable_iss_validation": False})
        call("POST", "/v1/auth/kubernetes/role/eso", {
            "bound_service_account_names": [ACCOUNT], "bound_service_account_namespaces": [NAMESPACE], **policy})

        call("POST", "/v1/sys/auth/kubernetes-jwt", {"type": "jwt"})
        call("POST", "/v1/auth/kubernetes-jwt/config", {"jwks_url": issuer.url + "/jwks.json", "bound_issuer": K8S_ISSUER})
        call("POST", "/v1/auth/kubernetes-jwt/role/eso", {
            "role_type": "jwt", "user_claim": "sub", "bound_audiences": [K8S_ISSUER],
            "bound_claims": {"/kubernetes.io/namespace": [NAMESPACE], "/kubernetes.io/serviceaccount/name": [ACCOUNT]},
            **policy})

        call("POST", "/v1/sys/auth/jwt", {"type": "jwt"})
        call("POST", "/v1/auth/jwt/config", {"jwks_url": issuer.url + "/jwks.json", "bound_issuer": IDP_ISSUER})
        call("POST", "/v1/auth/jwt/role/ci", {
            "role_type": "jwt", "user_claim": "sub", "bound_audiences": [AUDIENCE],
            "bound_claims": {"repository": ["org/app"]}, **policy})

        call("POST", "/v1/sys/auth/approle", {"type": "approle"})
        call("POST", "/v1/auth/approle/role/machine", {"token_policies": ["apps-reader"], "token_ttl": 120})
        role_id = call("GET", "/v1/auth/approle/role/machine/role-id")["data"]["role_id"]
        secret_id = call("POST", "/v1/auth/approle/role/machine/secret-id")["data"]["secret_id"]
        yield {"name": "openbao", "base": base, "issuer": issuer, "idp_fetch": "/jwks.json", "approle": (role_id, secret_id)}


@pytest.fixture(scope="module", params=["clawvault", "openbao"])
def target(request):
    return request.getfixturevalue(f"{request.param}_side")


# Where a service-account token logs in: the mount, and what the server fetches from the test
# server to check it.
SA_ROUTES = {
    "clawvault": ("clawvault", "kubernetes", "/jwks.json"),
    "openbao-jwt": ("openbao", "kubernetes-jwt", "/jwks.json"),
    "openbao-kubernetes": ("openbao", "kubernetes", REVIEW_PATH),
}


@pytest.fixture(scope="module")
def sa(request):
    side, mount, fetched = SA_ROUTES[request.param]
    return {**request.getfixturevalue(f"{side}_side"), "mount": mount, "fetched": fetched}


def login(side, mount, body, token=None):
    return http(side["base"], "PUT", f"/v1/auth/{mount}/login", token, body)


def uses_a_token_as_its_policy_allows(side, auth, longest):
    """The login's token: short-lived, reads `secret/apps/db` (hvac), is refused outside its
    policy, looks itself up, and is revoked at once by revoke-self."""
    assert isinstance(auth["client_token"], str) and auth["client_token"]
    assert 0 < auth["lease_duration"] <= longest, auth
    token = auth["client_token"]
    client = hvac.Client(url=side["base"], token=token)
    read = client.secrets.kv.v2.read_secret_version(path="apps/db", mount_point=MOUNT, raise_on_deleted_version=True)
    assert read["data"]["data"] == {"password": "pw"}
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v2.read_secret_version(path="other/x", mount_point=MOUNT, raise_on_deleted_version=True)
    status, me = http(side["base"], "GET", "/v1/auth/token/lookup-self", token)
    assert status == 200 and 0 < me["data"]["ttl"] <= longest, (status, me)
    assert http(side["base"], "PUT", "/v1/auth/token/revoke-self", token) == (204, None)
    status, body = http(side["base"], "GET", "/v1/auth/token/lookup-self", token)
    refused_as_vault(status, body, 403)
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v2.read_secret_version(path="apps/db", mount_point=MOUNT, raise_on_deleted_version=True)


# ---------------------------------------------------------------------------------------------
# Kubernetes service-account tokens.


@pytest.mark.parametrize("sa", sorted(SA_ROUTES), indirect=True)
@pytest.mark.parametrize("key", ["rsa", "ec"])
def test_a_service_account_logs_in_and_its_token_does_what_its_policy_allows(sa, keys, key):
    status, body = login(sa, sa["mount"], {"role": "eso", "jwt": service_account(keys, key=key)}, token="stale-token")
    assert status == 200, body
    assert sa["fetched"] in sa["issuer"].served, "the token was checked with what the test server serves"
    uses_a_token_as_its_policy_allows(sa, body["auth"], 600)


def forged():
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return pyjwt.encode({**account_claims(), "exp": int(time.time()) + 600}, other, algorithm="RS256",
                        headers={"kid": "rsa-1"})


SA_REFUSALS = {
    "another key's signature": lambda keys: {"role": "eso", "jwt": forged()},
    "alg none": lambda keys: {"role": "eso", "jwt": unsigned({**account_claims(), "exp": int(time.time()) + 600}, "none")},
    "HS256": lambda keys: {"role": "eso", "jwt": pyjwt.encode({**account_claims(), "exp": int(time.time()) + 600},
                                                              "shared-secret-" * 3, algorithm="HS256",
                                                              headers={"kid": "rsa-1"})},
    "expired": lambda keys: {"role": "eso", "jwt": service_account(keys, exp=int(time.time()) - 3600)},
    "not yet valid": lambda keys: {"role": "eso", "jwt": service_account(keys, nbf=int(time.time()) + 3600)},
    "another issuer": lambda keys: {"role": "eso", "jwt": service_account(keys, iss="https://evil.example")},
    "unbound namespace": lambda keys: {"role": "eso", "jwt": service_account(keys, namespace="default")},
    "unbound name": lambda keys: {"role": "eso", "jwt": service_account(keys, name="intruder")},
    "not a JWT": lambda keys: {"role": "eso", "jwt": "not.a.jwt"},
    "unknown role": lambda keys: {"role": "nobody", "jwt": service_account(keys)},
    "no jwt": lambda keys: {"role": "eso"},
}
# OpenBao's kubernetes method answers these with 403 (`permission denied`, or the check that
# failed); the role and field checks before them are its 400s.
KUBERNETES_403 = {"another key's signature", "alg none", "HS256", "expired", "not yet valid", "another issuer",
                  "unbound namespace", "unbound name", "not a JWT"}


def sa_refusal_params():
    for route in sorted(SA_ROUTES):
        for case in SA_REFUSALS:
            marks = ()
            if route == "openbao-kubernetes" and case in KUBERNETES_403:
                marks = pytest.mark.xfail(strict=True, raises=AnsweredOtherwise, reason=(
                    "OpenBao's kubernetes method refuses a token it rejects with 403; clawvault (and "
                    "Vault's jwt method) with 400"))
            yield pytest.param(route, case, marks=marks, id=f"{route}-{case}")


@pytest.mark.parametrize("sa,case", list(sa_refusal_params()), indirect=["sa"])
def test_a_service_account_token_that_must_not_log_in_is_refused_with_400(sa, keys, case):
    status, body = login(sa, sa["mount"], SA_REFUSALS[case](keys), token="stale-token")
    refused_as_vault(status, body)


# ---------------------------------------------------------------------------------------------
# An identity provider's JWTs.


@pytest.mark.parametrize("key", ["rsa", "ec"])
def test_an_identity_providers_jwt_logs_in_with_its_audience_and_claims(target, keys, key):
    status, body = login(target, "jwt", {"role": "ci", "jwt": sign(keys, idp_claims(), key)}, token="stale-token")
    assert status == 200, body
    assert target["idp_fetch"] in target["issuer"].served, "the keys were fetched from the test server"
    uses_a_token_as_its_policy_allows(target, body["auth"], 600)


JWT_REFUSALS = {
    "wrong audience": lambda keys: {"role": "ci", "jwt": sign(keys, {**idp_claims(), "aud": "another"})},
    "wrong bound claim": lambda keys: {"role": "ci", "jwt": sign(keys, {**idp_claims(), "repository": "org/evil"})},
    "no bound claim": lambda keys: {"role": "ci", "jwt": sign(keys, {k: v for k, v in idp_claims().items()
                                                                     if k != "repository"})},
    "another issuer": lambda keys: {"role": "ci", "jwt": sign(keys, {**idp_claims(), "iss": K8S_ISSUER})},
    "expired": lambda keys: {"role": "ci", "jwt": sign(keys, idp_claims(), exp=int(time.time()) - 3600)},
    "another key's signature": lambda keys: {"role": "ci", "jwt": pyjwt.encode(
        {**idp_claims(), "exp": int(time.time()) + 600}, ec.generate_private_key(ec.SECP256R1()),
        algorithm="ES256", headers={"kid": "ec-1"})},
    "unknown role": lambda keys: {"role": "nobody", "jwt": sign(keys, idp_claims())},
    "no jwt": lambda keys: {"role": "ci"},
}


@pytest.mark.parametrize("case", list(JWT_REFUSALS))
def test_a_jwt_that_must_not_log_in_is_refused_with_400(target, keys, case):
    status, body = login(target, "jwt", JWT_REFUSALS[case](keys))
    refused_as_vault(status, body)


# ---------------------------------------------------------------------------------------------
# AppRole.


def test_an_approle_logs_in_with_its_secret(target):
    role_id, secret_id = target["approle"]
    answer = hvac.Client(url=target["base"]).auth.approle.login(role_id=role_id, secret_id=secret_id)
    uses_a_token_as_its_policy_allows(target, answer["auth"], 120)


APPROLE_REFUSALS = {
    "wrong secret": lambda role_id, secret_id: {"role_id": role_id, "secret_id": secret_id + "x"},
    "unknown role_id": lambda role_id, secret_id: {"role_id": str(uuid.uuid4()), "secret_id": secret_id},
    "role_id not a UUID": lambda role_id, secret_id: {"role_id": "not-a-uuid", "secret_id": secret_id},
    "a made-up secret": lambda role_id, secret_id: {"role_id": role_id, "secret_id": str(uuid.uuid4())},
}


@pytest.mark.parametrize("case", list(APPROLE_REFUSALS))
def test_an_approle_login_without_its_secret_is_refused_with_400(target, case):
    status, body = login(target, "approle", APPROLE_REFUSALS[case](*target["approle"]), token="stale-token")
    refused_as_vault(status, body)
    assert body["errors"] == ["invalid role or secret ID"], "both servers give Vault's one message"
    with pytest.raises(hvac.exceptions.InvalidRequest):
        hvac.Client(url=target["base"]).auth.approle.login(**APPROLE_REFUSALS[case](*target["approle"]))


def test_an_approle_login_without_a_secret_is_refused_with_400(target):
    status, body = login(target, "approle", {"role_id": target["approle"][0]})
    refused_as_vault(status, body)
