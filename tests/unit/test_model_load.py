"""Reading model servers' load: the Prometheus text reader, the gauges of SGLang and llama.cpp,
the background poll (fail open, one warning per outage), and the settings that configure it."""

from __future__ import annotations

import logging

import httpx
import pytest

from activities.model_load import ModelLoad, ModelLoadMonitor, load_from_samples
from activities.prometheus_text import Sample, parse_samples
from services.settings import Settings

SGLANG = """\
# HELP sglang:num_running_reqs The number of running requests.
# TYPE sglang:num_running_reqs gauge
sglang:num_running_reqs{engine_type="unified",model_name="agent-default",tp_rank="0"} 12.0
sglang:num_running_reqs{engine_type="unified",model_name="agent-default",tp_rank="1"} 10.0
# TYPE sglang:num_queue_reqs gauge
sglang:num_queue_reqs{engine_type="unified",model_name="agent-default",tp_rank="0"} 3.0
sglang:num_queue_reqs{engine_type="unified",model_name="agent-default",tp_rank="1"} 4.0
# TYPE sglang:token_usage gauge
sglang:token_usage{engine_type="unified",model_name="agent-default",tp_rank="0"} 0.41
sglang:token_usage{engine_type="unified",model_name="agent-default",tp_rank="1"} 0.87
# TYPE sglang:prompt_tokens_total counter
sglang:prompt_tokens_total{model_name="agent-default"} 1.2345e+06
"""

# what xllamacpp 2026.10.11549 serves (checked by starting it): no KV-cache gauge
LLAMACPP = """\
# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed
# TYPE llamacpp:prompt_tokens_total counter
llamacpp:prompt_tokens_total 812
# HELP llamacpp:requests_processing Number of requests processing
# TYPE llamacpp:requests_processing gauge
llamacpp:requests_processing 4
# HELP llamacpp:requests_deferred Number of requests deferred
# TYPE llamacpp:requests_deferred gauge
llamacpp:requests_deferred 2
"""


def test_reader_takes_names_labels_values_and_skips_what_it_cannot_read() -> None:
    text = (
        "# HELP x_total a counter\n"
        "x_total 3 1700000000000\n"  # with a timestamp
        'y{a="1",b="say \\"hi\\"\\n",c="x\\\\y"} -2.5e-1\n'
        'y{trailing="comma",} +Inf\n'
        "z NaN\n"
        "\n"
        "broken line here\n"
        "w{a=unquoted} 1\n"
        "v not-a-number\n"
    )
    samples = parse_samples(text)
    assert samples[0] == Sample("x_total", 3.0, {})
    assert samples[1] == Sample("y", -0.25, {"a": "1", "b": 'say "hi"\n', "c": "x\\y"})
    assert samples[2] == Sample("y", float("inf"), {"trailing": "comma"})
    assert samples[3].name == "z" and samples[3].value != samples[3].value
    assert len(samples) == 4


def test_sglang_queues_add_up_and_the_fullest_cache_counts() -> None:
    load = load_from_samples(parse_samples(SGLANG), sampled_at=5.0)
    assert load == ModelLoad(queued=7.0, running=22.0, kv_usage=0.87, sampled_at=5.0)


def test_llamacpp_deferred_requests_are_its_queue() -> None:
    load = load_from_samples(parse_samples(LLAMACPP), sampled_at=1.0)
    assert load == ModelLoad(queued=2.0, running=4.0, kv_usage=None, sampled_at=1.0)
    with_kv = parse_samples(LLAMACPP + "llamacpp:kv_cache_usage_ratio 0.5\n")
    assert load_from_samples(with_kv, 1.0) == ModelLoad(2.0, 4.0, 0.5, 1.0)


def test_metrics_without_load_gauges_are_no_reading() -> None:
    assert load_from_samples(parse_samples("process_cpu_seconds_total 3\n"), 0.0) is None
    assert load_from_samples(parse_samples("sglang:num_queue_reqs NaN\n"), 0.0) is None


