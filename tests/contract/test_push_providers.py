"""One contract for every push provider: log, webhook, APNs and FCM.

The network providers run against the Node push peer (``tests/peers/push_peer.js``)
over TLS on loopback — the webhook both over HTTPS (HTTP/2) and plain HTTP/1.1.
The peer counts deliveries per message key (``apns-collapse-id``, Android tag,
webhook ``key``), so "exactly once" is checked by the receiver, not by the client.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from ftpush.models import Platform
from ftpush.push import Outcome, OutcomeKind, Provider, PushMessage, make_provider
from ftpush.push.apns import ApnsProvider
from ftpush.push.fcm import FcmProvider
from ftpush.push.log import LogProvider
from tests.peers._common import free_port
from tests.peers.push_peer import PushPeer, running_push_peer

NETWORK = ["webhook-h2", "webhook-http", "apns", "fcm"]
IMPLS = ["log", *NETWORK]
H2 = ["apns", "fcm"]

S, DEAD, RETRY, FAIL = (
    OutcomeKind.SENT,
    OutcomeKind.INVALID_TOKEN,
    OutcomeKind.RETRY,
    OutcomeKind.FAILED,
)


class Clock:
    """An injected wall clock (unix seconds) that tests move by hand."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@dataclass
class Impl:
    name: str
    peer: PushPeer

    def settings(self, **overrides: Any) -> dict[str, Any]:
        if self.name == "apns":
            return self.peer.apns_settings(**overrides)
        if self.name == "fcm":
            return self.peer.fcm_settings(**overrides)
        if self.name.startswith("webhook"):
            return self.peer.webhook_settings(tls=self.name == "webhook-h2", **overrides)
        return dict(overrides)

    @property
    def kind(self) -> str:
        return self.name.split("-")[0]

    def make(self, clock: Callable[[], float] | None = None, **overrides: Any) -> Provider:
        return make_provider(
            self.kind, self.settings(**overrides), verify=self.peer.ca_file, clock=clock
        )

    def pointed_at(self, url: str, **overrides: Any) -> Provider:
        """The provider aimed at ``url`` instead of the peer (closed ports, other peers)."""
        settings = self.settings(**overrides)
        if self.kind == "webhook":
            scheme = "https" if self.name == "webhook-h2" else "http"
            settings["url"] = url.replace("https", scheme) + "/webhook"
        else:
            settings["endpoint"] = url
        return make_provider(self.kind, settings, verify=self.peer.ca_file)


@pytest.fixture
def peer(push_peer: PushPeer) -> Iterator[PushPeer]:
    """The session's peer, reset; a test's requests must all be well-formed."""
    push_peer.reset()
    yield push_peer
    assert push_peer.stats()["errors"] == []


@pytest.fixture(params=IMPLS)
def impl(request: pytest.FixtureRequest, peer: PushPeer) -> Impl:
    return Impl(str(request.param), peer)


@pytest.fixture(params=NETWORK)
def net(request: pytest.FixtureRequest, peer: PushPeer) -> Impl:
    return Impl(str(request.param), peer)


@pytest.fixture(params=H2)
def h2impl(request: pytest.FixtureRequest, peer: PushPeer) -> Impl:
    return Impl(str(request.param), peer)


def messages(tokens: Sequence[str], campaign: str = "c1", start: int = 1) -> list[PushMessage]:
    return [
        PushMessage(
            message_id=start + i,
            key=f"{campaign}:{start + i}:{i % 7}",
            token=token,
            platform=Platform.IOS if i % 2 else Platform.ANDROID,
            text=f"Hello {i}\nwith a line break; and ünïcode",
            deeplink=f"myapp://offer/{i}" if i % 3 else None,
            campaign=campaign,
            expiration=1_900_000_000 if i % 4 == 0 else None,
        )
        for i, token in enumerate(tokens)
    ]


def send(provider: Provider, batch: Sequence[PushMessage], *, close: bool = True) -> list[Outcome]:
    async def go() -> list[Outcome]:
        try:
            return await provider.send(batch)
        finally:
            if close:
                await provider.aclose()

    return asyncio.run(go())


def assert_once(peer: PushPeer, batch: Sequence[PushMessage]) -> None:
    keys = peer.deliveries()
    assert {m.key: keys.get(m.key) for m in batch} == {m.key: 1 for m in batch}
    assert peer.stats()["duplicates"] == 0


# -- every provider ------------------------------------------------------------------


