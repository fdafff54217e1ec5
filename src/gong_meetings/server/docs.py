"""The served contract and an interactive API page whose assets come from an installed package."""

from functools import cache
from importlib.resources import files

import msgspec
import yaml
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from gong_meetings.server.responses import JSON

DOCS_ASSETS_PATH = "/docs/assets"

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>gong-meetings API</title>
  <link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{assets}/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({{url: "/openapi.json", dom_id: "#swagger-ui"}});
  </script>
</body>
</html>
"""


def load_served_contract() -> dict[str, object]:
    """The seed contract with this server's documented additions."""
    text = (files("gong_meetings.contract") / "openapi.yaml").read_text("utf-8")
    # libyaml's parser when PyYAML has it: the pure-Python one takes a quarter of a second.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    document: dict[str, object] = yaml.load(text, Loader=loader)  # noqa: S506 (a safe loader)
    return document


@cache
def served_contract_json() -> bytes:
    """The served contract as JSON, parsed once per process: every app built shares it."""
    return msgspec.json.encode(load_served_contract())


class ContractRoutes:
    def __init__(self) -> None:
        self._openapi = served_contract_json()
        self._page = _PAGE.format(assets=DOCS_ASSETS_PATH)

    async def openapi(self, request: Request) -> Response:
        """GET /openapi.json: the contract this server implements."""
        return Response(self._openapi, media_type=JSON)

    async def docs(self, request: Request) -> Response:
        """GET /docs: interactive API documentation that works offline."""
        return HTMLResponse(self._page)


def docs_assets() -> StaticFiles:
    """Swagger UI's files, served from the installed swagger-ui-py package."""
    return StaticFiles(directory=str(files("swagger_ui") / "static"))
