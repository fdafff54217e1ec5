"""The ceiling for bench/run: a raw ASGI app that reads the request body and answers a fixed
201 JSON body of the given size, served by uvicorn exactly as `gong-meetings serve` serves.

    python bench/ceiling.py --port 8001 --body-bytes 640
"""

import argparse
from typing import Any

import uvicorn

from gong_meetings.cli import server_options
from gong_meetings.config import Settings


def ceiling_app(body: bytes) -> Any:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        more_body = True
        while more_body:
            more_body = (await receive()).get("more_body", False)
        await send({"type": "http.response.start", "status": 201, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body-bytes", type=int, required=True)
    args = parser.parse_args()
    filler = "x" * max(0, args.body_bytes - len('{"requestId":"","meetingId":"1"}'))
    body = f'{{"requestId":"{filler}","meetingId":"1"}}'.encode()
    settings = Settings.from_env(port=args.port)
    uvicorn.run(ceiling_app(body), **server_options(settings))


if __name__ == "__main__":
    main()
