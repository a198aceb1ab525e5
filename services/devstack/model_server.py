"""Serve one GGUF model over the OpenAI API with llama.cpp (xllamacpp), on loopback.

The embedded stand-in for SGLang: same wire API, same metrics endpoint, CPU only.
Run as `python -m services.devstack.model_server --model PATH --port N --alias NAME`.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading

import xllamacpp

logger = logging.getLogger(__name__)


def serve(
    model: str, host: str, port: int, alias: str, threads: int, context: int, parallel: int
) -> None:
    params = xllamacpp.CommonParams()
    params.model.path = model
    params.hostnames = [host]
    params.port = port
    params.model_alias = {alias}
    params.n_ctx = context
    params.n_parallel = parallel
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.endpoint_metrics = True
    params.use_jinja = True
    params.warmup = False
    server = xllamacpp.Server(params)
    logger.info("serving %s as %s on %s", model, alias, server.listening_address)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--alias", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--context", type=int, default=16384)
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    serve(args.model, args.host, args.port, args.alias, args.threads, args.context, args.parallel)


if __name__ == "__main__":
    main()
