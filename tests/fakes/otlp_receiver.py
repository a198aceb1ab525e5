"""A stand-in for Langfuse's OTLP endpoint: takes what the Langfuse SDK sends to
`/api/public/otel/v1/traces` (OTLP/HTTP protobuf, gzip or not), decodes every span, and shows
them, with the Authorization each batch came with, at `GET /_spans`.

Run as `python -m tests.fakes.otlp_receiver --port N` (loopback).
"""

from __future__ import annotations

import argparse
import gzip
import json
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

TRACES_PATH = "/api/public/otel/v1/traces"


def decode_spans(body: bytes, authorization: str | None) -> list[dict[str, Any]]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for resource in request.resource_spans:
        for scope in resource.scope_spans:
            for span in scope.spans:
                spans.append(
                    {
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex() or None,
                        "name": span.name,
                        "start_ns": span.start_time_unix_nano,
                        "end_ns": span.end_time_unix_nano,
                        "scope": scope.scope.name,
                        "attributes": {a.key: _value(a.value) for a in span.attributes},
                        "authorization": authorization,
                    }
                )
    return spans


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {item.key: _value(item.value) for item in value.kvlist_value.values}
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return None if kind is None else getattr(value, kind)


def create_app() -> FastAPI:
    app = FastAPI()
    received: list[dict[str, Any]] = []
    raw: list[bytes] = []

    @app.post(TRACES_PATH)
    async def traces(request: Request) -> Response:
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        raw.append(body)
        received.extend(decode_spans(body, request.headers.get("authorization")))
        return Response(content=b"", media_type="application/x-protobuf")

    @app.get("/_spans")
    async def spans() -> list[dict[str, Any]]:
        return received

    @app.get("/_raw")
    async def raw_bodies() -> Response:
        """Every body as received (decompressed), for a search for what must not be there."""
        return Response(content=json.dumps([body.hex() for body in raw]))

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
