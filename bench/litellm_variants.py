"""LiteLLM proxy variants side by side, in one run: the test stack's LiteLLM config as the base
and each variant (config settings, command-line options, environment) as a proxy of its own,
all in front of one scripted model server, called in turn (base, variant 1, …, base, …) so
every proxy sees the same machine. Reports per proxy the p50/p90 of one completion, streamed as
the worker asks for it and not streamed, and its CPU per call (psutil, the proxy's process and
its children).

    .venv/bin/python -m bench.litellm_variants --calls 200 \\
        --variant nospend 'general_settings.disable_spend_logs=true' \\
        --variant granian 'arg=--run_granian'

A variant is `;`-separated items: `SECTION.KEY=VALUE` (a config entry, the value read as
YAML), `arg=OPTIONS` (added to the proxy's command line), `env.NAME=VALUE`, `provider=NAME`
(every model group's `openai/…` model routed as `NAME/…`, e.g. hosted_vllm).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml

from services.devstack.litellm import BUNDLED_CATALOGUES
from services.devstack.processes import VENV_BIN, Child, ChildSpec, wait_until
from tests.fakes.script_client import ScriptedModel, reply_text, unique_key
from tests.stack import ROOT, free_port

CONFIG = ROOT / "tests" / "litellm-test-config.yaml"
KEY = "sk-bench-variants"
SERVER_KEY = "sk-bench-server"
IDLE_SECONDS = 5.0


def _variant(spec: str) -> tuple[dict[str, dict[str, Any]], list[str], dict[str, str]]:
    config: dict[str, dict[str, Any]] = {}
    args: list[str] = []
    env: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in spec.split(";"))):
        key, _, value = item.partition("=")
        if key == "arg":
            args += shlex.split(value)
        elif key == "provider":  # every group's `openai/` model through this provider instead
            config.setdefault("provider", {})["name"] = value
        elif key.startswith("env."):
            env[key[4:]] = value
        else:
            section, _, name = key.partition(".")
            config.setdefault(section, {})[name] = yaml.safe_load(value)
    return config, args, env


async def _start_proxy(base: Path, name: str, spec: str, scripted: str) -> tuple[Child, str]:
    overrides, args, env = _variant(spec)
    config = yaml.safe_load(CONFIG.read_text())
    provider = overrides.pop("provider", {}).get("name")
    for entry in config["model_list"] if provider else []:
        params = entry["litellm_params"]
        params["model"] = params["model"].replace("openai/", f"{provider}/", 1)
    for section, values in overrides.items():
        config.setdefault(section, {}).update(values)
    path = base / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    argv = [str(VENV_BIN / "litellm"), "--config", str(path), "--host", "127.0.0.1"]
    argv += ["--port", str(port), *args]
    child = Child(
        ChildSpec(
            name=f"litellm-{name}",
            argv=argv,
            log_file=base / f"{name}.log",
            env={
                **os.environ,
                **BUNDLED_CATALOGUES,
                "LITELLM_MASTER_KEY": KEY,
                "AGENTRY_MODEL_SERVER_KEY": SERVER_KEY,
                "AGENTRY_SCRIPTED_MODEL_API_BASE": f"{scripted}/v1",
                "AGENTRY_DEFAULT_MODEL_API_BASE": f"{scripted}/v1",
                "AGENTRY_SMALL_MODEL_API_BASE": f"{scripted}/v1",
                "DISABLE_SCHEMA_UPDATE": "True",
                **env,
            },
        )
    )
    await child.start()
    url = f"http://127.0.0.1:{port}"

    async def up() -> bool:
        async with httpx.AsyncClient(timeout=2) as http:
            return (await http.get(f"{url}/health/liveliness")).status_code == 200

    await wait_until(up, f"litellm {name}", 180, child)
    return child, url


def _cpu(pid: int) -> float:
    process = psutil.Process(pid)
    total = 0.0
    for p in [process, *process.children(recursive=True)]:
        try:
            times = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


async def _call(http: httpx.AsyncClient, url: str, body: dict[str, Any]) -> float:
    started = time.perf_counter()
    async with http.stream(
        "POST", f"{url}/v1/chat/completions", json=body,
        headers={"Authorization": f"Bearer {KEY}"},
    ) as response:  # fmt: skip
        response.raise_for_status()
        async for _ in response.aiter_bytes():
            pass
    return (time.perf_counter() - started) * 1000


async def _probe(http: httpx.AsyncClient, url: str, body: dict[str, Any]) -> dict[str, Any]:
    """What a variant answers (it must answer as the base does): the reply's text, its usage
    and the cost it reports (the header, or streamed the last chunk's `usage.cost`)."""
    headers = {"Authorization": f"Bearer {KEY}"}
    response = await http.post(f"{url}/v1/chat/completions", json=body, headers=headers)
    response.raise_for_status()
    if not body.get("stream"):
        data = response.json()
        return {
            "text": data["choices"][0]["message"]["content"],
            "usage": {k: data["usage"].get(k) for k in ("prompt_tokens", "completion_tokens")},
            "cost": response.headers.get("x-litellm-response-cost"),
        }
    text, usage = "", {}
    for line in response.text.splitlines():
        if line.startswith("data: {"):
            chunk = json.loads(line[6:])
            for choice in chunk.get("choices") or []:
                text += (choice.get("delta") or {}).get("content") or ""
            usage = chunk.get("usage") or usage
    return {
        "text": text,
        "usage": {k: usage.get(k) for k in ("prompt_tokens", "completion_tokens")},
        "cost": usage.get("cost"),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix="agentry-litellm-variants-"))
    port = free_port()
    scripted_child = Child(
        ChildSpec(
            name="scripted-model",
            argv=[sys.executable, "-m", "tests.fakes.scripted_model", "--port", str(port)],
            log_file=base / "scripted.log",
        )
    )
    await scripted_child.start()
    scripted = ScriptedModel(f"http://127.0.0.1:{port}")
    variants = {"base": "", **dict(args.variant)}
    proxies: dict[str, tuple[Child, str]] = {}
    try:
        await wait_until(lambda: _ok(f"{scripted.base_url}/health"), "scripted", 30, scripted_child)
        for name, spec in variants.items():  # one at a time: each start is CPU-heavy
            proxies[name] = await _start_proxy(base, name, spec, scripted.base_url)
        calls = args.calls * len(proxies) * 2 + 12 * len(proxies)
        marker = await scripted.script(unique_key("hop"), [reply_text("ok")] * calls)
        results: dict[str, Any] = {"args": vars(args), "load": os.getloadavg(), "proxies": {}}
        # each proxy's own background work (its loops, with no call), subtracted below
        idle = {name: -_cpu(child.pid or 0) for name, (child, _) in proxies.items()}
        await asyncio.sleep(IDLE_SECONDS)
        for name, (child, _) in proxies.items():
            idle[name] = (idle[name] + _cpu(child.pid or 0)) / IDLE_SECONDS
        results["idle_cpu_per_s"] = idle
        async with httpx.AsyncClient(timeout=30) as http:
            for stream in (True, False):
                body: dict[str, Any] = {
                    "model": "scripted",
                    "messages": [{"role": "user", "content": f"hi {marker}"}],
                }
                if stream:
                    body.update(stream=True, stream_options={"include_usage": True})
                for _ in range(5):  # warm-up
                    for _, url in proxies.values():
                        await _call(http, url, body)
                kind = "stream" if stream else "plain"
                for name, (_, url) in proxies.items():
                    answer = await _probe(http, url, body)
                    results["proxies"].setdefault(name, {})[f"{kind}_answer"] = answer
                times: dict[str, list[float]] = {name: [] for name in proxies}
                # each proxy is idle but for its own calls: its CPU over the phase is theirs
                cpu = {name: -_cpu(child.pid or 0) for name, (child, _) in proxies.items()}
                started = time.monotonic()
                for _ in range(args.calls):
                    for name, (_, url) in proxies.items():
                        times[name].append(await _call(http, url, body))
                await asyncio.sleep(0.5)  # what the proxies do after their last answer
                seconds = time.monotonic() - started
                for name, (child, _) in proxies.items():
                    cpu[name] += _cpu(child.pid or 0) - idle[name] * seconds
                for name in proxies:
                    ms = sorted(times[name])
                    results["proxies"].setdefault(name, {})[kind] = {
                        "p50": statistics.median(ms),
                        "p90": ms[int(len(ms) * 0.9)],
                        "cpu_ms_per_call": cpu[name] / args.calls * 1000,
                    }
        results["load_after"] = os.getloadavg()
        return results
    finally:
        for child, _ in proxies.values():
            await child.stop()
        await scripted.aclose()
        await scripted_child.stop()
        shutil.rmtree(base, ignore_errors=True)  # configs and logs; the figures are returned


async def _ok(url: str) -> bool:
    async with httpx.AsyncClient(timeout=2) as http:
        return (await http.get(url)).status_code == 200


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.litellm_variants", description=__doc__)
    parser.add_argument("--calls", type=int, default=100, help="per proxy and kind")
    parser.add_argument("--variant", nargs=2, action="append", default=[], metavar=("NAME", "SPEC"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = asyncio.run(run(args))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, default=str))
    sys.stdout.write(f"load {results['load']} -> {results['load_after']}\n")
    for name, kinds in results["proxies"].items():
        line = "  ".join(
            f"{kind}: p50 {v['p50']:.1f} p90 {v['p90']:.1f} cpu {v['cpu_ms_per_call']:.1f}"
            for kind, v in kinds.items()
            if "p50" in v
        )
        line += "  " + " ".join(
            f"{kind}: {v['text']!r} {v['usage']} cost {v['cost']}"
            for kind, v in kinds.items()
            if "text" in v
        )
        sys.stdout.write(f"{name:>12}  {line}\n")


if __name__ == "__main__":
    main()
