"""Each task as one Langfuse trace, sent from the activities with the Langfuse SDK.

Imported only when the worker's settings hold Langfuse keys (services/worker/process.py).
"""
