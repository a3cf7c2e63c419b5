"""What comes back through the proxy never carries the injected key: an upstream that echoes
it raw, in a header, base64, hex, percent- or JSON-escaped, split across chunks, or base64 split
across chunks has every form replaced; a compressed answer (which could hide it) is refused;
Telegram's path token is swapped and the agent's own never reaches the upstream; every call is
audited with its route, method, path (no query), status and sizes, and no value."""

import http.client
import json
import time
import urllib.parse

import httpx
import pytest

from proxy_helpers import Echo, Telegram, api, fleet, forms, ok, route


@pytest.fixture(scope="module")
def world(server):
    f = fleet(server)
    echo = Echo(f["keys"]["providers/echo"])
    tg = Telegram(f["keys"]["bots/telegram"])
    vault = f["vault"]["name"]
    route(server, f"echo-{vault}", vault, upstream=echo.url(),
          inject=[{"in": "header", "name": "Authorization", "value": "Bearer {{secret:providers/echo}}"}])
    route(server, f"tg-{vault}", vault, preset="telegram", secret="bots/telegram", upstream=tg.url())
    yield {**f, "echo": echo, "tg": tg, "echo_url": f"{server['base']}/proxy/echo-{vault}",
           "tg_url": f"{server['base']}/proxy/tg-{vault}"}
    echo.close()
    tg.close()


def call(world, path, **kw):
    headers = {"Authorization": f"Bearer {world['agents']['user']['key']}", **kw.pop("headers", {})}
    return httpx.request(kw.pop("method", "GET"), world["echo_url"] + path, headers=headers, timeout=30, **kw)


def assert_clean(text, key):
    for form in forms(key):
        assert form not in text, f"{form!r} came back"


def test_an_echo_in_the_body_and_headers_is_scrubbed_and_hop_headers_dropped(world):
    key = world["keys"]["providers/echo"]
    r = call(world, "/raw?model=x")
    assert r.status_code == 200
    assert "[REDACTED:providers/echo]" in r.text
    assert r.headers["x-echo"] == "key=[REDACTED:providers/echo]"
    assert "x-hop" not in r.headers and "set-cookie" not in r.headers
    assert_clean(r.text + json.dumps(dict(r.headers)), key)


def test_every_encoded_form_is_scrubbed(world):
    r = call(world, "/forms")
    assert r.status_code == 200
    assert_clean(r.text, world["keys"]["providers/echo"])
    assert r.text.count("[REDACTED:providers/echo]") == len(forms(world["keys"]["providers/echo"]))


@pytest.mark.parametrize("path", ["/split", "/b64split"])
def test_an_echo_split_across_chunks_is_scrubbed_as_it_streams(world, path):
    key = world["keys"]["providers/echo"]
    with httpx.stream("GET", world["echo_url"] + path, timeout=30,
                      headers={"Authorization": f"Bearer {world['agents']['user']['key']}"}) as r:
        assert r.status_code == 200
        body = b"".join(r.iter_raw()).decode()
    assert_clean(body, key)
    if path == "/split":
        assert body == "data: start [REDACTED:providers/echo] end\n\n"


def test_a_stream_arrives_as_it_is_sent_not_at_its_end(world):
    with httpx.stream("GET", world["echo_url"] + "/slow", timeout=30,
                      headers={"Authorization": f"Bearer {world['agents']['user']['key']}"}) as r:
        chunks = [c for c in r.iter_raw() if c]
    assert b"".join(chunks) == b"data: one\n\ndata: two\n\ndata: three\n\n"
    assert len(chunks) >= 3, "each event came through on its own, not buffered to the end"


