"""gong-meetings: a self-hostable, stateful implementation of the Gong Meetings API v2."""

__all__ = ["__version__"]

__version__ = "0.1.0"
