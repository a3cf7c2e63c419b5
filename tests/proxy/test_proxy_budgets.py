"""Per-agent budgets on a route trip at the configured count with 429 and Retry-After (the
SDK's own retry honours it); concurrency is capped while a stream is open; the day's count
survives a restart; usage is visible per agent, each agent seeing only its own."""

import pathlib
import tempfile
import threading

import httpx
import openai
import pytest

from conftest import start_server, storage
from proxy_helpers import Echo, OpenAI, api, fleet, ok, route


@pytest.fixture(scope="module")
def world(server):
    f = fleet(server)
    up = OpenAI(f["keys"]["providers/openai"])
    echo = Echo(f["keys"]["providers/echo"])
    vault = f["vault"]["name"]
    route(server, f"rpm-{vault}", vault, preset="openai", secret="providers/openai", upstream=up.url("/v1"),
          budget={"requests_per_minute": 3})
    route(server, f"one-{vault}", vault, upstream=echo.url(), budget={"concurrent": 1},
          inject=[{"in": "header", "name": "Authorization", "value": "Bearer {{secret:providers/echo}}"}])
    yield {**f, "up": up, "echo": echo, "base": server["base"], "vault_name": vault}
    up.close()
    echo.close()


def test_calls_per_minute_trip_at_the_count_with_retry_after(server, world):
    client = openai.OpenAI(base_url=f"{world['base']}/proxy/rpm-{world['vault_name']}",
                           api_key=world["agents"]["user"]["key"], max_retries=0)
    before = len(world["up"].seen)
    for _ in range(3):
        client.models.list()
    with pytest.raises(openai.RateLimitError) as spent:
        client.models.list()
    retry = int(spent.value.response.headers["retry-after"])
    assert 1 <= retry <= 60
    assert "3 calls per minute" in str(spent.value)
    assert len(world["up"].seen) - before == 3, "the refused call never reached the provider"
    # Another agent has a budget of its own.
    other = ok(api(server, "POST", "/v1/agents", {"name": f"{world['vault_name']}-other", "vault_ids": [world["vault"]["id"]]}))
    ok(api(server, "POST", f"/v1/vaults/{world['vault']['id']}/policies", {
        "principal_type": "agent", "principal_id": other["agent"]["id"], "secret_path_pattern": "**", "permissions": ["use"]}))
    openai.OpenAI(base_url=client.base_url, api_key=other["api_key"], max_retries=0).models.list()

    mine = ok(api(server, "GET", f"/v1/proxy/usage?route=rpm-{world['vault_name']}", key=world["agents"]["user"]["key"]))
    assert [(u["requests"], u["principal_id"]) for u in mine["usage"]] == [(3, world["agents"]["user"]["id"])]
    everyone = ok(api(server, "GET", f"/v1/proxy/usage?route=rpm-{world['vault_name']}"))
    assert sorted(u["requests"] for u in everyone["usage"]) == [1, 3]
    status, _ = api(server, "GET", f"/v1/proxy/usage?principal_id={other['agent']['id']}", key=world["agents"]["user"]["key"])
    assert status == 403, "an agent reads only its own usage"


def test_answer_bytes_per_day_cut_the_answer_that_spends_them(server, world):
    vault = world["vault_name"]
    route(server, f"bytes-{vault}", vault, upstream=world["echo"].url(), budget={"response_bytes_per_day": 1000},
          inject=[{"in": "header", "name": "Authorization", "value": "Bearer {{secret:providers/echo}}"}])
    url = f"{world['base']}/proxy/bytes-{vault}/big"
    headers = {"Authorization": f"Bearer {world['agents']['user']['key']}"}
    got = b""
    with pytest.raises(httpx.HTTPError):
        with httpx.stream("GET", url, headers=headers, timeout=30) as r:
            assert r.status_code == 200
            for chunk in r.iter_raw():
                got += chunk
    assert 0 < len(got) < 200_000, "the answer was cut once the day's bytes were spent"
    again = httpx.get(url, headers=headers, timeout=30)
    assert again.status_code == 429 and "answer bytes per day" in again.json()["error"]["message"]


def test_concurrent_calls_are_capped_while_a_stream_is_open(world):
    url = f"{world['base']}/proxy/one-{world['vault_name']}/slow"
    headers = {"Authorization": f"Bearer {world['agents']['user']['key']}"}
    opened = threading.Event()
    got = {}

    def stream():
        with httpx.stream("GET", url, headers=headers, timeout=30) as r:
            chunks = r.iter_raw()
            first = next(chunks)
            opened.set()
            got["body"] = first + b"".join(chunks)

    t = threading.Thread(target=stream)
    t.start()
    assert opened.wait(10)
    second = httpx.get(url, headers=headers, timeout=30)
    assert second.status_code == 429 and second.headers["retry-after"] == "1"
    t.join(30)
    assert got["body"].endswith(b"three\n\n")
    third = httpx.get(url.replace("/slow", "/ok"), headers=headers, timeout=30)
    assert third.status_code == 200, "the slot came back when the stream ended"


def test_the_days_count_survives_a_restart():
    with tempfile.TemporaryDirectory() as tmp, storage() as (args, env):
        data = pathlib.Path(tmp) / "data"
        with start_server(data, args, env) as s:
            f = fleet(s)
            up = OpenAI(f["keys"]["providers/openai"])
            route(s, "daily", f["vault"]["name"], preset="openai", secret="providers/openai", upstream=up.url("/v1"),
                  budget={"requests_per_day": 2})
            client = openai.OpenAI(base_url=f"{s['base']}/proxy/daily", api_key=f["agents"]["user"]["key"], max_retries=0)
            client.models.list()
            client.models.list()
        with start_server(data, args, env) as s:
            client = openai.OpenAI(base_url=f"{s['base']}/proxy/daily", api_key=f["agents"]["user"]["key"], max_retries=0)
            with pytest.raises(openai.RateLimitError) as spent:
                client.models.list()
            assert "2 calls per day" in str(spent.value)
            usage = ok(api(s, "GET", "/v1/proxy/usage?route=daily", key=f["agents"]["user"]["key"]))["usage"]
            assert [u["requests"] for u in usage] == [2]
        up.close()
