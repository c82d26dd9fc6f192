"""A brand's webhook endpoints (``domain.webhooks``), the signature, the retry schedule and
the private ranges: pure rules, no store, no network."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st

from chainon.domain.errors import InvalidInput, NotFound
from chainon.domain.webhooks import EVENT_TYPES, ROTATION_OVERLAP, WebhookEndpoints, checked_url
from chainon.webhooks.delivery import JITTER, SCHEDULE, next_delay
from chainon.webhooks.payloads import SOURCES
from chainon.webhooks.sealing import SecretBox, WrongKey
from chainon.webhooks.signing import headers
from chainon.webhooks.ssrf import Pinned, Refused, Resolve, forbidden, pinned

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef01234567").decode()


def endpoints() -> WebhookEndpoints:
    return WebhookEndpoints.open(uuid4(), at=AT)


def test_a_rotated_secret_signs_beside_the_new_one_for_24_hours() -> None:
    held = endpoints()
    e = held.add(uuid4(), "https://shop.example", ["message.received"], "", SECRET, at=AT)
    held.rotate(e.id, "whsec_new", at=AT)
    assert e.secrets(AT + ROTATION_OVERLAP - timedelta(seconds=1)) == ["whsec_new", SECRET]
    assert e.secrets(AT + ROTATION_OVERLAP) == ["whsec_new"]


def test_unknown_event_types_ids_and_schemes_are_refused_naming_the_field() -> None:
    held = endpoints()
    with pytest.raises(InvalidInput) as unknown:
        held.add(uuid4(), "https://shop.example", ["sms.sent"], "", SECRET, at=AT)
    assert unknown.value.field == "events"
    with pytest.raises(NotFound):
        held.rotate(uuid4(), "whsec_x", at=AT)
    with pytest.raises(InvalidInput) as plain:
        checked_url("http://shop.example", allow_private=False)
    assert plain.value.field == "url"
    assert checked_url("http://127.0.0.1:8080/x", allow_private=True)


def test_every_event_type_an_endpoint_may_ask_for_is_made_from_some_event() -> None:
    assert sorted({kind for kind, _ in SOURCES.values()}) == sorted(EVENT_TYPES)


def test_a_disabled_endpoint_wants_nothing_until_enabled_again() -> None:
    held = endpoints()
    e = held.add(uuid4(), "https://shop.example", ["message.status"], "", SECRET, at=AT)
    assert held.disable(e.id, "every delivery failed for 3 days", at=AT)
    assert not held.disable(e.id, "again", at=AT)  # once
    assert not e.wants("message.status")
    held.change(e.id, url=None, events=None, enabled=True, at=AT)
    assert e.wants("message.status")
    assert e.disabled_reason == ""


def test_the_signature_is_hmac_sha256_of_id_timestamp_body_per_secret() -> None:
    signed = headers([SECRET, SECRET], "msg_1", 1700000000, b'{"a":1}')
    key = b"0123456789abcdef01234567"
    mac = hmac.new(key, b'msg_1.1700000000.{"a":1}', hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(mac).decode()
    assert signed["webhook-signature"] == f"{expected} {expected}"


@given(st.integers(min_value=1, max_value=40), st.floats(min_value=0, max_value=1))
def test_each_retry_waits_its_step_of_the_schedule_within_the_jitter(
    attempts: int, rand: float
) -> None:
    base = SCHEDULE[min(attempts, len(SCHEDULE)) - 1]
    delay = next_delay(attempts, rand=lambda: rand)
    assert base * (1 - JITTER) <= delay <= base * (1 + JITTER)


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("127.0.0.1", True),
        ("10.0.0.8", True),
        ("172.16.3.4", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("::1", True),
        ("fe80::1", True),
        ("fd00::1", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", True),
        ("100.64.0.1", True),  # shared address space (carrier-grade NAT)
        ("100.127.255.254", True),
        ("192.0.2.10", True),  # documentation
        ("198.18.0.1", True),  # benchmarking
        ("240.0.0.1", True),  # reserved
        ("224.0.0.1", True),  # multicast
        ("::ffff:10.0.0.1", True),  # IPv4-mapped
        ("::ffff:100.64.0.1", True),
        ("2002:7f00:1::", True),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::1", True),  # 6to4 of 169.254.169.254
        ("2002:6440:1::", True),  # 6to4 of 100.64.0.1
        ("64:ff9b::a00:7", True),  # NAT64 of 10.0.0.7
        ("2001:db8::1", True),  # documentation
        ("ff02::1", True),
        ("93.184.216.34", False),
        ("::ffff:93.184.216.34", False),
        ("64:ff9b::5db8:d822", False),  # NAT64 of a public address
        ("2606:4700::1111", False),
    ],
)
def test_loopback_link_local_and_private_ranges_are_refused(address: str, refused: bool) -> None:
    assert forbidden(address) is refused


def answers(*addresses: str) -> Resolve:
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


@pytest.mark.asyncio
async def test_a_delivery_is_pinned_to_the_address_it_checked() -> None:
    url = "https://shop.example:8443/hooks?x=1"
    v6 = await pinned(url, allow_private=False, resolve=answers("2606:4700::6810:85e5"))
    assert v6 == Pinned(
        "https://[2606:4700::6810:85e5]:8443/hooks?x=1", "shop.example", "shop.example:8443"
    )
    v4 = await pinned(
        "https://shop.example/h", allow_private=False, resolve=answers("93.184.216.34")
    )
    assert (v4.url, v4.host_header) == ("https://93.184.216.34/h", "shop.example")
    with pytest.raises(Refused, match=r"private address \(10\.0\.0\.7\)"):  # any one refuses
        await pinned(url, allow_private=False, resolve=answers("93.184.216.34", "10.0.0.7"))
    with pytest.raises(Refused, match="no address"):
        await pinned(url, allow_private=False, resolve=answers())
    local = await pinned(url, allow_private=True, resolve=answers("127.0.0.1"))
    assert local.url == "https://127.0.0.1:8443/hooks?x=1"  # allowed, and still pinned


@pytest.mark.asyncio
async def test_plain_http_is_refused_at_delivery_unless_private_addresses_are_allowed() -> None:
    public = answers("93.184.216.34")
    with pytest.raises(Refused, match="http is refused: https only"):
        await pinned("http://shop.example/h", allow_private=False, resolve=public)
    allowed = await pinned("http://shop.example/h", allow_private=True, resolve=public)
    assert allowed.url == "http://93.184.216.34/h"


def test_a_sealed_secret_opens_with_its_key_only_and_a_clear_one_reads_as_it_is() -> None:
    box = SecretBox(Fernet.generate_key().decode())
    sealed = box.seal(SECRET)
    assert sealed.startswith("enc:v1:")
    assert "whsec_" not in sealed
    assert box.open(sealed) == SECRET
    assert box.open(SECRET) == SECRET  # stored before secrets were sealed
    with pytest.raises(WrongKey, match="CHAINON_SECRETS_KEY"):
        SecretBox(Fernet.generate_key().decode()).open(sealed)
