"""REST clients of the gateway for a benchmark's tenants: one key and one client per tenant,
so tasks spread over tenants as a real load does (no tenant alone at its caps)."""

from __future__ import annotations

import httpx

from tests.stack import RunningStack

CLIENT_TIMEOUT = 120.0  # per request: a loaded gateway answers late, which is measured


async def tenant_clients(
    running: RunningStack, purpose: str, tenants: int
) -> list[httpx.AsyncClient]:
    """A submitter key of tenant `<purpose>-<n>` for each n, and a client using it; the caller
    closes them."""
    keys = [
        await running.create_key("submitter", purpose, tenant=f"{purpose}-{t}")
        for t in range(tenants)
    ]
    return [
        httpx.AsyncClient(
            base_url=running.info.gateway_url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=CLIENT_TIMEOUT,
            # below uvicorn's 5 s keep-alive: a connection it is closing is not reused
            limits=httpx.Limits(keepalive_expiry=2.0),
        )
        for key in keys
    ]