async def test_monitor_feeds_every_alias_and_fetches_a_shared_url_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fetched: list[str] = []
    up = {"value": True}

    def serve(request: httpx.Request) -> httpx.Response:
        fetched.append(str(request.url))
        if not up["value"]:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, text=LLAMACPP if "llama" in str(request.url) else SGLANG)

    seen: list[tuple[str, ModelLoad | None]] = []
    urls = {
        "agent-default": "http://sglang/metrics",
        "agent-small": "http://sglang/metrics",
        "local": "http://llama/metrics",
    }
    async with httpx.AsyncClient(transport=httpx.MockTransport(serve)) as http:
        monitor = ModelLoadMonitor(
            urls, http, lambda alias, load: seen.append((alias, load)), clock=lambda: 9.0
        )
        await monitor.poll_once()
        assert sorted(fetched) == ["http://llama/metrics", "http://sglang/metrics"]
        loads = dict(seen)
        assert loads["agent-default"] == loads["agent-small"] == ModelLoad(7.0, 22.0, 0.87, 9.0)
        assert loads["local"] == ModelLoad(2.0, 4.0, None, 9.0)

        # an outage: every poll reports "no reading", one warning per URL, until it is back
        up["value"] = False
        seen.clear()
        with caplog.at_level(logging.INFO, logger="activities.model_load"):
            await monitor.poll_once()
            await monitor.poll_once()
            assert [load for _, load in seen] == [None] * 6
            warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
            assert len(warnings) == 2
            assert "agent-default, agent-small" in " ".join(r.getMessage() for r in warnings)
            up["value"] = True
            await monitor.poll_once()
            await monitor.poll_once()
        assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2
        assert sum("readable again" in r.getMessage() for r in caplog.records) == 2


async def test_a_server_error_or_foreign_metrics_count_as_no_reading() -> None:
    def serve(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/broken":
            return httpx.Response(503)
        return httpx.Response(200, text="go_goroutines 12\n")

    seen: dict[str, ModelLoad | None] = {}
    urls = {"a": "http://x/broken", "b": "http://x/metrics"}
    async with httpx.AsyncClient(transport=httpx.MockTransport(serve)) as http:
        await ModelLoadMonitor(urls, http, seen.__setitem__).poll_once()
    assert seen == {"a": None, "b": None}


def test_embedded_servers_are_watched_by_default_and_settings_add_or_remove() -> None:
    embedded = Settings(_env_file=None, default_model_port=9001, small_model_port=9002)
    assert embedded.resolved_model_metrics_urls == {
        "agent-default": "http://127.0.0.1:9001/metrics",
        "agent-small": "http://127.0.0.1:9002/metrics",
    }
    production = Settings(
        _env_file=None,
        embedded_models=False,
        model_metrics_urls={"agent-default": "http://sglang:30000/metrics"},
    )
    assert production.resolved_model_metrics_urls == {
        "agent-default": "http://sglang:30000/metrics"
    }
    mixed = Settings(
        _env_file=None, model_metrics_urls={"agent-small": "", "scripted": "http://s/metrics"}
    )
    assert set(mixed.resolved_model_metrics_urls) == {"agent-default", "scripted"}


def test_admission_settings_reach_worker_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    parent = Settings(
        _env_file=None,
        model_metrics_urls={"agent-default": "http://sglang:30000/metrics?x=1"},
        model_metrics_poll_seconds=0.5,
        model_admission_queue_limit=3,
        model_admission_kv_limit=0.8,
        model_admission_bypass_priority=2,
        model_admission_max_hold_seconds=15,
    )
    for name, value in parent.as_env().items():
        monkeypatch.setenv(name, value)
    child = Settings(_env_file=None)
    assert child.model_metrics_urls == parent.model_metrics_urls
    assert child.model_metrics_poll_seconds == 0.5
    assert child.model_admission_queue_limit == 3
    assert child.model_admission_kv_limit == 0.8
    assert child.model_admission_bypass_priority == 2
    assert child.model_admission_max_hold_seconds == 15
