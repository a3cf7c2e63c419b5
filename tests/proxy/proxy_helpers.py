"""Helpers for the proxy tests: native API calls an admin would make, and fake provider
upstreams on loopback that check the injected key (refusing anything else with the provider's
own 401) and record every request that reaches them, so a test can say what arrived and what
never did."""

import base64
import http.server
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid


def api(server, method, path, body=None, key=None):
    """One native API call; returns (status, JSON body or None)."""
    req = urllib.request.Request(
        server["base"] + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key or server['admin_key']}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read()
            return resp.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        text = e.read()
        return e.code, (json.loads(text) if text else None)


def ok(result):
    status, body = result
    assert 200 <= status < 300, (status, body)
    return body


def forms(value):
    """The encoded forms of a value a careless upstream could echo."""
    raw = value.encode()
    return [value, base64.b64encode(raw).decode().rstrip("="), base64.urlsafe_b64encode(raw).decode().rstrip("="),
            raw.hex(), urllib.parse.quote(value, safe=""), json.dumps(value)[1:-1]]


class Upstream:
    """A fake provider on 127.0.0.1. `key` is the real key it expects; `check(handler)` says
    whether a request carries it. Each request is recorded (method, path, headers, body)."""

    def __init__(self, key):
        self.key = key
        self.seen = []
        upstream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                self.handle_any()

            def do_POST(self):
                self.handle_any()

            def do_HEAD(self):
                self.handle_any()

            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = self.read_chunked()
                else:
                    body = self.rfile.read(length) if length else b""
                upstream.seen.append({"method": self.command, "path": self.path,
                                      "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                upstream.route(self, body)

            def read_chunked(self):
                out = b""
                while True:
                    size = int(self.rfile.readline().strip().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        return out
                    out += self.rfile.read(size)
                    self.rfile.readline()

            def reply(self, status, body, content_type="application/json", headers=()):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def chunks(self, parts, content_type="text/event-stream", pause=0.05):
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for part in parts:
                    self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                    self.wfile.flush()
                    time.sleep(pause)
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def route(self, h, body):
        raise NotImplementedError

    def url(self, path=""):
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self):
        self.httpd.shutdown()


def sse(events):
    return [f"data: {json.dumps(e)}\n\n".encode() for e in events] + [b"data: [DONE]\n\n"]


class OpenAI(Upstream):
    """/v1/chat/completions as OpenAI answers it, plain or streamed (SSE)."""

    def route(self, h, body):
        if h.headers.get("Authorization") != f"Bearer {self.key}":
            return h.reply(401, json.dumps({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}).encode())
        if h.path == "/v1/chat/completions":
            req = json.loads(body)
            words = ["Hello", " from", " the", " fake", " upstream"]
            if req.get("stream"):
                events = [{"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": req["model"],
                           "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]} for w in words]
                events.append({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": req["model"],
                               "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                return h.chunks(sse(events))
            answer = {"id": "c1", "object": "chat.completion", "created": 1, "model": req["model"],
                      "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(words)},
                                   "finish_reason": "stop"}],
                      "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}}
            return h.reply(200, json.dumps(answer).encode(), headers=[("Set-Cookie", "session=upstream"), ("x-request-id", "req-1")])
        if h.path == "/v1/models":
            return h.reply(200, json.dumps({"object": "list", "data": [{"id": "gpt-test", "object": "model", "created": 1, "owned_by": "me"}]}).encode())
        return h.reply(404, b'{"error": {"message": "no such path"}}')


class Anthropic(Upstream):
    """/v1/messages as Anthropic answers it, plain or streamed (SSE with named events)."""

    def route(self, h, body):
        if h.headers.get("x-api-key") != self.key or "authorization" in {k.lower() for k in h.headers.keys()}:
            return h.reply(401, json.dumps({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}).encode())
        if h.path != "/v1/messages":
            return h.reply(404, b'{"type": "error", "error": {"type": "not_found_error", "message": "no"}}')
        req = json.loads(body)
        text = "Hi from the fake Claude"
        message = {"id": "msg_1", "type": "message", "role": "assistant", "model": req["model"],
                   "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
                   "usage": {"input_tokens": 3, "output_tokens": 5}}
        if not req.get("stream"):
            return h.reply(200, json.dumps(message).encode())
        start = dict(message, content=[], stop_reason=None)
        events = [("message_start", {"type": "message_start", "message": start}),
                  ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})]
        for word in text.split(" "):
            events.append(("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                   "delta": {"type": "text_delta", "text": word + " "}}))
        events += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
                   ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                      "usage": {"output_tokens": 5}}),
                   ("message_stop", {"type": "message_stop"})]
        h.chunks([f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events])


class Echo(Upstream):
    """Echoes the key it was given in every way a careless API does: /raw in the body and a
    header, /forms base64, hex, percent- and JSON-escaped, /split cut across chunks, /gzip
    compressed, /slow a stream with pauses, /big a long body."""

    def route(self, h, body):
        if h.path.startswith("/target"):
            # As a careless 404 page does: the request target, whatever it carries.
            return h.reply(404, f"no such page: {h.path}".encode(), content_type="text/plain")
        got = h.headers.get("Authorization", "").removeprefix("Bearer ")
        if got != self.key:
            return h.reply(401, b'{"error": "bad key"}')
        if h.path.startswith("/raw"):
            return h.reply(200, json.dumps({"error": f"invalid key {got} for this model"}).encode(),
                           headers=[("X-Echo", f"key={got}"), ("Connection", "close, X-Hop"), ("X-Hop", "1"),
                                    ("Set-Cookie", "s=1")])
        if h.path.startswith("/forms"):
            return h.reply(200, "\n".join(forms(got)).encode(), content_type="text/plain")
        if h.path.startswith("/split"):
            a, b, c = got[:3], got[3:17], got[17:]
            return h.chunks([b"data: start ", a.encode(), b.encode(), c.encode() + b" end\n\n"], pause=0.1)
        if h.path.startswith("/b64split"):
            enc = base64.b64encode(f"user:{got}".encode())
            return h.chunks([enc[:9], enc[9:21], enc[21:]], content_type="text/plain", pause=0.1)
        if h.path.startswith("/gzip"):
            import gzip
            return h.reply(200, gzip.compress(got.encode()), content_type="text/plain", headers=[("Content-Encoding", "gzip")])
        if h.path.startswith("/slow"):
            return h.chunks([b"data: one\n\n", b"data: two\n\n", b"data: three\n\n"], pause=0.5)
        if h.path.startswith("/big"):
            return h.reply(200, b"x" * 200_000, content_type="text/plain")
        return h.reply(200, b'{"ok": true}')


class Telegram(Upstream):
    """Telegram's Bot API: the token is the first path segment, `/bot<token>/<method>`."""

    def route(self, h, body):
        path = urllib.parse.urlsplit(h.path).path
        if not path.startswith(f"/bot{self.key}/"):
            return h.reply(401, b'{"ok": false, "error_code": 401, "description": "Unauthorized"}')
        method = path.split("/", 2)[2]
        result = {"id": 42, "is_bot": True, "first_name": "fake"} if method == "getMe" else {"message_id": 7, "text": json.loads(body or b"{}").get("text")}
        h.reply(200, json.dumps({"ok": True, "result": result}).encode())


def fleet(server):
    """A vault with provider keys, an agent that may use them, one that may only list them,
    and one bound elsewhere."""
    name = f"proxy-{uuid.uuid4().hex[:8]}"
    vault = ok(api(server, "POST", "/v1/vaults", {"name": name}))
    keys = {
        "providers/openai": f"sk-openai-canary-{uuid.uuid4().hex}",
        "providers/anthropic": f"sk-ant-canary-{uuid.uuid4().hex}",
        "providers/echo": f"sk-echo-canary-{uuid.uuid4().hex}",
        "bots/telegram": f"123456:tg-canary-{uuid.uuid4().hex}",
        # Characters each encoder treats its own way: a query's `+` and `=`, a path's `/`.
        "providers/odd": f"od/d+k=y~{uuid.uuid4().hex}",
    }
    for path, value in keys.items():
        ok(api(server, "PUT", f"/v1/vaults/{vault['id']}/secrets/{path}", {"value": value, "type": "api_key"}))
    agents = {}
    for who, perms in [("user", ["use"]), ("lister", ["list"]), ("reader", ["read"])]:
        made = ok(api(server, "POST", "/v1/agents", {"name": f"{name}-{who}", "vault_ids": [vault["id"]]}))
        ok(api(server, "POST", f"/v1/vaults/{vault['id']}/policies", {
            "principal_type": "agent", "principal_id": made["agent"]["id"],
            "secret_path_pattern": "**", "permissions": perms,
        }))
        agents[who] = {"id": made["agent"]["id"], "key": made["api_key"]}
    return {"vault": vault, "keys": keys, "agents": agents}


def route(server, name, vault, **body):
    return ok(api(server, "POST", "/v1/proxy/routes", {"name": name, "vault": vault, **body}))
