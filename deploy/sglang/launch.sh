#!/usr/bin/env bash
# Production SGLang on one GPU host without Kubernetes: one server per GPU, sglang-router in
# front with cache-aware routing. Run inside the lmsysorg/sglang image (or any env with the
# `sglang` and `sglang-router` packages), e.g.
#   docker run --gpus all --ipc=host -v models:/models:ro -p 30000:30000 \
#     -e MODEL_SERVER_KEY=... -v "$PWD/deploy/sglang:/deploy:ro" lmsysorg/sglang:v0.5.18 /deploy/launch.sh
# Settings (environment):
#   SGLANG_MODEL_PATH   default /models/Qwen2.5-7B-Instruct (downloaded beforehand, see README.md)
#   SGLANG_REPLICAS     default: the number of GPUs nvidia-smi lists
#   MODEL_SERVER_KEY    required; the router checks it, LiteLLM sends it (AGENTRY_MODEL_SERVER_KEY);
#                       the servers listen on loopback only and take no key of their own
#   ROUTER_PORT         default 30000; LiteLLM's api_base is http://HOST:ROUTER_PORT/v1
set -euo pipefail

MODEL_PATH="${SGLANG_MODEL_PATH:-/models/Qwen2.5-7B-Instruct}"
REPLICAS="${SGLANG_REPLICAS:-$(nvidia-smi --list-gpus | wc -l)}"
ROUTER_PORT="${ROUTER_PORT:-30000}"
FIRST_PORT=31000
: "${MODEL_SERVER_KEY:?set MODEL_SERVER_KEY}"
export HF_HUB_OFFLINE=1   # never download at start-up
# --context-length 8192: tokens one request may hold (prompt + output), the max_input_tokens
# that deploy/litellm/config.yaml advertises for agent-default (README.md, "Context length")

pids=()
cleanup() { kill -TERM "${pids[@]}" 2>/dev/null || true; wait || true; }
trap cleanup EXIT INT TERM

workers=()
for ((i = 0; i < REPLICAS; i++)); do
  port=$((FIRST_PORT + i))
  CUDA_VISIBLE_DEVICES="$i" python3 -m sglang.launch_server \
    --model-path "$MODEL_PATH" \
    --served-model-name agent-default \
    --context-length 8192 \
    --host 127.0.0.1 --port "$port" \
    --tool-call-parser qwen25 \
    --enable-metrics &
  pids+=("$!")
  workers+=("http://127.0.0.1:$port")
done

# the router waits for every worker's /health before it serves (--worker-startup-timeout-secs)
python3 -m sglang_router.launch_router \
  --host 0.0.0.0 --port "$ROUTER_PORT" \
  --worker-urls "${workers[@]}" \
  --policy cache_aware \
  --worker-startup-timeout-secs 900 \
  --request-timeout-secs 600 \
  --api-key "$MODEL_SERVER_KEY" &
pids+=("$!")
wait -n
