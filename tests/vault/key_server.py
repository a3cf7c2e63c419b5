"""The identity provider and Kubernetes API stand-in the login tests share, on 127.0.0.1:0 in
a thread: `/jwks.json` (the public halves of its signing keys), an OIDC discovery document,
and the TokenReview API, which authenticates a service-account token signed by one of its
keys, unexpired, of the Kubernetes issuer and for an audience asked, as its account (what
OpenBao's kubernetes method asks the API server). `served` notes every path answered."""

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt as pyjwt
from cryptography.hazmat.primitives.asymmetric import ec

REVIEW_PATH = "/apis/authentication.k8s.io/v1/tokenreviews"


def b64(n, length=None):
    data = n.to_bytes(length or (n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk(kid, key):
    """The public JWK of a private RSA or P-256 key."""
    numbers = key.public_key().public_numbers()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {"kty": "EC", "kid": kid, "alg": "ES256", "use": "sig", "crv": "P-256",
                "x": b64(numbers.x, 32), "y": b64(numbers.y, 32)}
    return {"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": b64(numbers.n), "e": b64(numbers.e)}


class KeyServer:
    """`keys` maps key ids to private keys; `k8s_issuer` is the issuer TokenReview accepts;
    `idp_issuer`, when given, is named by the discovery document."""

    def __init__(self, keys, k8s_issuer, idp_issuer=None):
        self.jwks = {"keys": [jwk(kid, key) for kid, key in keys.items()]}
        self.public = {kid: (key.public_key(), jwk(kid, key)["alg"]) for kid, key in keys.items()}
        self.k8s_issuer = k8s_issuer
        self.served = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                server.served.append(self.path)
                if self.path == "/jwks.json":
                    self.answer(200, server.jwks)
                elif self.path == "/.well-known/openid-configuration" and idp_issuer:
                    self.answer(200, {"issuer": idp_issuer, "jwks_uri": server.url + "/jwks.json",
                                      "id_token_signing_alg_values_supported": ["RS256", "ES256"]})
                else:
                    self.answer(404, {"error": "not found"})

            def do_POST(self):
                server.served.append(self.path)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if self.path != REVIEW_PATH:
                    self.answer(404, {"error": "not found"})
                    return
                spec = body.get("spec") or {}
                self.answer(201, {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "metadata": {},
                                  "spec": spec, "status": server.review(spec.get("token", ""), spec.get("audiences"))})

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def review(self, token, audiences):
        """A TokenReview's status, as an API server gives it."""
        try:
            kid = pyjwt.get_unverified_header(token).get("kid")
            key, alg = self.public[kid]
            claims = pyjwt.decode(token, key, algorithms=[alg], issuer=self.k8s_issuer, options={"verify_aud": False})
            held = claims.get("aud") or []
            held = [held] if isinstance(held, str) else held
            granted = [a for a in audiences or [self.k8s_issuer] if a in held]
            account = claims["kubernetes.io"]["serviceaccount"]
            if not granted or not claims["sub"].startswith("system:serviceaccount:"):
                raise KeyError("audience or subject")
        except (pyjwt.PyJWTError, KeyError, TypeError):
            return {"user": {}, "error": "[invalid bearer token, token lookup failed]"}
        namespace = claims["kubernetes.io"]["namespace"]
        return {"authenticated": True, "audiences": granted,
                "user": {"username": claims["sub"], "uid": account["uid"],
                         "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]}}

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=30)
