"""The embedded stack behind `make run`: `supervisor.py` starts and stops every process on
loopback; the other modules each describe one of them (Postgres, Temporal, the model servers,
LiteLLM, the worker fleet) or one step of the start (model files, the dev key)."""
