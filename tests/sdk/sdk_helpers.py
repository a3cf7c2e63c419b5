"""Helpers shared by the SDK tests: an admin client and a check that unwraps the SDK's
response envelope with the status and error in the assertion message."""

import oneclaw


def admin(server):
    return oneclaw.create_client(base_url=server["base"], api_key=server["admin_key"])


def ok(resp, status=None):
    assert resp.error is None, (resp.meta.status, resp.error)
    if status is not None:
        assert resp.meta.status == status
    return resp.data
