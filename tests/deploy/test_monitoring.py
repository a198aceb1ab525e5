"""Monitoring as deployed, checked offline: the compose Prometheus scrapes the gateway and every
worker service where they serve /metrics, with the token; Grafana is provisioned with that
Prometheus and the dashboard; and the dashboard asks only for metric names the code exports
(read from its registries, so a renamed metric fails here) and shows every one of them.
docker-compose.yml itself is validated by test_manifests.py (`docker-compose config -q`)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from services.gateway.metrics import GatewayMetrics, LiveGauges
from services.settings import PROJECT_ROOT
from services.worker.metrics import WorkerMetrics

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
PROMETHEUS_CONFIG = PROJECT_ROOT / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA = PROJECT_ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "agentry.json"
K8S_DIR = PROJECT_ROOT / "deploy" / "k8s"

TEMPORAL_SDK_METRICS_ON_DASHBOARD = (
    "temporal_activity_execution_latency_seconds_bucket",
    "temporal_activity_schedule_to_start_latency_seconds_bucket",
    "temporal_workflow_task_schedule_to_start_latency_seconds_bucket",
    "temporal_worker_task_slots_available",
    "temporal_sticky_cache_size",
    "temporal_request_latency_seconds_bucket",
    "temporal_workflow_endtoend_latency_seconds_bucket",
)
"""The Temporal SDK's metrics the dashboard shows. They come from the SDK's Rust core, not from
a registry of ours: tests/integration/test_metrics.py finds each on a running worker."""

SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "gauge": ("",),
}
METRIC_NAME = re.compile(r"\b(?:agentry|temporal)_[a-zA-Z0-9_:]*")


def _families(registry: CollectorRegistry) -> dict[str, str]:
    """Family name → type, of every metric the registry's collectors describe."""
    found: dict[str, str] = {}
    for collector in list(registry._collector_to_names):  # every collector, DB-backed ones too
        describe = getattr(collector, "describe", None)
        for family in describe() if describe is not None else collector.collect():
            found[family.name] = family.type
    return found


def exported_families() -> dict[str, str]:
    worker = WorkerMetrics()
    worker.watch_held_calls(["agent-default"], lambda model: 0)
    gateway = GatewayMetrics(LiveGauges(cache_seconds=5))
    return {**_families(worker.registry), **_families(gateway.registry)}


def exported_series() -> set[str]:
    """The sample names Prometheus stores for each family (`_total`, `_bucket`, ...)."""
    return {
        name + suffix for name, kind in exported_families().items() for suffix in SUFFIXES[kind]
    }


def _dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def _expressions() -> list[str]:
    return [
        target["expr"] for panel in _dashboard()["panels"] for target in panel.get("targets", [])
    ]


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return data


def _mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path → repository path of the service's bind mounts."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            mounts[target] = PROJECT_ROOT / source
    return mounts


def test_the_dashboard_asks_only_for_metrics_the_code_exports() -> None:
    known = exported_series() | set(TEMPORAL_SDK_METRICS_ON_DASHBOARD)
    asked = {name for expr in _expressions() for name in METRIC_NAME.findall(expr)}
    assert asked, "the dashboard has no queries"
    assert sorted(asked - known) == []


def test_the_dashboard_shows_every_metric_the_code_exports() -> None:
    text = " ".join(_expressions())
    unshown = [name for name in exported_families() if name not in text]
    assert unshown == []


def test_exported_names_are_found_in_the_code_s_registries() -> None:
    """The names test above is only as good as this list: it holds both processes' metrics."""
    series = exported_series()
    assert "agentry_model_tokens_total" in series  # a worker's counter
    assert "agentry_model_call_duration_seconds_bucket" in series  # a worker's histogram
    assert "agentry_approvals_waiting" in series  # read from Postgres by the gateway
    assert "agentry_http_requests_total" in series


def test_dashboard_panels_use_the_provisioned_datasource() -> None:
    (source,) = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text()
    )["datasources"]
    panels = [panel for panel in _dashboard()["panels"] if panel["type"] != "row"]
    assert panels
    for panel in panels:
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]
        assert all(t["datasource"]["uid"] == source["uid"] for t in panel["targets"])
    ids = [panel["id"] for panel in _dashboard()["panels"]]
    assert len(ids) == len(set(ids))
    assert source["url"] == "http://prometheus:9090" and "prometheus" in _compose()["services"]


def test_compose_grafana_mounts_the_provisioning_and_the_dashboards() -> None:
    grafana = _compose()["services"]["grafana"]
    mounts = _mounts(grafana)
    assert mounts["/etc/grafana/provisioning"] == GRAFANA / "provisioning"
    (provider,) = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "agentry.yaml").read_text()
    )["providers"]
    dashboards = mounts[provider["options"]["path"]]
    assert (dashboards / DASHBOARD.name).is_file()
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/{DASHBOARD.name}"


def test_compose_prometheus_scrapes_the_gateway_and_every_worker_service_with_the_token() -> None:
    services = _compose()["services"]
    prometheus = services["prometheus"]
    config_path = _mounts(prometheus)["/etc/prometheus/prometheus.yml"]
    assert config_path == PROMETHEUS_CONFIG
    jobs = {
        job["job_name"]: job for job in yaml.safe_load(config_path.read_text())["scrape_configs"]
    }
    command = " ".join(prometheus["command"])
    for name in ("agentry-gateway", "agentry-worker"):
        token_file = jobs[name]["authorization"]["credentials_file"]
        assert f"> {token_file}" in command, "Prometheus must write the token where the job reads"
    assert "AGENTRY_METRICS_TOKEN" in prometheus["environment"]

    gateway = services["gateway"]["environment"]
    assert jobs["agentry-gateway"]["static_configs"][0]["targets"] == [
        f"gateway:{gateway['AGENTRY_PORT']}"
    ]
    workers = {name: s for name, s in services.items() if name.startswith("worker-")}
    (lookup,) = jobs["agentry-worker"]["dns_sd_configs"]
    assert sorted(lookup["names"]) == sorted(workers)
    for service in workers.values():
        env = service["environment"]
        assert env["AGENTRY_WORKER_METRICS_HOST"] == "0.0.0.0"  # reachable on the network
        assert int(env["AGENTRY_WORKER_METRICS_PORT"]) == lookup["port"]
        assert "AGENTRY_METRICS_TOKEN" in env


def test_kubernetes_scrape_hints_point_at_the_metrics_ports() -> None:
    for path in (K8S_DIR / "gateway.yaml", K8S_DIR / "worker-default.yaml"):
        (deployment,) = [
            doc for doc in yaml.safe_load_all(path.read_text()) if doc["kind"] == "Deployment"
        ]
        template = deployment["spec"]["template"]
        hints = template["metadata"]["annotations"]
        assert hints["prometheus.io/scrape"] == "true"
        container = template["spec"]["containers"][0]
        ports = [port["containerPort"] for port in container["ports"]]
        assert int(hints["prometheus.io/port"]) in ports, path.name
        env = {item["name"]: item for item in container["env"]}
        assert env["AGENTRY_METRICS_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "metrics-token"
        if "AGENTRY_WORKER_METRICS_PORT" in env:
            assert env["AGENTRY_WORKER_METRICS_PORT"]["value"] == hints["prometheus.io/port"]