def test_a_value_echoed_as_it_was_sent_in_a_query_or_path_is_scrubbed(server, world):
    key = world["keys"]["providers/odd"]
    vault = world["vault"]["name"]
    route(server, f"q-{vault}", vault, upstream=world["echo"].url(),
          inject=[{"in": "query", "name": "key", "value": "{{secret:providers/odd}}"}])
    route(server, f"p-{vault}", vault, upstream=world["echo"].url() + "/target",
          inject=[{"in": "path", "value": "{{secret:providers/odd}}"}])
    auth = {"Authorization": f"Bearer {world['agents']['user']['key']}"}
    for name, decode in ((f"q-{vault}", urllib.parse.unquote_plus), (f"p-{vault}", urllib.parse.unquote)):
        r = httpx.get(f"{server['base']}/proxy/{name}/target?x=1", headers=auth, timeout=30)
        assert r.status_code == 404 and "[REDACTED:providers/odd]" in r.text, r.text
        assert key in decode(world["echo"].seen[-1]["path"]), "the upstream got the value"
        assert_clean(r.text, key)
        for form in (urllib.parse.quote_plus(key, safe="*-._"), urllib.parse.quote(key, safe="-._~:@!$&'()*+,;=")):
            assert form not in r.text, form


def test_a_compressed_answer_is_refused(world):
    r = call(world, "/gzip", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 502
    assert "compressed" in r.json()["error"]["message"]
    sent = world["echo"].seen[-1]
    assert sent["headers"]["accept-encoding"] == "identity", "the caller's encodings were not asked for"


def test_telegrams_path_token_is_swapped(world):
    before = len(world["tg"].seen)
    agent_key = world["agents"]["user"]["key"]
    me = httpx.get(f"{world['tg_url']}/bot{agent_key}/getMe", timeout=30)
    assert me.status_code == 200 and me.json()["result"]["is_bot"]
    # Libraries that check a token's shape take `<digits>:<key>`.
    sent = httpx.post(f"{world['tg_url']}/bot0:{agent_key}/sendMessage", json={"chat_id": 1, "text": "hello"}, timeout=30)
    assert sent.status_code == 200 and sent.json()["result"]["text"] == "hello"
    real = world["keys"]["bots/telegram"]
    for seen in world["tg"].seen[before:]:
        assert seen["path"].startswith(f"/bot{real}/")
        assert agent_key not in repr(seen)
    # The upstream's refusal names no token either way.
    wrong = httpx.get(f"{world['tg_url']}/bot{agent_key}/getMe", headers={}, timeout=30)
    assert real not in wrong.text


def test_a_path_that_climbs_out_of_the_upstream_is_refused(world):
    before = len(world["echo"].seen)
    target = urllib.parse.urlsplit(world["echo_url"])
    for path in ["/../admin", "/%2e%2e/admin", "/a/..%2Fadmin", "/a/%2E/b", "/a\\b"]:
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        conn.request("GET", target.path + path, headers={"Authorization": f"Bearer {world['agents']['user']['key']}"})
        r = conn.getresponse()
        assert r.status == 400, (path, r.status, r.read())
        conn.close()
    assert len(world["echo"].seen) == before, "nothing reached the upstream"


def test_every_call_is_audited_without_query_or_value(server, world):
    call(world, "/raw?token=querysecret")
    # The event is written just after the answer's last byte: wait for it.
    for _ in range(100):
        events = ok(api(server, "GET", f"/v1/audit/events?action=proxy.call&resource_id=echo-{world['vault']['name']}&order=newest"))
        mine = [e for e in events["events"] if e["outcome"] == "success"]
        last = mine[0] if mine else None
        if last and (last["details"] if isinstance(last["details"], dict) else json.loads(last["details"]))["path"] == "/raw":
            break
        time.sleep(0.05)
    assert mine, events
    details = last["details"] if isinstance(last["details"], dict) else json.loads(last["details"])
    assert details["method"] == "GET" and details["path"] == "/raw" and details["status"] == 200
    assert details["response_bytes"] > 0 and "latency_ms" in details
    assert details["secrets"][0]["path"] == "providers/echo"
    text = json.dumps(events)
    assert "querysecret" not in text
    for value in world["keys"].values():
        assert_clean(text, value)
    assert world["agents"]["user"]["key"] not in text
