"""Alerts to an app's contacts, against a real SMTP server (aiosmtpd) and a real HTTP server.

Also ``ftpush app set --alert-...`` and ``ftpush app test-alert`` through the real entry point.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from ftpush import __version__
from ftpush.config import Settings, SmtpSettings
from ftpush.pipeline.alerts import Alert, Alerter, AlertOutcome
from tests.integration.cli.conftest import Ftpush
from tests.peers.alert_peers import Hooks, Mailbox, SmtpServer, free_port

SENDER = "ftpush@alerts.example"


USER, PASSWORD = "alerts", "smtp-pa55-word-s3cret"
# The server below lets a login in without TLS on purpose (the test of smtp.starttls = false);
# aiosmtpd warns about exactly that when it starts.
plain_auth = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


@pytest.fixture
def smtp_auth_server() -> Iterator[SmtpServer]:
    mailbox = Mailbox()

    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        if (auth_data.login, auth_data.password) == (USER.encode(), PASSWORD.encode()):
            mailbox.logins.append(auth_data.login.decode())
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    port = free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        server_hostname="smtp.test",
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    yield SmtpServer(mailbox, port)
    controller.stop()
    controller.loop.close()


def with_smtp(settings: Settings, **values: Any) -> Settings:
    smtp = SmtpSettings(**{"sender": SENDER, "starttls": False, **values})
    return settings.model_copy(update={"smtp": smtp})


def failed_alert() -> Alert:
    return Alert(
        app_key="demo",
        subject="demo: nightly export of 2025-01-01 failed",
        text="The events report could not be delivered.\nLast error: auth: login refused.\n",
        data={"event": "export.failed", "run_id": 42, "reports": ["events"]},
    )


def notify(alerter: Alerter, emails: list[str], webhook: str | None, alert: Alert) -> list[Any]:
    return asyncio.run(alerter.notify(emails, webhook, alert))


# --- e-mail ---------------------------------------------------------------------------


def test_email_reaches_every_recipient_in_one_message(
    settings: Settings, smtp_server: SmtpServer
) -> None:
    alerter = Alerter(with_smtp(settings, host="127.0.0.1", port=smtp_server.port))
    recipients = ["ops@customer.example", "Oncall@Customer.EXAMPLE", "ops@customer.example"]
    outcomes = notify(alerter, recipients, None, failed_alert())
    target = "ops@customer.example, Oncall@customer.example"
    assert outcomes == [AlertOutcome("email", target, True, None)]
    assert len(smtp_server.mailbox.envelopes) == 1
    envelope = smtp_server.mailbox.envelopes[0]
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == ["ops@customer.example", "Oncall@customer.example"]
    message = smtp_server.mailbox.message()
    assert message["From"] == SENDER
    assert message["To"] == target
    assert message["Subject"] == "demo: nightly export of 2025-01-01 failed"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Ftpush-Event"] == "export.failed"
    assert message["Message-ID"].endswith("@alerts.example>")
    body = message.get_body(("plain",))
    assert body is not None
    assert body.get_content() == failed_alert().text


def test_a_non_ascii_subject_and_body_arrive_intact(
    settings: Settings, smtp_server: SmtpServer
) -> None:
    alerter = Alerter(with_smtp(settings, host="127.0.0.1", port=smtp_server.port))
    alert = Alert("demo", "İstanbul: dışa aktarım başarısız", "Rapor gönderilemedi: ğüşıöç €\n")
    assert notify(alerter, ["ops@customer.example"], None, alert)[0].ok
    message = smtp_server.mailbox.message()
    assert message["Subject"] == "İstanbul: dışa aktarım başarısız"
    body = message.get_body(("plain",))
    assert body is not None
    assert body.get_content() == "Rapor gönderilemedi: ğüşıöç €\n"


def test_header_injection_through_the_subject_is_neutralised(
    settings: Settings, smtp_server: SmtpServer
) -> None:
    alerter = Alerter(with_smtp(settings, host="127.0.0.1", port=smtp_server.port))
    hostile = Alert(
        "demo",
        "export failed\r\nBcc: victim@evil.example\r\n\r\nforged body\u2028X-Evil: 1\x00",
        "real body\n",
    )
    assert hostile.subject == "export failed Bcc: victim@evil.example forged body X-Evil: 1"
    outcomes = notify(alerter, ["ops@customer.example"], None, hostile)
    assert outcomes[0].ok, outcomes
    envelope = smtp_server.mailbox.envelopes[0]
    assert envelope.rcpt_tos == ["ops@customer.example"]
    message = smtp_server.mailbox.message()
    assert message["Bcc"] is None
    assert message["X-Evil"] is None
    assert message["Subject"] == hostile.subject
    body = message.get_body(("plain",))
    assert body is not None
    assert body.get_content() == "real body\n"


@plain_auth
def test_smtp_login_without_tls(settings: Settings, smtp_auth_server: SmtpServer) -> None:
    configured = with_smtp(
        settings,
        host="127.0.0.1",
        port=smtp_auth_server.port,
        username=USER,
        password=PASSWORD,
        starttls=False,
    )
    outcomes = notify(Alerter(configured), ["ops@customer.example"], None, failed_alert())
    assert outcomes == [AlertOutcome("email", "ops@customer.example", True, None)]
    assert smtp_auth_server.mailbox.logins == [USER]
    assert len(smtp_auth_server.mailbox.envelopes) == 1


@plain_auth
def test_a_wrong_smtp_password_is_a_clear_failure_that_never_shows_it(
    settings: Settings, smtp_auth_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-pa55-word-s3cret"
    configured = with_smtp(
        settings, host="127.0.0.1", port=smtp_auth_server.port, username=USER, password=wrong
    )
    [outcome] = notify(Alerter(configured), ["ops@customer.example"], None, failed_alert())
    assert not outcome.ok
    assert outcome.error is not None
    assert outcome.error.startswith("SMTP login as 'alerts' refused: 535")
    assert smtp_auth_server.mailbox.envelopes == []
    assert wrong not in outcome.error
    assert wrong not in caplog.text
    assert "not sent by email" in caplog.text


def test_login_is_refused_when_the_server_offers_no_auth_without_tls(
    settings: Settings, smtp_server: SmtpServer
) -> None:
    configured = with_smtp(
        settings, host="127.0.0.1", port=smtp_server.port, username=USER, password=PASSWORD
    )
    [outcome] = notify(Alerter(configured), ["ops@customer.example"], None, failed_alert())
    assert not outcome.ok
    assert outcome.error is not None
    assert "AUTH" in outcome.error
    assert PASSWORD not in outcome.error


def test_starttls_asked_for_but_not_offered(settings: Settings, smtp_server: SmtpServer) -> None:
    configured = with_smtp(settings, host="127.0.0.1", port=smtp_server.port, starttls=True)
    [outcome] = notify(Alerter(configured), ["ops@customer.example"], None, failed_alert())
    assert not outcome.ok
    assert outcome.error == (
        f"SMTP server 127.0.0.1:{smtp_server.port}: STARTTLS extension not supported by server."
    )
    assert smtp_server.mailbox.envelopes == []


def test_implicit_tls_against_a_plain_server_fails_cleanly(
    settings: Settings, smtp_server: SmtpServer
) -> None:
    configured = with_smtp(settings, host="127.0.0.1", port=smtp_server.port, ssl=True)
    [outcome] = notify(
        Alerter(configured, timeout=5), ["ops@customer.example"], None, failed_alert()
    )
    assert not outcome.ok
    assert outcome.error is not None
    assert f"127.0.0.1:{smtp_server.port}" in outcome.error
    assert smtp_server.mailbox.envelopes == []


def test_smtp_server_down(settings: Settings) -> None:
    port = free_port()  # nothing listens there any more
    configured = with_smtp(settings, host="127.0.0.1", port=port)
    [outcome] = notify(Alerter(configured), ["ops@customer.example"], None, failed_alert())
    assert outcome == AlertOutcome(
        "email",
        "ops@customer.example",
        False,
        f"cannot reach SMTP server 127.0.0.1:{port}: Connection refused",
    )


def test_no_smtp_host_means_no_email_but_the_webhook_still_goes(
    settings: Settings, hooks: Hooks
) -> None:
    assert settings.smtp.host is None
    outcomes = notify(Alerter(settings), ["ops@customer.example"], hooks.url("/ok"), failed_alert())
    assert outcomes == [
        AlertOutcome("email", "ops@customer.example", False, "smtp.host is not set"),
        AlertOutcome("webhook", hooks.url("/ok"), True, None),
    ]
    assert len(hooks.hits) == 1


def test_nothing_configured_sends_nothing(settings: Settings) -> None:
    assert notify(Alerter(with_smtp(settings, host="127.0.0.1")), [], None, failed_alert()) == []


def test_a_hostile_stored_address_is_refused_before_any_connection(
    settings: Settings, smtp_server: SmtpServer
) -> None:
    alerter = Alerter(with_smtp(settings, host="127.0.0.1", port=smtp_server.port))
    [outcome] = notify(
        alerter, ["ops@customer.example\r\nRCPT TO:<victim@evil.example>"], None, failed_alert()
    )
    assert not outcome.ok
    assert outcome.error is not None
    assert "not an e-mail address" in outcome.error
    assert smtp_server.mailbox.envelopes == []


# --- webhook --------------------------------------------------------------------------


def test_webhook_gets_the_json_document_with_its_headers(settings: Settings, hooks: Hooks) -> None:
    outcomes = notify(Alerter(settings), [], hooks.url("/ok"), failed_alert())
    assert outcomes == [AlertOutcome("webhook", hooks.url("/ok"), True, None)]
    [hit] = hooks.hits
    assert hit.path == "/ok"
    assert hit.headers["User-Agent"] == f"ftpush/{__version__}"
    assert hit.headers["Content-Type"] == "application/json"
    assert hit.headers["X-Ftpush-Event"] == "export.failed"
    assert "Authorization" not in hit.headers
    assert json.loads(hit.body) == {
        "event": "export.failed",
        "app": "demo",
        "subject": "demo: nightly export of 2025-01-01 failed",
        "text": failed_alert().text,
        "run_id": 42,
        "reports": ["events"],
    }


def test_email_and_webhook_together(
    settings: Settings, smtp_server: SmtpServer, hooks: Hooks
) -> None:
    alerter = Alerter(with_smtp(settings, host="127.0.0.1", port=smtp_server.port))
    outcomes = notify(alerter, ["ops@customer.example"], hooks.url("/ok"), failed_alert())
    assert [(o.channel, o.ok) for o in outcomes] == [("email", True), ("webhook", True)]
    assert len(smtp_server.mailbox.envelopes) == 1
    assert len(hooks.hits) == 1


def test_webhook_http_500_is_a_failure(settings: Settings, hooks: Hooks) -> None:
    outcomes = notify(Alerter(settings), [], hooks.url("/fail"), failed_alert())
    assert outcomes == [AlertOutcome("webhook", hooks.url("/fail"), False, "HTTP 500")]


def test_webhook_redirect_is_not_followed(settings: Settings, hooks: Hooks) -> None:
    [outcome] = notify(Alerter(settings), [], hooks.url("/redirect"), failed_alert())
    assert not outcome.ok
    assert outcome.error is not None
    assert outcome.error.startswith("HTTP 302")
    assert "not followed" in outcome.error
    assert [hit.path for hit in hooks.hits] == ["/redirect"]


def test_webhook_credentials_never_show(
    settings: Settings, hooks: Hooks, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx's and httpcore's included
    url = f"http://hook-user:pw-s3cret@127.0.0.1:{hooks.port}/fail?token=tok-s3cret&v=2"
    [outcome] = notify(Alerter(settings), [], url, failed_alert())
    assert outcome == AlertOutcome(
        "webhook", f"http://127.0.0.1:{hooks.port}/fail?token=***&v=***", False, "HTTP 500"
    )
    [hit] = hooks.hits
    assert hit.path == "/fail?token=tok-s3cret&v=2"
    login = base64.b64decode(hit.headers["Authorization"].removeprefix("Basic ")).decode()
    assert login == "hook-user:pw-s3cret"
    assert caplog.text  # the failure was logged...
    assert "s3cret" not in caplog.text  # ...without a secret
    assert "hook-user" not in caplog.text


def test_webhook_unreachable_error_shows_no_credentials(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    port = free_port()
    url = f"https://hook-user:pw-s3cret@127.0.0.1:{port}/x?token=tok-s3cret"
    [outcome] = notify(Alerter(settings), [], url, failed_alert())
    assert not outcome.ok
    assert outcome.target == f"https://127.0.0.1:{port}/x?token=***"
    assert outcome.error is not None
    assert outcome.error.startswith("cannot connect")
    assert "s3cret" not in outcome.error
    assert "s3cret" not in caplog.text


def test_webhook_https_to_a_plain_http_server_is_a_tls_failure(
    settings: Settings, hooks: Hooks
) -> None:
    url = f"https://127.0.0.1:{hooks.port}/ok"
    [outcome] = notify(Alerter(settings, timeout=5), [], url, failed_alert())
    assert not outcome.ok
    assert outcome.error is not None
    assert outcome.error.startswith("cannot connect: TLS failed")
    assert hooks.hits == []


def test_webhook_that_never_answers_times_out(settings: Settings) -> None:
    with socket.socket() as listener:  # accepts connections (backlog), never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/slow"
        [outcome] = notify(Alerter(settings, timeout=0.5), [], url, failed_alert())
    assert outcome == AlertOutcome("webhook", url, False, "no answer within 0.5 s")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/hook",
        "file:///etc/passwd",
        "http:///no-host",
        "http://127.0.0.1/a\r\nX-Injected: 1",
    ],
)
def test_webhook_url_that_is_not_http_is_refused(settings: Settings, url: str) -> None:
    [outcome] = notify(Alerter(settings), [], url, failed_alert())
    assert outcome.channel == "webhook"
    assert not outcome.ok
    assert outcome.error is not None
    assert "alert webhook URL" in outcome.error


# --- CLI: ftpush app set --alert-..., ftpush app test-alert -----------------------------


def cli_with_smtp(tmp_path: Path, port: int) -> Ftpush:
    data = tmp_path / "data"
    data.mkdir()
    (data / "ftpush.toml").write_text(
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nstarttls = false\nsender = "{SENDER}"\n',
        encoding="utf-8",
    )
    ftpush = Ftpush(data)
    ftpush("app", "create", "demo")
    return ftpush


def test_cli_sets_shows_and_clears_the_contacts(tmp_path: Path, hooks: Hooks) -> None:
    ftpush = cli_with_smtp(tmp_path, free_port())
    shown = ftpush("app", "show", "demo", "--json").json()
    assert (shown["alert_emails"], shown["alert_webhook_url"]) == ([], None)
    secret_url = f"http://hook-user:pw-s3cret@127.0.0.1:{hooks.port}/ok?token=tok-s3cret"
    data = ftpush(
        "app", "set", "demo", "--alert-email", "ops@Customer.example",
        "--alert-email", "oncall@customer.example", "--alert-email", "OPS@customer.example",
        "--alert-webhook", secret_url, "--json",
    ).json()  # fmt: skip
    assert data["alert_emails"] == ["ops@customer.example", "oncall@customer.example"]
    assert data["alert_webhook_url"] == f"http://127.0.0.1:{hooks.port}/ok?token=***"
    text = ftpush("app", "show", "demo").out
    assert "ops@customer.example, oncall@customer.example" in text
    assert "s3cret" not in text + json.dumps(ftpush("app", "list", "--json").json())
    # Other changes leave the contacts alone; each contact can be cleared on its own.
    data = ftpush("app", "set", "demo", "--name", "Demo shop", "--json").json()
    assert data["alert_emails"] == ["ops@customer.example", "oncall@customer.example"]
    assert data["alert_webhook_url"] is not None
    data = ftpush("app", "set", "demo", "--no-alert-emails", "--json").json()
    assert (data["alert_emails"], data["alert_webhook_url"] is not None) == ([], True)
    data = ftpush("app", "set", "demo", "--no-alert-webhook", "--json").json()
    assert (data["alert_emails"], data["alert_webhook_url"]) == ([], None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--alert-email", "ops@customer.example\r\nBcc: victim@evil.example"), "not an e-mail"),
        (("--alert-email", "ops@customer.example, x@evil.example"), "not an e-mail"),
        (("--alert-webhook", "ftp://hooks.example/x"), "http:// or https://"),
        (("--alert-webhook", "http://hooks.example/a\nb"), "control characters"),
        (tuple(a for i in range(21) for a in ("--alert-email", f"o{i}@x.example")), "at most 20"),
    ],
)
def test_cli_refuses_bad_contacts(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    ftpush = cli_with_smtp(tmp_path, free_port())
    ftpush("app", "set", "demo", "--alert-email", "ops@customer.example")
    assert message in ftpush.fails("app", "set", "demo", *args).err
    assert ftpush("app", "show", "demo", "--json").json()["alert_emails"] == [
        "ops@customer.example"
    ]


def test_cli_refuses_setting_and_clearing_at_once(tmp_path: Path) -> None:
    ftpush = cli_with_smtp(tmp_path, free_port())
    run = ftpush.fails("app", "set", "demo", "--alert-email", "a@x.example", "--no-alert-emails")
    assert run.code == 2
    run = ftpush.fails(
        "app", "set", "demo", "--alert-webhook", "https://x.example/", "--no-alert-webhook"
    )
    assert run.code == 2


def test_cli_test_alert_reaches_every_contact(
    tmp_path: Path, smtp_server: SmtpServer, hooks: Hooks
) -> None:
    ftpush = cli_with_smtp(tmp_path, smtp_server.port)
    ftpush(
        "app", "set", "demo", "--alert-email", "ops@customer.example",
        "--alert-webhook", f"http://127.0.0.1:{hooks.port}/ok?token=tok-s3cret",
    )  # fmt: skip
    out = ftpush("app", "test-alert", "demo").out
    assert out.splitlines() == [
        "email    ops@customer.example: sent",
        f"webhook  http://127.0.0.1:{hooks.port}/ok?token=***: sent",
    ]
    message = smtp_server.mailbox.message()
    assert message["Subject"] == "ftpush: test alert for app demo"
    assert message["To"] == "ops@customer.example"
    [hit] = hooks.hits
    assert hit.path == "/ok?token=tok-s3cret"
    assert hit.headers["X-Ftpush-Event"] == "alert.test"
    assert json.loads(hit.body)["subject"] == "ftpush: test alert for app demo"


def test_cli_test_alert_exits_1_when_a_contact_fails(
    tmp_path: Path, smtp_server: SmtpServer, hooks: Hooks
) -> None:
    ftpush = cli_with_smtp(tmp_path, smtp_server.port)
    ftpush(
        "app", "set", "demo", "--alert-email", "ops@customer.example",
        "--alert-webhook", hooks.url("/fail"),
    )  # fmt: skip
    run = ftpush.fails("app", "test-alert", "demo", "--json")
    assert run.code == 1
    assert run.json() == [
        {"channel": "email", "target": "ops@customer.example", "ok": True, "error": None},
        {"channel": "webhook", "target": hooks.url("/fail"), "ok": False, "error": "HTTP 500"},
    ]
    assert len(smtp_server.mailbox.envelopes) == 1
    text = ftpush.fails("app", "test-alert", "demo").out
    assert f"webhook  {hooks.url('/fail')}: FAILED: HTTP 500" in text


def test_cli_test_alert_without_contacts_or_smtp(tmp_path: Path) -> None:
    ftpush = Ftpush(tmp_path / "data")
    ftpush("app", "create", "demo")
    assert "has no alert contacts" in ftpush.fails("app", "test-alert", "demo").err
    assert "does not exist" in ftpush.fails("app", "test-alert", "nosuch").err
    ftpush("app", "set", "demo", "--alert-email", "ops@customer.example")
    run = ftpush.fails("app", "test-alert", "demo")
    assert run.code == 1
    assert "FAILED: smtp.host is not set" in run.out
