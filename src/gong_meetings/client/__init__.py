"""The Python SDK: `Client` and `AsyncClient`, sharing `core` for everything but I/O."""