def test_success_gives_one_outcome_per_message_in_order_with_ids(impl: Impl) -> None:
    batch = messages([f"ok{i}" for i in range(40)])
    outcomes = send(impl.make(), batch)
    assert [o.message_id for o in outcomes] == [m.message_id for m in batch]
    assert {o.kind for o in outcomes} == {S}
    assert all(o.provider_message_id for o in outcomes)
    assert len({o.provider_message_id for o in outcomes}) == len(batch)
    if impl.name != "log":
        assert_once(impl.peer, batch)


def test_empty_batch(impl: Impl) -> None:
    assert send(impl.make(), []) == []


def test_provider_is_reused_across_batches(impl: Impl) -> None:
    provider = impl.make()

    async def go() -> list[list[Outcome]]:
        try:
            return [await provider.send(messages([f"ok{i}"], start=i)) for i in range(1, 4)]
        finally:
            await provider.aclose()

    assert [[o.kind for o in batch] for batch in asyncio.run(go())] == [[S], [S], [S]]
    if impl.name in H2:
        assert impl.peer.stats()["sessions"] == 1


# What each network provider answers per peer behaviour: (kind, reason).
EXPECTED: dict[str, dict[str, tuple[OutcomeKind, str | None]]] = {
    "apns": {
        "dead": (DEAD, "Unregistered"),
        "bad": (DEAD, "BadDeviceToken"),
        "topic": (DEAD, "DeviceTokenNotForTopic"),
        "throttle": (RETRY, "TooManyRequests"),
        "boom": (RETRY, "InternalServerError"),
        "fail": (FAIL, "TopicDisallowed"),
    },
    "fcm": {
        "dead": (DEAD, "UNREGISTERED"),
        "bad": (DEAD, "INVALID_ARGUMENT"),
        "topic": (DEAD, "SENDER_ID_MISMATCH"),
        "throttle": (RETRY, "QUOTA_EXCEEDED"),
        "boom": (RETRY, "INTERNAL"),
        "fail": (FAIL, "INVALID_ARGUMENT"),
    },
    "webhook": {
        "dead": (DEAD, "HTTP 410"),
        "bad": (FAIL, "HTTP 400"),
        "topic": (FAIL, "HTTP 400"),
        "throttle": (RETRY, "HTTP 429"),
        "boom": (RETRY, "HTTP 500"),
        "fail": (FAIL, "HTTP 422"),
    },
}


@pytest.mark.parametrize("behaviour", ["dead", "bad", "topic", "throttle", "boom", "fail"])
def test_refusals_are_classified(net: Impl, behaviour: str) -> None:
    batch = messages(["ok-a", f"{behaviour}-1", "ok-b"])
    outcomes = send(net.make(), batch)
    assert [o.kind for o in outcomes][::2] == [S, S]
    kind, reason = EXPECTED[net.kind][behaviour]
    refused = outcomes[1]
    assert (refused.kind, refused.reason) == (kind, reason)
    assert refused.retry_after == (1.0 if behaviour == "throttle" else None)


@pytest.mark.parametrize("behaviour", ["throttle", "boom"])
def test_retry_then_delivered_once(net: Impl, behaviour: str) -> None:
    batch = messages([f"{behaviour}-{i}" for i in range(5)])
    provider = net.make()

    async def go() -> tuple[list[Outcome], list[Outcome]]:
        try:
            return await provider.send(batch), await provider.send(batch)
        finally:
            await provider.aclose()

    first, second = asyncio.run(go())
    assert {o.kind for o in first} == {RETRY}
    assert {o.kind for o in second} == {S}
    assert_once(net.peer, batch)


def test_connection_refused_gives_retry_outcomes_quickly(net: Impl) -> None:
    provider = net.pointed_at(f"https://127.0.0.1:{free_port()}")
    batch = messages([f"ok{i}" for i in range(300)])
    loop_time = asyncio.run(_timed(provider, batch))
    outcomes, elapsed = loop_time
    assert [o.kind for o in outcomes] == [RETRY] * len(batch)
    assert all(o.reason for o in outcomes)
    assert elapsed < 5  # one failed connect, then the rest fail fast


async def _timed(provider: Provider, batch: Sequence[PushMessage]) -> tuple[list[Outcome], float]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        outcomes = await provider.send(batch)
    finally:
        await provider.aclose()
    return outcomes, loop.time() - start


