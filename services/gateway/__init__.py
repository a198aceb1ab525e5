"""The REST gateway: a FastAPI app built by `create_app`."""
