"""A local stand-in for GitHub's `POST /app/installations/{id}/access_tokens` that checks what
GitHub checks: the app JWT's RS256 signature against the app's public key, its issuer, that it
was issued about a minute ago and lives at most ten minutes; and the headers GitHub documents.
It records each exchange, so tests can see when clawvault served a kept token instead."""

import datetime
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


class FakeGitHub:
    def __init__(self, app_id=4242, installation_id=99):
        self.app_id = app_id
        self.installation_id = installation_id
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        # As GitHub hands it out: PKCS#1 PEM.
        self.private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        ).decode()
        self.public_key = key.public_key()
        self.exchanges = []
        self.refusals = []
        # Misbehaviours a test may switch on: a token that is not one, an expiry already past,
        # an answer that takes a while (so that callers arrive together).
        self.bad_token = None
        self.expires_in = 3600
        self.delay = 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                status, answer = fake.answer(self.path, self.headers, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def refuse(self, status, message):
        self.refusals.append(message)
        return status, {"message": message, "documentation_url": "https://docs.github.com/rest"}

    def answer(self, path, headers, body):
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return self.refuse(401, "A JSON web token could not be decoded")
        if headers.get("Accept") != "application/vnd.github+json" or not headers.get("X-GitHub-Api-Version"):
            return self.refuse(400, "missing Accept or X-GitHub-Api-Version")
        try:
            claims = jwt.decode(auth[7:], self.public_key, algorithms=["RS256"],
                                options={"require": ["iat", "exp", "iss"], "verify_aud": False})
        except jwt.PyJWTError as e:
            return self.refuse(401, f"bad JWT: {e}")
        now = time.time()
        if str(claims["iss"]) != str(self.app_id):
            return self.refuse(401, "wrong issuer")
        if not (30 <= now - claims["iat"] <= 90):
            return self.refuse(401, "'Issued at' claim (iat) must be about a minute in the past")
        if claims["exp"] - claims["iat"] > 600 or claims["exp"] <= now:
            return self.refuse(401, "'Expiration time' claim (exp) is too far in the future")
        parts = path.strip("/").split("/")
        if parts[:2] != ["app", "installations"] or parts[3:] != ["access_tokens"]:
            return self.refuse(404, "Not Found")
        if parts[2] != str(self.installation_id):
            return self.refuse(404, "Not Found")
        time.sleep(self.delay)
        token = self.bad_token or "ghs_" + secrets.token_hex(18)
        expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=self.expires_in)
        self.exchanges.append({"body": body, "token": token, "claims": claims})
        answer = {
            "token": token,
            "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "permissions": body.get("permissions") or {"contents": "write", "metadata": "read"},
            "repository_selection": "selected" if body.get("repositories") else "all",
        }
        if body.get("repositories"):
            answer["repositories"] = [{"name": r, "full_name": f"acme/{r}"} for r in body["repositories"]]
        return 201, answer

    def close(self):
        self.httpd.shutdown()
