"""The worker process (`agentry worker`): `process.py` registers the workflows and activity
classes for its pools and runs them; `runner.py` is the workflow runner it uses."""
