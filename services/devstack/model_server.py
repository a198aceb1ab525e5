"""Serve one GGUF model over the OpenAI API with llama.cpp (xllamacpp), on loopback.

The embedded stand-in for SGLang: same wire API, same metrics endpoint, CPU only.
Run as `python -m services.devstack.model_server --model PATH --port N --alias NAME
--context TOKENS --parallel SLOTS`. `--context` is the whole KV cache (llama.cpp's n_ctx); it is
split evenly into `--parallel` slots (no unified KV cache), so one request may hold
context / parallel tokens, prompt + output, and a full slot never starves the others.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Sequence

import xllamacpp

logger = logging.getLogger(__name__)


def server_params(
    model: str, host: str, port: int, alias: str, threads: int, context: int, parallel: int
) -> xllamacpp.CommonParams:
    if parallel < 1 or context < parallel or context % parallel:
        raise ValueError(
            f"--context {context} is not a whole number of --parallel {parallel} slots"
        )
    params = xllamacpp.CommonParams()
    params.model.path = model
    params.hostnames = [host]
    params.port = port
    params.model_alias = {alias}
    params.n_ctx = context
    params.n_parallel = parallel
    params.kv_unified = False  # each slot owns context / parallel tokens
    params.cache_prompt = True  # reuse a slot's KV for the prompt prefix it already holds
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.endpoint_metrics = True
    params.use_jinja = True
    params.warmup = False
    return params


def serve(
    model: str, host: str, port: int, alias: str, threads: int, context: int, parallel: int
) -> None:
    params = server_params(model, host, port, alias, threads, context, parallel)
    server = xllamacpp.Server(params)
    logger.info(
        "serving %s as %s on %s: %d slots of %d tokens",
        model,
        alias,
        server.listening_address,
        parallel,
        context // parallel,
    )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--alias", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--context", type=int, required=True, help="KV cache tokens in all, split over the slots"
    )
    parser.add_argument("--parallel", type=int, required=True, help="slots: requests at once")
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    serve(args.model, args.host, args.port, args.alias, args.threads, args.context, args.parallel)


if __name__ == "__main__":
    main()
