"""The Temporal connection for a production cluster: TLS, mTLS and API-key settings.

The session's dev server is put behind a TLS terminator (tests/fakes/tls_terminator.py) that,
like a production frontend, asks for a client certificate signed by its CA."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from temporalio.client import Client

from services.settings import Settings
from services.temporal_client import TemporalTlsMisconfigured, connect_temporal, tls_config
from tests.fakes.tls_terminator import Pki, make_pki, tls_terminator


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path)


@pytest.fixture
async def mtls_address(pki: Pki, temporal_client: Client) -> AsyncIterator[str]:
    upstream = temporal_client.service_client.config.target_host
    async with tls_terminator(pki, upstream, require_client_cert=True) as address:
        yield address


def settings(address: str, namespace: str, **tls: Any) -> Settings:
    return Settings(_env_file=None, temporal_address=address, temporal_namespace=namespace, **tls)


async def test_mtls_with_the_client_certificate_reaches_the_cluster(
    pki: Pki, mtls_address: str, temporal_client: Client
) -> None:
    client = await connect_temporal(
        settings(
            mtls_address,
            temporal_client.namespace,
            temporal_tls_ca_file=pki.ca,
            temporal_tls_cert_file=pki.client_cert,
            temporal_tls_key_file=pki.client_key,
            temporal_tls_server_name="temporal.test",
        )
    )
    count = await client.count_workflows()
    assert count.count >= 0


async def test_the_cluster_refuses_a_client_without_its_certificate(
    pki: Pki, mtls_address: str, temporal_client: Client
) -> None:
    only_ca = settings(
        mtls_address,
        temporal_client.namespace,
        temporal_tls_ca_file=pki.ca,
        temporal_tls_server_name="temporal.test",
    )
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(connect_temporal(only_ca), timeout=30)


async def test_a_server_not_signed_by_a_trusted_ca_is_refused(
    pki: Pki, mtls_address: str, temporal_client: Client
) -> None:
    """Without the CA file the system roots are used, and they do not know this server."""
    system_roots = settings(
        mtls_address,
        temporal_client.namespace,
        temporal_tls_cert_file=pki.client_cert,
        temporal_tls_key_file=pki.client_key,
        temporal_tls_server_name="temporal.test",
    )
    with pytest.raises(RuntimeError, match="UnknownIssuer"):
        await asyncio.wait_for(connect_temporal(system_roots), timeout=30)


def test_plain_text_only_for_a_cluster_with_no_tls_settings() -> None:
    assert tls_config(settings("127.0.0.1:7233", "default")) is None
    assert tls_config(settings("x:7233", "default", temporal_tls=True)) is not None


def test_an_api_key_never_travels_in_clear_text() -> None:
    cloud = settings("ns.tmprl.cloud:7233", "ns", temporal_api_key=SecretStr("k"))
    assert tls_config(cloud) is not None
    assert cloud.as_env()["AGENTRY_TEMPORAL_API_KEY"] == "k"  # workers started by `dev` get it


def test_a_certificate_without_its_key_is_refused(pki: Pki) -> None:
    with pytest.raises(TemporalTlsMisconfigured, match="both"):
        tls_config(settings("x:7233", "default", temporal_tls_cert_file=pki.client_cert))


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(TemporalTlsMisconfigured, match="AGENTRY_TEMPORAL_TLS_CA_FILE.*nope.pem"):
        tls_config(settings("x:7233", "default", temporal_tls_ca_file=missing))
