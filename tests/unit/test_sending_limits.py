"""The pumping guard's rules and the flood rule, as pure decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation
from chainon.domain.sending_limits import (
    DEFAULT_LIMITS,
    Counts,
    SendingLimits,
    Verdict,
    allowed_countries,
    check,
    destination_of,
    flooding,
    prefix_of,
    window_of,
)

NOW = datetime(2026, 12, 8, 9, 17, tzinfo=UTC)
FR = destination_of(Channel.SMS, "+33612345678")


def test_only_sms_and_rcs_to_phone_numbers_are_concerned() -> None:
    assert destination_of(Channel.EMAIL, "ana@example.org") is None
    assert FR is not None
    assert (FR.country, FR.prefix) == ("FR", "+3361234")
    assert prefix_of("+447812345678") == "+4478123"
    assert window_of(NOW) == "2026-12-08T09:10"


def test_the_default_countries_are_the_senders_and_fr_us() -> None:
    assert allowed_countries(DEFAULT_LIMITS, ["+447812345678"]) == {"GB", "FR", "US"}
    listed = SendingLimits(allowed_countries=["DE"])
    assert allowed_countries(listed, ["+447812345678"]) == {"DE"}


def test_caps_and_spikes() -> None:
    assert FR is not None
    limits = SendingLimits(per_country_per_hour=10, never_replied_per_hour=5, prefix_burst=3)
    allowed = frozenset({"FR"})
    assert check(limits, allowed, FR, Counts()) is Verdict.PASS
    assert check(limits, frozenset({"US"}), FR, Counts()) is Verdict.CAPPED
    assert check(limits, allowed, FR, Counts(country_this_hour=10)) is Verdict.CAPPED
    assert check(limits, allowed, FR, Counts(never_replied_this_hour=5)) is Verdict.CAPPED
    replied = Counts(never_replied_this_hour=5, replied=True)
    assert check(limits, allowed, FR, replied) is Verdict.PASS
    assert check(limits, allowed, FR, Counts(prefix_this_window=3)) is Verdict.SPIKE
    usual = Counts(prefix_this_window=3, prefix_usual=2.0)  # 4 is not 5 times 2
    assert check(limits, allowed, FR, usual) is Verdict.PASS


def conversation_with(inbound_at: list[datetime]) -> Conversation:
    conversation = Conversation.open(uuid4(), uuid4(), uuid4(), 1, at=inbound_at[0])
    for i, at in enumerate(inbound_at):
        conversation.receive(
            message_id=uuid4(),
            channel=Channel.SMS,
            sender="+33612345678",
            recipient="+33939000001",
            body="HELP",
            provider="sandbox",
            provider_message_id=f"m{i}",
            at=at,
        )
    return conversation


def test_flooding_counts_the_minute_before_now() -> None:
    burst = conversation_with([NOW + timedelta(seconds=i) for i in range(11)])
    assert flooding(burst, NOW + timedelta(seconds=10))
    assert not flooding(burst, NOW + timedelta(seconds=10), limit=11)
    assert not flooding(burst, NOW + timedelta(seconds=70))
    calm = conversation_with([NOW + timedelta(seconds=i) for i in range(10)])
    assert not flooding(calm, NOW + timedelta(seconds=9))
