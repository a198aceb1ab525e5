"""One way to connect to Temporal, shared by the gateway, the workers and the CLI."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from services.settings import Settings


class TemporalTlsMisconfigured(ValueError):
    """The AGENTRY_TEMPORAL_TLS_* settings do not describe a usable connection."""


def tls_config(settings: Settings) -> TLSConfig | None:
    """TLS for the Temporal connection, or None for the plain-text dev server.

    Any TLS_* file, a server name or an API key turns TLS on: an API key or a client
    certificate must never travel in clear text."""
    files = (
        settings.temporal_tls_ca_file,
        settings.temporal_tls_cert_file,
        settings.temporal_tls_key_file,
    )
    wanted = (
        settings.temporal_tls
        or any(files)
        or settings.temporal_tls_server_name is not None
        or settings.temporal_api_key is not None
    )
    if not wanted:
        return None
    cert, key = settings.temporal_tls_cert_file, settings.temporal_tls_key_file
    if (cert is None) != (key is None):
        raise TemporalTlsMisconfigured(
            "mTLS needs both AGENTRY_TEMPORAL_TLS_CERT_FILE and AGENTRY_TEMPORAL_TLS_KEY_FILE"
        )
    return TLSConfig(
        server_root_ca_cert=_read(settings.temporal_tls_ca_file, "CA"),
        client_cert=_read(cert, "CERT"),
        client_private_key=_read(key, "KEY"),
        domain=settings.temporal_tls_server_name,
    )


def _read(path: Path | None, which: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as error:
        raise TemporalTlsMisconfigured(
            f"AGENTRY_TEMPORAL_TLS_{which}_FILE {str(path)!r} cannot be read: {error.strerror}"
        ) from error


async def connect_temporal(settings: Settings, runtime: Runtime | None = None) -> Client:
    """A client; `runtime` carries the SDK's telemetry (services/temporal_metrics.py), else
    the SDK's default runtime is used."""
    tls = tls_config(settings)
    api_key = settings.temporal_api_key
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        tls=tls if tls is not None else False,
        api_key=api_key.get_secret_value() if api_key is not None else None,
        runtime=runtime,
    )