def test_request_timeout_gives_retry_and_the_rest_goes_through(net: Impl) -> None:
    net.peer.configure(slowMs=4000)
    timeout = {"timeout": 1.0} if net.kind == "webhook" else {"request_timeout": 1.0}
    provider = net.make(**timeout)

    async def go() -> tuple[list[Outcome], list[Outcome]]:
        try:
            first = await provider.send(messages(["ok1", "slow-1", "ok2"]))
            return first, await provider.send(messages(["ok3"], start=10))
        finally:
            await provider.aclose()

    first, after = asyncio.run(go())
    assert [(o.kind, o.reason) for o in first] == [(S, None), (RETRY, "timeout"), (S, None)]
    assert [o.kind for o in after] == [S]


def test_provider_moves_to_a_new_event_loop_after_aclose(impl: Impl) -> None:
    provider = impl.make()
    first = send(provider, messages(["ok1"], start=1))
    second = send(provider, messages(["ok2"], start=2))
    assert [o.kind for o in first + second] == [S, S]


def test_provider_refuses_a_second_event_loop_while_connected(net: Impl) -> None:
    provider = net.make()
    home, other = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        assert [o.kind for o in home.run_until_complete(provider.send(messages(["ok"])))] == [S]
        with pytest.raises(RuntimeError, match="another event loop"):
            other.run_until_complete(provider.send(messages(["ok"], start=2)))
    finally:
        home.run_until_complete(provider.aclose())
        home.close()
        other.close()


# -- HTTP/2 providers: streams, GOAWAY, credentials ------------------------------------


def test_waiting_for_a_stream_is_bounded_by_the_request_timeout(h2impl: Impl) -> None:
    h2impl.peer.configure(maxConcurrentStreams=1, slowMs=1500)
    outcomes = send(h2impl.make(request_timeout=0.4), messages(["slow-1", "ok1", "ok2"]))
    # The first waits for its answer, the others for a stream: all give up in time.
    assert [(o.kind, o.reason) for o in outcomes] == [(RETRY, "timeout")] * 3


def test_goaway_mid_batch_resends_only_unprocessed_streams(h2impl: Impl) -> None:
    peer = h2impl.peer
    peer.configure(goawayAfter=120, latencyMs=15)
    batch = messages([f"ok{i}" for i in range(400)])
    provider = h2impl.make()
    outcomes = send(provider, batch)
    assert Counter(o.kind for o in outcomes) == {S: len(batch)}
    stats = peer.stats()
    assert stats["goaways"] >= 3
    assert stats["deliveries"] == len(batch)
    assert_once(peer, batch)


def test_max_concurrent_streams_of_one_is_obeyed(h2impl: Impl) -> None:
    peer = h2impl.peer
    peer.configure(maxConcurrentStreams=1, latencyMs=2)
    batch = messages([f"ok{i}" for i in range(40)])
    outcomes = send(h2impl.make(), batch)
    assert {o.kind for o in outcomes} == {S}
    assert peer.stats()["maxInFlight"] == 1
    assert_once(peer, batch)


def test_several_connections_share_the_load(h2impl: Impl) -> None:
    peer = h2impl.peer
    # Answers slow enough that every connection fills up even on a loaded CI machine.
    peer.configure(maxConcurrentStreams=10, latencyMs=150)
    batch = messages([f"ok{i}" for i in range(200)])
    outcomes = send(h2impl.make(connections=3), batch)
    assert {o.kind for o in outcomes} == {S}
    stats = peer.stats()
    assert (stats["sessions"], stats["maxInFlight"]) == (3, 10)
    assert_once(peer, batch)


def test_peer_dying_mid_batch_gives_outcomes_not_exceptions(tmp_path: Any) -> None:
    with running_push_peer(tmp_path, latencyMs=2000) as doomed:
        provider = make_provider("apns", doomed.apns_settings(), verify=doomed.ca_file)

        async def go() -> list[Outcome]:
            task = asyncio.create_task(provider.send(messages([f"ok{i}" for i in range(50)])))
            for _ in range(200):  # until the peer holds all 50 (it answers after 2 s)
                await asyncio.sleep(0.01)
                if (await asyncio.to_thread(doomed.stats))["requests"] == 50:
                    break
            doomed.proc.kill()
            try:
                return await task
            finally:
                await provider.aclose()

        outcomes = asyncio.run(go())
    assert [o.kind for o in outcomes] == [RETRY] * 50
    assert all("connection lost" in (o.reason or "") for o in outcomes)


