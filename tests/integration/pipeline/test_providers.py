"""Per-app push providers: stored encrypted, checked before saving, used by the dispatcher."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from ftpush.crypto import SecretBox
from ftpush.errors import InvalidInput, NotFound
from ftpush.models import MessageStatus, Platform
from ftpush.pipeline.dispatch import Dispatcher
from ftpush.pipeline.providers import StoredProviders, configure_provider, describe_providers
from ftpush.push.apns import ApnsProvider
from ftpush.push.log import LogProvider
from ftpush.storage import push_providers
from ftpush.storage.apps import get_app
from ftpush.storage.tables import Message, PushProviderConfig
from tests.integration.intake.conftest import Intake
from tests.integration.pipeline.test_dispatch import campaign_from_file
from tests.peers.push_peer import PushPeer


def box(intake: Intake) -> SecretBox:
    return SecretBox.from_keys_dir(intake.settings.keys_dir)


def app_id(intake: Intake, key: str = "alpha") -> int:
    with intake.db.transaction() as s:
        return get_app(s, key).id


def test_settings_are_encrypted_and_shown_masked(intake: Intake) -> None:
    shown = configure_provider(
        intake.db, box(intake), "alpha", "any", "webhook",
        {"url": "https://hooks.example/push", "secret": "hush-hush-123"},
    )  # fmt: skip
    assert shown == {
        "platform": "any", "kind": "webhook", "url": "https://hooks.example/push",
        "secret": "(set)",
    }  # fmt: skip
    with intake.db.transaction() as s:
        raw = s.scalar(select(PushProviderConfig.config_encrypted))
    assert raw is not None
    assert b"hush-hush" not in raw
    assert b"hooks.example" not in raw
    [row] = describe_providers(intake.db, box(intake), "alpha")
    assert row["secret"] == "(set)"
    assert "hush" not in repr(row)


@pytest.mark.parametrize(
    ("kind", "config", "field"),
    [
        ("apns", {"key_id": "ABC123DEFG"}, "team_id"),
        ("webhook", {"url": "https://x.example", "timeout": "soon"}, "timeout"),
        ("webhook", {"url": "https://x.example", "colour": "red"}, "colour"),
        ("pigeon", {}, "provider"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(
    intake: Intake, kind: str, config: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        configure_provider(intake.db, box(intake), "alpha", "ios", kind, config)
    assert caught.value.field == field
    assert describe_providers(intake.db, box(intake), "alpha") == []


def test_platform_is_checked_and_removal_needs_a_provider(intake: Intake) -> None:
    with pytest.raises(InvalidInput):
        configure_provider(intake.db, box(intake), "alpha", "windows", "log", {})
    with intake.db.transaction() as s, pytest.raises(NotFound):
        push_providers.delete_provider(s, "alpha", "ios")


def test_resolution_prefers_the_platform_then_any_then_the_default(intake: Intake) -> None:
    resolver = StoredProviders(intake.settings, intake.db, box(intake))
    alpha = app_id(intake)
    assert isinstance(resolver(alpha, Platform.IOS), LogProvider)  # the default
    configure_provider(
        intake.db, box(intake), "alpha", "any", "webhook", {"url": "https://a.example"}
    )
    configure_provider(intake.db, box(intake), "alpha", "ios", "log", {})
    fresh = StoredProviders(intake.settings, intake.db, box(intake))
    assert fresh(alpha, Platform.IOS).name == "log"
    assert fresh(alpha, Platform.ANDROID).name == "webhook"
    assert fresh(alpha, Platform.ANDROID) is fresh(alpha, Platform.ANDROID)  # built once
    # the other app is untouched
    assert isinstance(fresh(app_id(intake, "beta"), Platform.ANDROID), LogProvider)
    # the first resolver still has its cached (empty) settings until the refresh interval
    assert isinstance(resolver(alpha, Platform.ANDROID), LogProvider)


def test_changed_settings_are_picked_up_after_the_refresh_interval(intake: Intake) -> None:
    now = [0.0]
    resolver = StoredProviders(intake.settings, intake.db, box(intake), clock=lambda: now[0])
    alpha = app_id(intake)
    assert resolver(alpha, Platform.IOS) is not None
    configure_provider(
        intake.db, box(intake), "alpha", "ios", "webhook", {"url": "https://b.example"}
    )
    assert resolver(alpha, Platform.IOS).name == "log"  # type: ignore[union-attr]
    now[0] += intake.settings.push.settings_refresh_seconds + 1
    assert resolver(alpha, Platform.IOS).name == "webhook"  # type: ignore[union-attr]


def test_default_none_fails_messages_of_apps_without_a_provider(intake: Intake) -> None:
    settings = intake.settings.model_copy(
        update={"push": intake.settings.push.model_copy(update={"default_provider": "none"})}
    )
    resolver = StoredProviders(settings, intake.db, box(intake))
    assert resolver(app_id(intake), Platform.IOS) is None


def test_a_campaign_goes_out_through_the_apps_stored_apns_and_fcm(
    intake: Intake, push_peer: PushPeer
) -> None:
    push_peer.reset()
    configure_provider(intake.db, box(intake), "alpha", "ios", "apns", push_peer.apns_settings())
    configure_provider(intake.db, box(intake), "alpha", "android", "fcm", push_peer.fcm_settings())
    settings = intake.settings.model_copy(
        update={"push": intake.settings.push.model_copy(update={"ca_file": push_peer.ca_file})}
    )
    campaign_id = campaign_from_file(intake)
    resolver = StoredProviders(settings, intake.db, box(intake))

    async def run() -> None:
        try:
            await Dispatcher(settings, intake.db, resolver).run_campaign(campaign_id)
        finally:
            await resolver.aclose()

    asyncio.run(run())
    with intake.db.transaction() as s:
        rows = s.execute(select(Message.status, Message.provider)).all()
    assert sorted(rows) == [(MessageStatus.SENT, "apns"), *[(MessageStatus.SENT, "fcm")] * 2]
    delivered = push_peer.deliveries()
    assert (len(delivered), set(delivered.values())) == (3, {1})


def test_apns_provider_is_built_with_the_configured_ca(intake: Intake, push_peer: PushPeer) -> None:
    configure_provider(intake.db, box(intake), "alpha", "ios", "apns", push_peer.apns_settings())
    settings = intake.settings.model_copy(
        update={"push": intake.settings.push.model_copy(update={"ca_file": push_peer.ca_file})}
    )
    provider = StoredProviders(settings, intake.db, box(intake))(app_id(intake), Platform.IOS)
    assert isinstance(provider, ApnsProvider)
