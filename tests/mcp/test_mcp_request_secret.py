"""`request_secret` end to end: an agent asks for a value through the official `mcp` SDK, a
user enters it on the one-time page in a real headless Chromium, the value is stored in the
agent's name and never reaches the tool result, the audit trail or the server log; the link
works once, refuses forged or cross-site posts, and dies with its asker's standing."""

import asyncio
import json
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

from mcp_helpers import api, connect, data_of, fleet, ok, text_of

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def run(coro):
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def traced():
    """A server logging at trace, so that the log shows whatever a request could leak."""
    from conftest import running

    with running(["--log", "trace"]) as s:
        yield s


@pytest.fixture(scope="module")
def world(traced):
    return fleet(traced)


def ask(server, key, arguments):
    async def go():
        async with connect(server, key) as c:
            return await c.call_tool("request_secret", arguments)

    return run(go())


def tool(server, key, name, arguments):
    async def go():
        async with connect(server, key) as c:
            return await c.call_tool(name, arguments)

    return run(go())


def fetch(url, method="GET", data=None, headers=None):
    """(status, headers, body text) of one plain HTTP request, without a cookie jar."""
    req = urllib.request.Request(url, method=method, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def form_of(url, cookie=None):
    """The page's form (CSRF token, version shown) and the cookie it set."""
    status, headers, body = fetch(url, headers={"Cookie": cookie} if cookie else None)
    assert status == 200, body
    csrf = re.search(r'name="csrf" value="([^"]+)"', body).group(1)
    version = re.search(r'name="version" value="([^"]+)"', body).group(1)
    return {"csrf": csrf, "version": version}, headers["Set-Cookie"].split(";")[0]


def post(url, cookie, form, value, extra=None):
    data = urllib.parse.urlencode({**form, "value": value}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", **({"Cookie": cookie} if cookie else {}), **(extra or {})}
    return fetch(url, "POST", data, headers)


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def test_a_person_enters_a_value_in_a_browser_and_the_agent_never_sees_it(traced, world):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    reader = world["agents"]["reader"]["key"]
    asked = ask(traced, reader, {"path": "providers/anthropic", "description": "the <b>Anthropic</b> key"})
    answer = data_of(asked)
    url = answer["url"]
    assert url.startswith(traced["base"] + "/request/"), answer
    assert answer["path"] == "providers/anthropic" and answer["vault"] == world["name"]
    assert url in answer["message"] and "not in this chat" in answer["message"]

    canary_lines = ["sk-ant-request-canary-" + uuid.uuid4().hex, "second-line-" + uuid.uuid4().hex]
    driver = browser()
    try:
        driver.get(url)
        assert driver.title.startswith("Enter a secret")
        page = driver.page_source
        assert "&lt;b&gt;Anthropic&lt;/b&gt;" in page, "the description is shown as text, never as markup"
        assert world["name"] in page and "providers/anthropic" in page
        assert "may read this secret" in page, "the user is told what the asker can do with the value"
        box = driver.find_element(By.NAME, "value")
        box.send_keys(canary_lines[0])
        box.send_keys("\n" + canary_lines[1])
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        WebDriverWait(driver, 15).until(lambda d: d.title.startswith("Stored"))
        assert "version 1" in driver.page_source
        driver.get(url)
        assert "does not work" in driver.page_source, "a used link shows nothing more"
    finally:
        driver.quit()

    described = data_of(tool(traced, reader, "describe_secret", {"path": "providers/anthropic"}))
    assert described["type"] == "api_key" and described["version"] == 1
    # The reader may read, so it can prove the stored value is exactly what was typed.
    opened = data_of(tool(traced, reader, "get_secret", {"path": "providers/anthropic"}))
    assert opened["value"] == "\n".join(canary_lines), "line breaks as typed, no trailing break"

    token = url.rsplit("/", 1)[1]
    events = ok(api(traced, "GET", "/v1/audit/events?order=newest&limit=500"))
    dump = json.dumps(events)
    assert token not in dump, "the link's token is a capability: audit records name its row"
    actions = {e["action"] for e in events["events"]}
    assert {"secret_request.create", "secret_request.view", "secret_request.fulfil"} <= actions
    fulfilled = [e for e in events["events"] if e["action"] == "secret_request.fulfil" and e["outcome"] == "success"]
    assert fulfilled and fulfilled[0]["details"]["path"] == "providers/anthropic"
    writes = [e for e in events["events"] if e["action"] == "secret.write" and "providers/anthropic" in json.dumps(e)]
    assert writes and writes[0]["actor_id"] == world["agents"]["reader"]["id"], "stored in the asker's name"
    log = traced["log"].read_text(errors="replace")
    for canary in canary_lines:
        assert canary not in dump and canary not in log
        assert canary not in text_of(asked)
    assert token not in log, "not even a trace line holds the link"


def test_a_link_works_once_and_only_from_its_own_page(traced, world):
    reader = world["agents"]["reader"]["key"]
    url = data_of(ask(traced, reader, {"path": "providers/once"}))["url"]
    form, cookie = form_of(url)
    status, headers, body = fetch(url)
    assert headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert headers["X-Frame-Options"] == "DENY" and headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-store" and "HttpOnly" in headers["Set-Cookie"]
    assert "SameSite=Strict" in headers["Set-Cookie"]
    value = "once-canary-" + uuid.uuid4().hex

    # Forgeries store nothing and spend nothing.
    assert post(url, None, form, value)[0] == 403, "no cookie: not from the page"
    assert post(url, cookie, {**form, "csrf": form["csrf"][:-2] + "xx"}, value)[0] == 403, "a token for another browser"
    other_form, other_cookie = form_of(url)
    assert post(url, other_cookie, form, value)[0] == 403, "a token scraped from another load"
    assert post(url, cookie, {**form, "version": "7"}, value)[0] == 403, "the version shown is part of the token"
    assert post(url, cookie, form, value, {"Sec-Fetch-Site": "cross-site"})[0] == 403
    assert post(url, cookie, form, "")[0] == 400, "an empty value is refused, the link kept"
    assert post(url, cookie, form, "x" * (64 * 1024 + 1))[0] == 400
    garbled = urllib.parse.urlencode(form).encode() + b"&value=%FF%FE"
    status, _, body = fetch(url, "POST", garbled, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    assert status == 400 and "UTF-8" in body, "bytes a browser never sends are refused, not altered"
    missing = tool(traced, reader, "describe_secret", {"path": "providers/once"})
    assert missing.is_error and text_of(missing).startswith("not found:")

    status, _, body = post(url, cookie, form, value + "\r\n")
    assert status == 200 and "Stored as version 1" in body, body
    opened = data_of(tool(traced, reader, "get_secret", {"path": "providers/once"}))
    assert opened["value"] == value, "the line break a paste drags along is not stored"
    status, _, body = post(url, cookie, form, value + "-again")
    assert status == 404 and "already used" in body, "works once"
    assert fetch(url)[0] == 404
    assert fetch(traced["base"] + "/request/" + "A" * 43)[0] == 404, "a guessed link is the same 404"
    assert value not in body


def test_one_browser_fills_two_links_and_a_page_shown_before_a_change_is_refused(traced, world):
    reader = world["agents"]["reader"]["key"]
    first = data_of(ask(traced, reader, {"path": "two/first"}))["url"]
    second = data_of(ask(traced, reader, {"path": "two/second"}))["url"]
    first_form, cookie = form_of(first)
    second_form, again = form_of(second, cookie)
    assert again == cookie, "the browser's nonce is kept across links"
    assert post(first, cookie, first_form, "first-" + uuid.uuid4().hex)[0] == 200
    # The secret changes after the page was shown: what the page said may no longer hold.
    ok(api(traced, "PUT", f"/v1/vaults/{world['vault']}/secrets/two/second", {"value": "changed-meanwhile"}))
    status, _, body = post(second, cookie, second_form, "second-" + uuid.uuid4().hex)
    assert status == 409 and "reload the page" in body, body
    fresh_form, _ = form_of(second, cookie)
    assert fresh_form["version"] == "1"
    assert post(second, cookie, fresh_form, "second-" + uuid.uuid4().hex)[0] == 200, "a reload shows it and works"


def test_a_page_loaded_in_a_loop_is_refused(traced, world):
    url = data_of(ask(traced, world["agents"]["reader"]["key"], {"path": "loop/x"}))["url"]
    statuses = [fetch(url)[0] for _ in range(25)]
    assert statuses[0] == 200 and statuses[-1] == 429, statuses


def test_a_value_for_an_existing_secret_keeps_its_type_and_allowed_hosts(traced, world):
    reader = world["agents"]["reader"]["key"]
    path = "bots/discord/token"
    url = data_of(ask(traced, reader, {"path": path, "type": "note"}))["url"]
    ok(api(traced, "PUT", f"/v1/vaults/{world['vault']}/secrets/{path}", {
        "value": world["canaries"][path], "type": "password", "metadata": {"allowed_hosts": ["discord.com"]},
    }))
    form, cookie = form_of(url)
    assert "stored there already" in fetch(url)[2]
    status, _, body = post(url, cookie, form, "rotated-by-hand-" + uuid.uuid4().hex)
    assert status == 200, body
    described = data_of(tool(traced, reader, "describe_secret", {"path": path}))
    assert described["type"] == "password", "an existing secret keeps its type"
    assert described["metadata"] == {"allowed_hosts": ["discord.com"]}, "and its metadata"


def test_only_who_may_write_asks_and_a_link_dies_with_its_askers_standing(traced, world):
    use_only = ask(traced, world["agents"]["user"]["key"], {"path": "providers/x"})
    assert use_only.is_error and text_of(use_only).startswith("denied:"), text_of(use_only)
    stranger = ask(traced, world["agents"]["stranger"]["key"], {"path": "providers/x"})
    assert stranger.is_error
    bad = ask(traced, world["agents"]["reader"]["key"], {"path": "../etc", "description": "x"})
    assert bad.is_error and text_of(bad).startswith("invalid request:")
    noisy = ask(traced, world["agents"]["reader"]["key"], {"path": "a/b", "description": "bell\u0007"})
    assert noisy.is_error and text_of(noisy).startswith("invalid request:")

    asker = ok(api(traced, "POST", "/v1/agents", {"name": world["name"] + "-asker", "vault_ids": [world["vault"]]}))
    ok(api(traced, "POST", f"/v1/vaults/{world['vault']}/policies", {
        "principal_type": "agent", "principal_id": asker["agent"]["id"],
        "secret_path_pattern": "requests/**", "permissions": ["write"],
    }))
    outside = ask(traced, asker["api_key"], {"path": "providers/y"})
    assert outside.is_error and text_of(outside).startswith("denied:"), "write only where policies allow"
    ok(api(traced, "PUT", f"/v1/vaults/{world['vault']}/secrets/requests/known", {"value": "v"}))
    page = fetch(data_of(ask(traced, asker["api_key"], {"path": "requests/known"}))["url"])[2]
    assert "stored there already" not in page, "existence is told only to an asker who may read or list"
    assert "can neither read the value nor have it sent anywhere" in page

    url = data_of(ask(traced, asker["api_key"], {"path": "requests/z"}))["url"]
    form, cookie = form_of(url)
    ok(api(traced, "PATCH", f"/v1/agents/{asker['agent']['id']}", {"is_active": False}))
    status, _, body = post(url, cookie, form, "late-canary-" + uuid.uuid4().hex)
    assert status == 410 and "no longer works" in body, body
    assert fetch(url)[0] == 410

    # A re-keyed agent's links die with its old key: a thief's links store nothing.
    rekeyed = ok(api(traced, "POST", "/v1/agents", {"name": world["name"] + "-rekeyed", "vault_ids": [world["vault"]]}))
    ok(api(traced, "POST", f"/v1/vaults/{world['vault']}/policies", {
        "principal_type": "agent", "principal_id": rekeyed["agent"]["id"],
        "secret_path_pattern": "requests/**", "permissions": ["write", "use"],
    }))
    ok(api(traced, "PUT", f"/v1/vaults/{world['vault']}/secrets/requests/hosted", {
        "value": "v", "metadata": {"allowed_hosts": ["api.example.com"]},
    }))
    page = fetch(data_of(ask(traced, rekeyed["api_key"], {"path": "requests/hosted"}))["url"])[2]
    assert "cannot read the value" in page and "<code>api.example.com</code>" in page, "where a use-only value goes"
    url = data_of(ask(traced, rekeyed["api_key"], {"path": "requests/w"}))["url"]
    form, cookie = form_of(url)
    ok(api(traced, "POST", f"/v1/agents/{rekeyed['agent']['id']}/rotate-key"))
    assert post(url, cookie, form, "thief-" + uuid.uuid4().hex)[0] == 410


def test_an_agent_holds_at_most_twenty_open_links(traced, world):
    asker = ok(api(traced, "POST", "/v1/agents", {"name": world["name"] + "-many", "vault_ids": [world["vault"]]}))
    ok(api(traced, "POST", f"/v1/vaults/{world['vault']}/policies", {
        "principal_type": "agent", "principal_id": asker["agent"]["id"],
        "secret_path_pattern": "**", "permissions": ["write"],
    }))

    async def go():
        async with connect(traced, asker["api_key"]) as c:
            return [await c.call_tool("request_secret", {"path": f"many/{i}"}) for i in range(21)]

    results = run(go())
    assert all(not r.is_error for r in results[:20]), [text_of(r) for r in results if r.is_error]
    assert results[20].is_error and text_of(results[20]).startswith("rate limited:"), text_of(results[20])