def test_apns_provider_token_is_signed_anew_after_the_refresh_interval(peer: PushPeer) -> None:
    clock = Clock()
    provider = Impl("apns", peer).make(clock=clock, token_refresh=40 * 60)
    assert isinstance(provider, ApnsProvider)

    async def go() -> list[OutcomeKind]:
        kinds = []
        try:
            for step, advance in enumerate([0, 10 * 60, 29 * 60, 2 * 60]):
                clock.now += advance
                batch = messages(["ok"], start=step + 1)
                kinds += [o.kind for o in await provider.send(batch)]
        finally:
            await provider.aclose()
        return kinds

    assert asyncio.run(go()) == [S] * 4
    stats = peer.stats()
    start = int(Clock().now)
    assert stats["jwtIssuedAt"] == [start, start + 41 * 60]  # iat from the injected clock
    assert provider.token.signed == 2


def test_fcm_access_token_is_fetched_again_near_expiry(peer: PushPeer) -> None:
    peer.configure(tokenExpiresIn=3600)
    clock = Clock()
    provider = Impl("fcm", peer).make(clock=clock)
    assert isinstance(provider, FcmProvider)

    async def go() -> list[tuple[OutcomeKind, int]]:
        seen = []
        try:
            for step, advance in enumerate([0, 1000, 2200, 200, 200]):
                clock.now += advance
                outcomes = await provider.send(messages(["ok"], start=step + 1))
                seen += [(o.kind, provider.token.fetched) for o in outcomes]
        finally:
            await provider.aclose()
        return seen

    # A one-hour token is used until 5 minutes before it ends (3300 s), then renewed.
    assert asyncio.run(go()) == [(S, 1), (S, 1), (S, 1), (S, 2), (S, 2)]
    assert peer.stats()["accessTokensIssued"] == 2


def test_fcm_unauthenticated_drops_the_token_and_the_retry_succeeds(peer: PushPeer) -> None:
    provider = Impl("fcm", peer).make()

    async def go() -> tuple[list[Outcome], list[Outcome]]:
        try:
            await provider.send(messages(["ok"], start=1))
            peer.reset()  # the peer forgets every token it issued
            first = await provider.send(messages(["ok"], start=2))
            return first, await provider.send(messages(["ok"], start=3))
        finally:
            await provider.aclose()

    first, second = asyncio.run(go())
    assert [(o.kind, o.reason) for o in first] == [(RETRY, "UNAUTHENTICATED")]
    assert [o.kind for o in second] == [S]


def test_fcm_refused_credentials_fail_every_message_after_one_token_request(
    peer: PushPeer,
) -> None:
    sa = json.loads(peer.service_account("revoked@ftpush-peer.iam.example"))
    settings = {"service_account_json": sa, "endpoint": peer.url}
    provider = make_provider("fcm", settings, verify=peer.ca_file)
    outcomes = send(provider, messages([f"ok{i}" for i in range(20)]))
    assert {o.kind for o in outcomes} == {FAIL}
    assert all("invalid_grant" in (o.reason or "") for o in outcomes)
    assert peer.stats()["token"] == 1


def test_fcm_unreachable_token_endpoint_gives_retry(peer: PushPeer) -> None:
    sa = json.loads(peer.service_account())
    sa["token_uri"] = f"https://127.0.0.1:{free_port()}/token"
    provider = make_provider(
        "fcm", {"service_account_json": sa, "endpoint": peer.url}, verify=peer.ca_file
    )
    outcomes = send(provider, messages([f"ok{i}" for i in range(20)]))
    assert {o.kind for o in outcomes} == {RETRY}
    assert all((o.reason or "").startswith("access token:") for o in outcomes)
    assert peer.stats()["fcm"] == 0


# -- webhook and log specifics ---------------------------------------------------------


@pytest.mark.parametrize("name", ["webhook-h2", "webhook-http"])
def test_webhook_signature_is_checked_by_the_receiver(peer: PushPeer, name: str) -> None:
    peer.configure(webhookSecret="s3cret")
    good = send(Impl(name, peer).make(secret="s3cret"), messages(["ok1"]))
    assert [o.kind for o in good] == [S]
    bad = send(Impl(name, peer).make(secret="wrong"), messages(["ok2"], start=5))
    assert [(o.kind, o.reason) for o in bad] == [(FAIL, "HTTP 401")]
    assert peer.stats()["errors"] == ["webhook: bad signature"]
    peer.reset()  # that refusal was the point of the test


def test_log_provider_records_and_counts() -> None:
    provider = LogProvider(record=True)
    batch = messages(["a", "b", "c"])
    outcomes = send(provider, batch)
    assert [o.provider_message_id for o in outcomes] == ["log-1", "log-2", "log-3"]
    assert (provider.sent, provider.batches, provider.closed) == (3, 1, True)
    assert provider.messages == batch
    assert provider.by_platform == {"android": 2, "ios": 1}
