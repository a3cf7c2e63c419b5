"""The stock `openai` and `anthropic` SDKs, with their base URL at the proxy and an agent's own
key as their API key, against fake providers that accept only the real key: plain and
streamed (SSE) answers come through, the agent never holds the provider key, and an agent
without `use` (or with a bad key) gets a refusal while the provider receives nothing."""

import anthropic
import httpx
import openai
import pytest

from proxy_helpers import Anthropic, OpenAI, api, fleet, ok, route


@pytest.fixture(scope="module")
def world(server):
    f = fleet(server)
    up_openai = OpenAI(f["keys"]["providers/openai"])
    up_anthropic = Anthropic(f["keys"]["providers/anthropic"])
    vault = f["vault"]["name"]
    route(server, f"oai-{vault}", vault, preset="openai", secret="providers/openai", upstream=up_openai.url("/v1"))
    route(server, f"ant-{vault}", vault, preset="anthropic", secret="providers/anthropic", upstream=up_anthropic.url())
    yield {**f, "openai": up_openai, "anthropic": up_anthropic,
           "oai": f"{server['base']}/proxy/oai-{vault}", "ant": f"{server['base']}/proxy/ant-{vault}"}
    up_openai.close()
    up_anthropic.close()


def test_the_openai_sdk_gets_a_completion_with_the_agents_key(world):
    client = openai.OpenAI(base_url=world["oai"], api_key=world["agents"]["user"]["key"], max_retries=0)
    before = len(world["openai"].seen)
    answer = client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "Hello from the fake upstream"
    seen = world["openai"].seen[before:]
    assert len(seen) == 1
    assert seen[0]["headers"]["authorization"] == f"Bearer {world['keys']['providers/openai']}"
    assert world["agents"]["user"]["key"] not in repr(seen[0]), "the agent's own key never goes upstream"
    assert seen[0]["headers"].get("accept-encoding") == "identity"
    assert [m.id for m in client.models.list()] == ["gpt-test"]
    # The route's root, with and without its slash, is forwarded as the upstream's base.
    for path in ["", "/"]:
        r = httpx.get(world["oai"] + path, headers={"Authorization": f"Bearer {world['agents']['user']['key']}"}, timeout=30)
        assert r.status_code == 404 and r.json()["error"]["message"] == "no such path", r.text
        assert world["openai"].seen[-1]["path"] == "/v1/"


def test_the_openai_sdk_streams_server_sent_events(world):
    client = openai.OpenAI(base_url=world["oai"], api_key=world["agents"]["user"]["key"], max_retries=0)
    stream = client.chat.completions.create(model="gpt-test", stream=True,
                                            messages=[{"role": "user", "content": "hi"}])
    words = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    assert words == ["Hello", " from", " the", " fake", " upstream"]


def test_the_answer_drops_the_upstreams_cookies_and_keeps_its_headers(world):
    client = openai.OpenAI(base_url=world["oai"], api_key=world["agents"]["user"]["key"], max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model="gpt-test", messages=[{"role": "user", "content": "x"}])
    assert raw.headers.get("x-request-id") == "req-1"
    assert "set-cookie" not in raw.headers


def test_the_anthropic_sdk_gets_a_message_plain_and_streamed(world):
    client = anthropic.Anthropic(base_url=world["ant"], api_key=world["agents"]["user"]["key"], max_retries=0)
    before = len(world["anthropic"].seen)
    message = client.messages.create(model="claude-test", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].text == "Hi from the fake Claude"
    with client.messages.stream(model="claude-test", max_tokens=16, messages=[{"role": "user", "content": "hi"}]) as s:
        text = "".join(s.text_stream)
    assert text.split() == "Hi from the fake Claude".split()
    for seen in world["anthropic"].seen[before:]:
        assert seen["headers"]["x-api-key"] == world["keys"]["providers/anthropic"]
        assert world["agents"]["user"]["key"] not in repr(seen)


def test_an_agent_without_use_is_refused_and_the_provider_receives_nothing(world):
    before = (len(world["openai"].seen), len(world["anthropic"].seen))
    lister = openai.OpenAI(base_url=world["oai"], api_key=world["agents"]["lister"]["key"], max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as refused:
        lister.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
    assert "use" in str(refused.value)
    stranger = anthropic.Anthropic(base_url=world["ant"], api_key="ocv_not_a_real_key_at_all_0000", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        stranger.messages.create(model="claude-test", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    nobody = httpx.get(world["oai"] + "/models", timeout=30)
    assert nobody.status_code == 401 and "agent's key" in nobody.json()["error"]["message"]
    assert (len(world["openai"].seen), len(world["anthropic"].seen)) == before


def test_a_deactivated_agent_is_refused_on_its_next_call(server, world):
    made = ok(api(server, "POST", "/v1/agents", {"name": f"{world['vault']['name']}-brief", "vault_ids": [world["vault"]["id"]]}))
    ok(api(server, "POST", f"/v1/vaults/{world['vault']['id']}/policies", {
        "principal_type": "agent", "principal_id": made["agent"]["id"], "secret_path_pattern": "providers/**",
        "permissions": ["use"]}))
    client = openai.OpenAI(base_url=world["oai"], api_key=made["api_key"], max_retries=0)
    assert client.models.list().data
    ok(api(server, "PATCH", f"/v1/agents/{made['agent']['id']}", {"is_active": False}))
    before = len(world["openai"].seen)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()
    assert len(world["openai"].seen) == before


def test_a_rotated_key_is_injected_on_the_next_call(server, world):
    client = openai.OpenAI(base_url=world["oai"], api_key=world["agents"]["user"]["key"], max_retries=0)
    assert client.models.list().data
    new = f"sk-openai-rotated-{world['vault']['name']}"
    ok(api(server, "PUT", f"/v1/vaults/{world['vault']['id']}/secrets/providers/openai", {"value": new, "type": "api_key"}))
    old, world["openai"].key = world["openai"].key, new
    try:
        assert client.models.list().data, "the new version, not the one prepared before"
        assert world["openai"].seen[-1]["headers"]["authorization"] == f"Bearer {new}"
    finally:
        world["openai"].key = old
        ok(api(server, "PUT", f"/v1/vaults/{world['vault']['id']}/secrets/providers/openai", {"value": old, "type": "api_key"}))
