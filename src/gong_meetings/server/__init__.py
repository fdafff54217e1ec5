"""The HTTP server: app factory, routes, auth, request ids and error mapping."""

from gong_meetings.server.app import create_app

__all__ = ["create_app"]
