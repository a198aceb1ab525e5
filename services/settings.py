"""The one place that reads the environment.

Every knob is an ``AGENTRY_*`` variable (or a line in ``.env``). The defaults describe the
embedded stack that ``make run`` starts on loopback; pointing the URLs elsewhere (an external
Temporal, Postgres or LiteLLM) needs no code change.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AGENTRY_", env_file=".env", extra="ignore", populate_by_name=True
    )

    # where the embedded stack keeps its state
    data_dir: Path = PROJECT_ROOT / ".agentry"
    agents_dir: Path = PROJECT_ROOT / "agents"
    pools_file: Path = PROJECT_ROOT / "deploy" / "pools.yaml"  # worker pools and their limits
    # MCP servers whose tools agents may be granted (deploy/mcp/servers.yaml); unset: none
    mcp_servers_file: Path | None = None
    mcp_server_tokens: dict[str, SecretStr] = {}  # server name → the token its `auth:` sends

    # gateway
    host: str = "127.0.0.1"
    port: int = 8000
    # where the gateway's clients on this machine (`agentry tasks`, `agentry eval`, `make eval`)
    # reach it (AGENTRY_URL; unset: host and port above) and the key they send
    # (AGENTRY_API_KEY; unset: the embedded stack's dev key, see resolved_api_key)
    gateway_url: str | None = Field(
        default=None, validation_alias=AliasChoices("AGENTRY_URL", "AGENTRY_GATEWAY_URL")
    )
    api_key: SecretStr | None = None
    max_input_bytes: int = Field(default=64 * 1024, description="largest accepted task input")
    max_metadata_bytes: int = 16 * 1024
    # any request body; refused from Content-Length, or as it streams in, before it is parsed
    max_request_bytes: int = Field(default=1024 * 1024, ge=64 * 1024)
    # finished tasks (with their events, messages, approvals, files and sub-agent tasks) older
    # than this many days are deleted by the gateway's retention job (gateway/retention.py);
    # unset: kept forever
    retention_days: float | None = Field(default=None, gt=0)
    retention_interval_seconds: float = Field(default=3600.0, gt=0)
    retention_batch_size: int = Field(default=200, ge=1, le=10_000)
    # tasks not final and unchanged this long have their workflow checked (task_reconciler.py)
    reconcile_quiet_seconds: float = Field(default=60.0, ge=0)
    reconcile_interval_seconds: float = Field(default=30.0, gt=0)
    pool_sample_seconds: float = Field(default=15.0, ge=1)  # GET /v1/pools/history's step
    # each tool call runs in its own process under these (activities/tools/processes.py)
    tool_wall_seconds: float = Field(default=60.0, gt=0, le=280)
    tool_cpu_seconds: int = Field(default=20, ge=1)
    tool_memory_mb: int = Field(default=512, ge=64)
    cancel_wait_seconds: float = 5.0
    responses_wait_seconds: float = Field(default=120.0, ge=0, le=3600)  # POST /v1/responses
    migrate_on_start: bool = False  # the dev supervisor migrates before starting the gateway

    # Postgres; when unset the embedded server is used
    database_url: str | None = None
    embedded_postgres_port: int = 5433

    # Temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_ui_port: int = 8233
    temporal_ui_url: str | None = None  # for links to workflows; unset: the embedded UI's
    embedded_temporal: bool = True
    # a production cluster (services/temporal_client.py): TLS with the system's roots or a CA
    # file, mTLS with a client certificate and key, or Temporal Cloud's API key (implies TLS)
    temporal_tls: bool = False
    temporal_tls_ca_file: Path | None = None
    temporal_tls_cert_file: Path | None = None
    temporal_tls_key_file: Path | None = None
    temporal_tls_server_name: str | None = None
    temporal_api_key: SecretStr | None = None

    # LiteLLM proxy (the only way the workers reach models)
    litellm_url: str = "http://127.0.0.1:4000"
    litellm_key: SecretStr = SecretStr("sk-agentry-local")
    # the key LiteLLM sends to the embedded model servers (AGENTRY_MODEL_SERVER_KEY); in
    # production it is set on the LiteLLM service itself
    model_server_key: SecretStr = SecretStr("none")
    embedded_litellm: bool = True
    litellm_config: Path = PROJECT_ROOT / "deploy" / "litellm" / "config.yaml"

    # embedded model servers (llama.cpp); the LiteLLM config refers to these ports
    embedded_models: bool = True
    packages_dir: Path = PROJECT_ROOT / ".agentry" / "packages"  # `make setup` installs here
    models_dir: Path = PROJECT_ROOT / ".agentry" / "models"  # assembled, sha256-checked
    default_model: str = "agent-default"
    small_model: str = "agent-small"
    default_model_port: int = 8081
    small_model_port: int = 8082
    model_threads: int = 2
    # tokens one request may hold (prompt + output); must match max_input_tokens in the
    # LiteLLM config's model_info. A server's KV cache is context x model_parallel tokens,
    # one whole request's worth per slot
    default_model_context: int = Field(default=8192, ge=256)  # agent-default
    small_model_context: int = Field(default=4096, ge=256)  # agent-small
    model_parallel: int = Field(default=4, ge=1)  # requests each server runs at once
    # a bigger model of your own beside the embedded ones, as model group `agent-large` of the
    # embedded LiteLLM (services/devstack/large_model.py): any OpenAI-compatible endpoint
    # (a hosted API, SGLang, vLLM, Ollama) and the model's name there; unset: no such group
    large_model_api_base: str | None = None
    large_model: str | None = None
    large_model_api_key: SecretStr = SecretStr("none")
    large_model_context: int = Field(default=32768, ge=1024)  # tokens of one request
    large_model_max_output: int = Field(default=4096, ge=64)  # of those, kept for the reply

    # workers
    worker_pools: list[str] = ["default"]
    # on SIGTERM a worker stops polling and gives in-flight activities this long to finish
    worker_drain_seconds: float = Field(default=60.0, ge=0)
    # workflows kept in a worker's memory; 0 makes every step replay history (a bench mode,
    # one workflow task at a time: services/worker/process.py, workflow_tasks_at_once)
    worker_max_cached_workflows: int = Field(default=1000, ge=0)
    llm_timeout_seconds: float = 300.0
    # each task's workspace files (in Postgres): all of them together at most this large
    workspace_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1024 * 1024)
    workspace_max_files: int = Field(default=1000, ge=1)

    # approvals
    approval_webhook_url: str | None = None  # agents may name their own
    # every receiver signs with its own secret: the default URL's, and {URL: secret} for those
    # agents name (activities/webhooks.py); a receiver without one gets nothing
    approval_webhook_secret: SecretStr | None = None
    webhook_secrets: dict[str, SecretStr] = {}
    webhook_allow_private_targets: bool = False  # loopback, private, link-local hosts
    approval_resignal_seconds: float = 5.0  # how often decisions not yet signalled are re-sent

    # admission by model capacity (activities/model_admission.py)
    # model alias -> its server's Prometheus /metrics URL; merged over the embedded llama.cpp
    # servers' URLs (see resolved_model_metrics_urls); "" turns a model's gating off
    model_metrics_urls: dict[str, str] = {}
    # model alias -> base URL of its llama.cpp server, for counting prompt tokens; "" : count
    # through LiteLLM instead (see resolved_model_server_urls)
    model_server_urls: dict[str, str] = {}
    model_metrics_poll_seconds: float = Field(default=1.0, gt=0)
    # a server is saturated at this many queued requests, or at this share of KV cache in use
    model_admission_queue_limit: int = Field(default=8, ge=1)
    model_admission_kv_limit: float = Field(default=0.9, gt=0, le=1)
    # calls of tasks with priority <= this are never held (1 highest ... 5 lowest; 0: none)
    model_admission_bypass_priority: int = Field(default=1, ge=0, le=5)
    # a held call gives its activity slot back after this long; Temporal retries it later
    model_admission_max_hold_seconds: float = Field(default=60.0, ge=0)

    # Prometheus metrics (README "Metrics"): /metrics on the gateway and on each worker.
    # With a token, /metrics answers only `Authorization: Bearer <token>`; without one, only
    # callers on loopback (the embedded stack)
    metrics_token: SecretStr | None = None
    # where each worker process serves /metrics (its own and the Temporal SDK's); the embedded
    # fleet gives its n-th worker port + n (services/devstack/worker_fleet.py); 0: no endpoint
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = Field(default=9464, ge=0, le=65535)
    # the gateway's gauges read from Postgres (tasks, approvals) are reused for this long
    metrics_cache_seconds: float = Field(default=5.0, ge=0)

    # tenant caps (activities/db/tenant_caps.py; the 429 of reject mode: gateway/submission.py)
    # tasks one tenant may have running at once; a tenant's own max_concurrent_tasks overrides
    tenant_max_concurrent_tasks: int = Field(default=20, ge=1)
    # a submit over the cap: accepted and waits for a slot (queue), or refused with 429 (reject)
    tenant_over_cap: Literal["queue", "reject"] = "queue"
    tenant_cap_retry_after_seconds: int = Field(default=5, ge=1)  # the 429's Retry-After
    # queue mode: tasks one tenant may have waiting for a slot; a submit beyond is a 429
    tenant_max_queued_tasks: int = Field(default=1000, ge=1)
    # the highest budgets a task may run under (workflows/contracts/budgets.py), for tenants
    # without their own (`agentry tenant-budgets`); an agent's defaults above them are cut
    task_budget_limits: dict[str, int | float] = {
        "max_model_calls": 500,
        "max_tool_calls_per_turn": 32,
        "max_tokens": 2_000_000,
        "deadline_seconds": 7 * 86_400,
    }
    # how often a task waiting for a slot asks again (tasks far back in line: up to 4x less)
    tenant_admission_poll_seconds: float = Field(default=2.0, gt=0)

    # Langfuse trace export from the workers (activities/langfuse_export/): on when all three
    # are set, under Langfuse's own names or AGENTRY_LANGFUSE_*; off otherwise
    langfuse_public_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("LANGFUSE_PUBLIC_KEY", "AGENTRY_LANGFUSE_PUBLIC_KEY"),
    )
    langfuse_secret_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("LANGFUSE_SECRET_KEY", "AGENTRY_LANGFUSE_SECRET_KEY"),
    )
    langfuse_host: str | None = Field(
        default=None, validation_alias=AliasChoices("LANGFUSE_HOST", "AGENTRY_LANGFUSE_HOST")
    )
    # how long finished observations may wait in a worker before they are sent in one batch
    langfuse_flush_seconds: float = Field(default=5.0, gt=0, le=300)

    @field_validator("worker_max_cached_workflows")
    @classmethod
    def _cache_is_off_or_holds_two(cls, value: int) -> int:
        # the Temporal core runs at least 2 workflow tasks at once when the cache is on, and a
        # cache smaller than that evicts workflows mid-task
        if value == 1:
            raise ValueError("must be 0 (no cache) or at least 2")
        return value

    @model_validator(mode="after")
    def _large_model_is_whole(self) -> Settings:
        if self.large_model_api_base and not self.large_model:
            raise ValueError("large_model_api_base is set: large_model must name the model there")
        if self.large_model_max_output >= self.large_model_context:
            raise ValueError("large_model_max_output must be below large_model_context")
        return self

    @property
    def resolved_gateway_url(self) -> str:
        return self.gateway_url or f"http://{self.host}:{self.port}"

    def resolved_api_key(self) -> str | None:
        """The key a client sends: `api_key`, else the dev key `make run` wrote, else None."""
        if self.api_key is not None and self.api_key.get_secret_value():
            return self.api_key.get_secret_value()
        dev_key = self.data_dir / "dev-api-key"
        if not dev_key.exists():
            return None
        return dev_key.read_text().strip() or None

    @property
    def langfuse_enabled(self) -> bool:
        return bool(self.langfuse_public_key and self.langfuse_secret_key and self.langfuse_host)

    @property
    def resolved_model_metrics_urls(self) -> dict[str, str]:
        """Whose load the workers watch: the embedded llama.cpp servers (when on), then
        `model_metrics_urls` on top."""
        urls: dict[str, str] = {}
        if self.embedded_models:
            urls[self.default_model] = f"http://127.0.0.1:{self.default_model_port}/metrics"
            urls[self.small_model] = f"http://127.0.0.1:{self.small_model_port}/metrics"
        urls.update(self.model_metrics_urls)
        return {alias: url for alias, url in urls.items() if url}

    @property
    def resolved_model_server_urls(self) -> dict[str, str]:
        """Model group → base URL of its llama.cpp server, whose tokenizer counts prompts
        (activities/token_counts.py): the embedded servers (when on), then
        `model_server_urls` on top; a group without one is counted through LiteLLM."""
        urls: dict[str, str] = {}
        if self.embedded_models:
            urls[self.default_model] = f"http://127.0.0.1:{self.default_model_port}"
            urls[self.small_model] = f"http://127.0.0.1:{self.small_model_port}"
        urls.update(self.model_server_urls)
        return {alias: url for alias, url in urls.items() if url}

    @property
    def skills_dir(self) -> Path:
        return self.agents_dir / "skills"  # agents/skills/<name>/<version>.md

    @property
    def resolved_database_url(self) -> str:
        """SQLAlchemy URL; the embedded server listens on loopback only."""
        if self.database_url:
            return self.database_url
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.embedded_postgres_port}/agentry"

    @property
    def resolved_webhook_secrets(self) -> dict[str, str]:
        secrets = {url: secret.get_secret_value() for url, secret in self.webhook_secrets.items()}
        if self.approval_webhook_url and self.approval_webhook_secret is not None:
            secrets.setdefault(
                self.approval_webhook_url, self.approval_webhook_secret.get_secret_value()
            )
        return secrets

    def as_env(self) -> dict[str, str]:
        """These settings as AGENTRY_* variables, so child processes see the same config
        (secrets as they are: a dump masks them)."""
        env: dict[str, str] = {}
        for name, value in self.model_dump(mode="json").items():
            if value is None:
                continue
            text = json.dumps(value) if isinstance(value, list | dict) else str(value)
            env[f"AGENTRY_{name.upper()}"] = text
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                env[f"AGENTRY_{name.upper()}"] = value.get_secret_value()
            elif isinstance(value, dict) and any(isinstance(v, SecretStr) for v in value.values()):
                secrets = {k: v.get_secret_value() for k, v in value.items()}
                env[f"AGENTRY_{name.upper()}"] = json.dumps(secrets)
        return env


@lru_cache
def get_settings() -> Settings:
    return Settings()
