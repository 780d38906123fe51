"""Alert peers for the tests: a real SMTP server (aiosmtpd) and a real HTTP endpoint.

* ``smtp_server`` — aiosmtpd on 127.0.0.1 (no TLS, no AUTH) keeping every envelope in
  ``smtp_server.mailbox``.
* ``hooks`` — a threading HTTP server answering by path: ``/ok`` 204, ``/fail`` 500,
  ``/redirect`` 302 to ``/ok``; every request in ``hooks.hits``.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- a real SMTP server ---------------------------------------------------------------


@dataclass
class Mailbox:
    """aiosmtpd handler: keeps every envelope it is given."""

    envelopes: list[Envelope] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(  # noqa: N802 - the name aiosmtpd calls
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def message(self, index: int = 0) -> EmailMessage:
        content = self.envelopes[index].content
        assert isinstance(content, bytes)
        content = content.replace(b"\r\n", b"\n")  # as it came over the wire: CRLF
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SmtpServer:
    mailbox: Mailbox
    port: int


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, server_hostname="smtp.test")
    controller.start()
    yield SmtpServer(mailbox, port)
    controller.stop()
    controller.loop.close()


# --- a real HTTP server ---------------------------------------------------------------


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes


class Hooks:
    """Answers by path: ``/ok`` 204, ``/fail`` 500, ``/redirect`` 302 to ``/ok``."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                hooks.hits.append(Hit(self.path, dict(self.headers.items()), body))
                path = self.path.partition("?")[0]
                if path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", "/ok")
                elif path == "/fail":
                    self.send_response(500)
                else:
                    self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    server = Hooks()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
    server.thread.join()
