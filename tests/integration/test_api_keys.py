"""API keys on the real stack: a tenant admin lists, creates and revokes its tenant's keys over
REST, and `agentry keys` does the same from the shell; a revoked or expired key is refused from
its next request, the last use is recorded, and no tenant admin can mint a platform key. Any
key reads what it is and may do (GET /v1/keys/self)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.roles import Role
from tests.conftest import MakeApi
from tests.integration.test_pools import _agentry
from tests.stack import RunningStack


async def test_an_admin_creates_lists_and_revokes_keys_and_revocation_is_immediate(
    stack: RunningStack,
) -> None:
    tenant = f"keys-{uuid.uuid4().hex[:8]}"
    admin = await stack.create_key("admin", "tenant-admin", tenant=tenant)
    async with stack.api(admin) as api:
        made = await api.post("/v1/keys", json={"name": "ci", "role": "submitter"})
        assert made.status_code == 201, made.text
        created = made.json()
        async with stack.api(created["key"]) as ci:
            assert (await ci.get("/v1/tasks")).status_code == 200
            assert (await ci.get("/v1/keys")).status_code == 403  # keys are for admins

            listed = (await api.get("/v1/keys")).json()["items"]
            revoked = await api.delete(f"/v1/keys/{created['id']}")
            after = await ci.get("/v1/tasks")

    assert created["key"].startswith(created["prefix"]) and "key" not in listed[0]
    assert {item["name"] for item in listed} == {"ci", "tenant-admin"}
    ci_row = next(item for item in listed if item["name"] == "ci")
    assert ci_row["last_used_at"] is not None  # its request above
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert after.status_code == 401


async def test_keys_of_another_tenant_cannot_be_seen_or_revoked(stack: RunningStack) -> None:
    mine = await stack.create_key("admin", "mine", tenant=f"a-{uuid.uuid4().hex[:8]}")
    theirs = await stack.create_key("admin", "theirs", tenant=f"b-{uuid.uuid4().hex[:8]}")
    async with stack.api(theirs) as api:
        their_id = (await api.get("/v1/keys")).json()["items"][0]["id"]
    async with stack.api(mine) as api:
        assert their_id not in {item["id"] for item in (await api.get("/v1/keys")).json()["items"]}
        refused = await api.delete(f"/v1/keys/{their_id}")
        platform = await api.post("/v1/keys", json={"name": "p", "role": "platform-operator"})
        past = await api.post(
            "/v1/keys",
            json={"name": "old", "role": "submitter", "expires_at": "2020-01-01T00:00:00Z"},
        )
    assert refused.status_code == 404
    assert platform.status_code == 403 and "agentry keys create" in platform.json()["detail"]
    assert past.status_code == 422


async def test_an_expired_key_is_refused(stack: RunningStack) -> None:
    admin = await stack.create_key("admin", "expiry-admin", tenant=f"e-{uuid.uuid4().hex[:8]}")
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    async with stack.api(admin) as api:
        made = (await api.post("/v1/keys", json={"name": "brief", "role": "submitter",
                                                  "expires_at": soon})).json()  # fmt: skip
    async with stack.api(made["key"]) as brief:
        assert (await brief.get("/v1/tasks")).status_code == 200
        await asyncio.sleep(2.5)
        expired = await brief.get("/v1/tasks")
    assert expired.status_code == 401


async def test_the_cli_creates_lists_and_revokes_keys(stack: RunningStack) -> None:
    tenant = f"cli-{uuid.uuid4().hex[:8]}"
    key = (
        await _agentry("keys", "create", "--tenant", tenant, "--role", "approver", "--name",
                       "reviewer", "--expires-in", "30d", stack=stack)
    ).strip()  # fmt: skip
    table = await _agentry("keys", "list", "--tenant", tenant, stack=stack)
    [row] = [line for line in table.splitlines() if "reviewer" in line]
    assert key[:12] in row and "approver" in row and tenant in row
    async with stack.api(key) as api:
        assert (await api.get("/v1/approvals")).status_code == 200
        out = await _agentry("keys", "revoke", key[:12], stack=stack)
        assert out.startswith(f"revoked {key[:12]}")
        assert (await api.get("/v1/approvals")).status_code == 401
    missing = await _agentry("keys", "list", "--tenant", "no-such-tenant", stack=stack,
                             expect_code=1)  # fmt: skip
    assert "no tenant" in missing


@pytest.mark.parametrize(
    ("role", "can"),
    [
        (Role.submitter, {"submit"}),
        (Role.approver, {"decide"}),
        (Role.operator, {"submit"}),
        (Role.admin, {"submit", "decide", "manage_keys"}),
        (Role.platform_operator, {"watch_pools"}),
    ],
)
async def test_a_key_reads_its_own_role_and_what_it_may_do(
    make_api: MakeApi, role: Role, can: set[str]
) -> None:
    api = await make_api(role=role)
    me = await api.get("/v1/keys/self")
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["role"] == role.value and body["name"] == "dev"
    assert {ability for ability, allowed in body["can"].items() if allowed} == can
    # what it says is what the API does
    pools = await api.get("/v1/pools")
    assert (pools.status_code == 200) == ("watch_pools" in can)
