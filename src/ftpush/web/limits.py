"""Request size limits, enforced while the body streams in (pure ASGI middleware).

JSON requests are capped at ``web.max_json_bytes``; uploads (``multipart/form-data``,
``POST /api/v1/imports``) at the intake's ``max_file_bytes`` plus a little for the form.
A body over the limit gets 413 as soon as the limit is crossed — never buffered whole.
"""

from __future__ import annotations

import contextlib
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

FORM_OVERHEAD = 64 * 1024


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp, *, json_bytes: int, upload_bytes: int) -> None:
        self.app = app
        self.json_bytes = json_bytes
        self.upload_bytes = upload_bytes + FORM_OVERHEAD

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        limit = self.upload_bytes if content_type.startswith("multipart/") else self.json_bytes
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        seen = 0
        exceeded = False
        answered = False

        async def limited() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def watch(message: Message) -> None:
            # Whatever the app answers once the body went over the limit (a parse
            # error, typically) is replaced by the 413.
            nonlocal answered
            if answered:
                return
            if exceeded and message["type"] == "http.response.start":
                answered = True
                await _too_large(send, limit)
                return
            await send(message)

        with contextlib.suppress(BodyTooLarge):  # the app did not catch it: answer below
            await self.app(scope, limited, watch)
        if exceeded and not answered:
            await _too_large(send, limit)


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        {
            "type": "https://ftpush.dev/problems/too-large",
            "title": "Request too large",
            "status": 413,
            "detail": f"the request body is larger than {limit} bytes",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
