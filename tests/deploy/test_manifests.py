"""Production deployment files, validated offline: docker-compose.yml, deploy/k8s, deploy/sglang.

No Docker engine, cluster or GPU here: compose is checked by Debian's `docker-compose config`,
Kubernetes manifests against the schemas shipped in `kubernetes-validate`, KEDA's ScaledObject
against deploy/k8s/schemas/keda-scaledobject.json, and cross-checks keep the files in step with
the code (task queues, settings names, timeouts).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from services.settings import PROJECT_ROOT, Settings
from workflows import policies
from workflows.contracts.tasks import task_queue_for_pool

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
COMPOSE_ENV_EXAMPLE = PROJECT_ROOT / "deploy" / "compose.env.example"
K8S_DIR = PROJECT_ROOT / "deploy" / "k8s"
SGLANG_DIR = PROJECT_ROOT / "deploy" / "sglang"
KEDA_SCHEMA = K8S_DIR / "schemas" / "keda-scaledobject.json"
LITELLM_CONFIG = PROJECT_ROOT / "deploy" / "litellm" / "config.yaml"
# oldest Kubernetes the manifests must suit, and the newest the package knows
K8S_VERSIONS = ["1.30.0", kubernetes_validate.utils.latest_version()]
# a worker gets this much more than the longest activity to finish it after SIGTERM
GRACE_MARGIN = timedelta(seconds=30)
APP_COMMANDS = {"agentry"}  # containers running the app itself read Settings


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _manifests() -> list[tuple[str, dict[str, Any]]]:
    files = sorted(K8S_DIR.glob("*.yaml")) + sorted(SGLANG_DIR.glob("*.yaml"))
    return [
        (f"{path.relative_to(PROJECT_ROOT)}:{doc['kind']}/{doc['metadata']['name']}", doc)
        for path in files
        if path.name != "kustomization.yaml"
        for doc in _documents(path)
    ]


def _by_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in _manifests() if doc["kind"] == kind]


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return data


def _command(container: dict[str, Any]) -> list[str]:
    return [str(part) for part in container.get("command", [])]


def _pool_of(command: list[str]) -> str:
    assert command[:2] == ["agentry", "worker"], command
    pools = [command[i + 1] for i, part in enumerate(command) if part == "--pool"]
    assert len(pools) == 1, f"one pool per worker deployment: {command}"
    return pools[0]


def _worker_deployments() -> list[dict[str, Any]]:
    return [
        doc
        for doc in _by_kind("Deployment")
        if _command(doc["spec"]["template"]["spec"]["containers"][0])[:2] == ["agentry", "worker"]
    ]


def _declared_pools() -> dict[str, dict[str, Any]]:
    """The pools the app knows: deploy/pools.yaml (Settings.pools_file), by name."""
    pools_file = Path(Settings().pools_file)
    assert pools_file.is_file(), pools_file
    return {pool["name"]: pool for pool in yaml.safe_load(pools_file.read_text())["pools"]}


def _env_value(container: dict[str, Any], name: str) -> str:
    (value,) = [env["value"] for env in container.get("env", []) if env["name"] == name]
    return str(value)


def _longest_activity_timeout() -> timedelta:
    timeouts = [value for name, value in vars(policies).items() if name.endswith("_TIMEOUT")]
    assert policies.MODEL_CALL_TIMEOUT in timeouts
    return max(value for value in timeouts if isinstance(value, timedelta))


# ---- (a) docker-compose.yml ----


def test_compose_file_validates_with_docker_compose(tmp_path: Path) -> None:
    executable = shutil.which("docker-compose")
    if executable is None:
        pytest.fail(
            "docker-compose is missing: `make test` installs it (Debian package docker-compose, "
            "see DEBIAN_PACKAGES in the Makefile); or run apt-get install -y docker-compose"
        )
    # Only the example env file and PATH: a developer's .env or shell must not make it pass.
    result = subprocess.run(
        [
            executable,
            "--project-directory",
            str(PROJECT_ROOT),
            "--env-file",
            str(COMPOSE_ENV_EXAMPLE),
            "-f",
            str(COMPOSE_FILE),
            "config",
            "-q",
        ],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_its_secrets(tmp_path: Path) -> None:
    executable = shutil.which("docker-compose")
    if executable is None:
        pytest.fail("docker-compose is missing: `make test` installs it")
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = subprocess.run(
        [executable, "--env-file", str(empty), "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "set " in result.stderr, result.stderr


def test_compose_has_the_production_services() -> None:
    services = _compose()["services"]
    for name in ("postgres", "temporal", "temporal-ui", "migrate", "litellm", "sglang"):
        assert name in services, name
    assert "langfuse" in services
    assert services["migrate"]["command"] == ["agentry", "migrate"]
    for name in ["gateway", *(n for n in services if n.startswith("worker-"))]:
        condition = services[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully", name
    assert "/readyz" in " ".join(services["gateway"]["healthcheck"]["test"])
    sglang = services["sglang"]
    command = [str(part) for part in sglang["command"]]
    assert "--enable-metrics" in command
    assert command[command.index("--tool-call-parser") + 1] == "qwen25"
    assert sglang["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert any(volume.endswith(":/models:ro") for volume in sglang["volumes"])


def test_compose_worker_services_match_the_pools_and_outlive_the_longest_activity() -> None:
    services = _compose()["services"]
    workers = {name: s for name, s in services.items() if name.startswith("worker-")}
    pools = {_pool_of([str(p) for p in s["command"]]) for s in workers.values()}
    assert pools == set(_declared_pools()), "one worker service per pool in deploy/pools.yaml"
    for name, service in workers.items():
        pool = _pool_of([str(p) for p in service["command"]])
        assert name == f"worker-{pool}"
        assert service["deploy"]["replicas"] >= 1
        grace = _duration(service["stop_grace_period"])
        drain = timedelta(seconds=float(service["environment"]["AGENTRY_WORKER_DRAIN_SECONDS"]))
        assert _longest_activity_timeout() < drain, f"{name}: drain shorter than an activity"
        assert drain + GRACE_MARGIN <= grace, f"{name}: killed before its drain ends"


def _duration(text: str) -> timedelta:
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", text)
    assert match and text, f"unsupported duration {text!r}"
    return timedelta(minutes=int(match[1] or 0), seconds=int(match[2] or 0))


# ---- (b) Kubernetes manifests ----


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_kubernetes_manifests_validate_against_the_schemas(version: str) -> None:
    checked = 0
    for name, doc in _manifests():
        if doc["apiVersion"].startswith("keda.sh/"):
            continue
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name} (Kubernetes {version}): {exc.message} at {list(exc.path)}")
        checked += 1
    assert checked >= 8


def test_scaled_objects_validate_against_kedas_crd_schema() -> None:
    schema = json.loads(KEDA_SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    scaled = _by_kind("ScaledObject")
    assert scaled
    for doc in scaled:
        jsonschema.Draft7Validator(schema).validate(doc)
        for trigger in doc["spec"]["triggers"]:
            if trigger["type"] == "temporal":
                assert {"endpoint", "taskQueue", "targetQueueSize"} <= trigger["metadata"].keys()


def test_the_keda_schema_rejects_a_misspelt_field() -> None:
    schema = json.loads(KEDA_SCHEMA.read_text())
    doc = _by_kind("ScaledObject")[0]
    broken = json.loads(json.dumps(doc))
    broken["spec"]["maxReplicas"] = broken["spec"].pop("maxReplicaCount")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_kustomization_lists_every_k8s_manifest() -> None:
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    on_disk = {p.name for p in K8S_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == on_disk


# ---- (c) cross-checks against the code ----


def test_every_pool_has_a_deployment_pdb_and_scaled_object_on_its_task_queue() -> None:
    config = _by_kind("ConfigMap")[0]["data"]
    deployments = {d["metadata"]["name"]: d for d in _worker_deployments()}
    declared = _declared_pools()
    pools = {
        _pool_of(_command(d["spec"]["template"]["spec"]["containers"][0]))
        for d in deployments.values()
    }
    assert pools == set(declared), "one worker Deployment per pool in deploy/pools.yaml"
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in _by_kind("ScaledObject")}
    budgets = _by_kind("PodDisruptionBudget")
    for name, deployment in deployments.items():
        pool = _pool_of(_command(deployment["spec"]["template"]["spec"]["containers"][0]))
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert name in scaled, f"no ScaledObject for {name}"
        (trigger,) = scaled[name]["spec"]["triggers"]
        assert trigger["type"] == "temporal"
        assert trigger["metadata"]["taskQueue"] == task_queue_for_pool(pool)
        assert trigger["metadata"]["endpoint"] == config["AGENTRY_TEMPORAL_ADDRESS"]
        assert trigger["metadata"]["namespace"] == config["AGENTRY_TEMPORAL_NAMESPACE"]
        spec = scaled[name]["spec"]
        assert spec["minReplicaCount"] == declared[pool].get("min_replicas", 1), name
        assert spec["maxReplicaCount"] == declared[pool].get("max_replicas", 4), name
        assert "replicas" not in deployment["spec"], "the ScaledObject owns the replica count"
        matching = [
            b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(matching) == 1, f"one PodDisruptionBudget for {name}"
        assert "readinessProbe" in deployment["spec"]["template"]["spec"]["containers"][0]


def test_workers_outlive_their_longest_activity_after_sigterm() -> None:
    longest = _longest_activity_timeout()
    for deployment in _worker_deployments():
        name = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]["spec"]
        grace = timedelta(seconds=pod["terminationGracePeriodSeconds"])
        drain = timedelta(
            seconds=float(_env_value(pod["containers"][0], "AGENTRY_WORKER_DRAIN_SECONDS"))
        )
        assert longest < drain, f"{name}: drain shorter than the longest activity"
        assert drain + GRACE_MARGIN <= grace, f"{name}: killed before its drain ends"


def test_the_image_holds_every_file_the_settings_point_into_the_repo() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    copied = {Path(src) for src in re.findall(r"^COPY (\S+) \S+$", dockerfile, re.MULTILINE)}
    repo_files = [
        value.relative_to(PROJECT_ROOT)
        for value in Settings.model_construct().__dict__.values()
        if isinstance(value, Path)
        and value.is_relative_to(PROJECT_ROOT)
        and not value.is_relative_to(PROJECT_ROOT / ".agentry")
    ]
    assert Path("deploy/litellm/config.yaml") in repo_files
    for path in repo_files:
        assert any(path == src or src in path.parents for src in copied), f"{path} not copied"


def test_gateway_probes_use_the_health_routes() -> None:
    (gateway,) = [
        d
        for d in _by_kind("Deployment")
        if _command(d["spec"]["template"]["spec"]["containers"][0]) == ["agentry", "gateway"]
    ]
    container = gateway["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    from services.gateway.routes.health import router

    paths = {getattr(route, "path", None) for route in router.routes}
    assert {"/readyz", "/healthz"} <= paths


def _app_env_names() -> dict[str, set[str]]:
    """Env var names each app container (gateway, workers, migrations) gets, by where."""
    found: dict[str, set[str]] = {}
    config_maps = {c["metadata"]["name"]: c.get("data", {}) for c in _by_kind("ConfigMap")}
    for name, doc in _manifests():
        pod = doc.get("spec", {}).get("template", {}).get("spec", {})
        for container in pod.get("containers", []):
            if _command(container)[:1] != ["agentry"]:
                continue
            names = {env["name"] for env in container.get("env", [])}
            for source in container.get("envFrom", []):
                names |= set(config_maps[source["configMapRef"]["name"]])
            found[f"{name}/{container['name']}"] = names
    for service_name, service in _compose()["services"].items():
        if [str(p) for p in service.get("command", [])][:1] == ["agentry"]:
            found[f"docker-compose.yml:{service_name}"] = set(service.get("environment", {}))
    return found


def test_app_containers_only_set_real_settings() -> None:
    fields = {f"AGENTRY_{name.upper()}" for name in Settings.model_fields}
    found = _app_env_names()
    assert len(found) >= 6
    for where, names in found.items():
        unknown = names - fields
        assert not unknown, f"{where} sets {sorted(unknown)}, which no Settings field reads"
    dockerfile_env = re.findall(r"\b(AGENTRY_[A-Z_]+)=", (PROJECT_ROOT / "Dockerfile").read_text())
    assert dockerfile_env and set(dockerfile_env) <= fields


def test_litellm_gets_every_variable_its_config_reads() -> None:
    assert LITELLM_CONFIG.is_file()
    wanted = set(re.findall(r"os\.environ/([A-Z0-9_]+)", LITELLM_CONFIG.read_text()))
    assert wanted
    config_path = "/app/" + str(LITELLM_CONFIG.relative_to(PROJECT_ROOT))
    compose = _compose()["services"]["litellm"]
    assert config_path in [str(p) for p in compose["command"]]
    assert wanted <= set(compose["environment"])
    (deployment,) = [d for d in _by_kind("Deployment") if d["metadata"]["name"] == "litellm"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert config_path in _command(container)
    assert wanted <= {env["name"] for env in container["env"]}
    assert "COPY deploy/litellm deploy/litellm" in (PROJECT_ROOT / "Dockerfile").read_text()


def test_sglang_serves_the_model_group_with_tool_calls_and_metrics() -> None:
    launches = [
        _command(c)
        for d in _by_kind("Deployment")
        for c in d["spec"]["template"]["spec"]["containers"]
        if "sglang.launch_server" in _command(c)
    ]
    launches.append([str(p) for p in _compose()["services"]["sglang"]["command"]])
    script = (SGLANG_DIR / "launch.sh").read_text()
    for command in launches:
        assert "--enable-metrics" in command
        assert command[command.index("--tool-call-parser") + 1] == "qwen25"
        assert command[command.index("--served-model-name") + 1] == Settings().default_model
    assert "--tool-call-parser qwen25" in script and "--enable-metrics" in script
    routers = [
        _command(c)
        for d in _by_kind("Deployment")
        for c in d["spec"]["template"]["spec"]["containers"]
        if "sglang_router.launch_router" in _command(c)
    ]
    assert routers and all(r[r.index("--policy") + 1] == "cache_aware" for r in routers)
    assert "--policy cache_aware" in script
