"""The email adapter's unsubscribe headers, against the real SMTP relay (aiosmtpd): a
marketing email carries RFC 8058's two, a service one neither, and a marketing email is
never sent without them."""

from __future__ import annotations

import re

import pytest

from chainon.adapters.channels.email.provider import EmailProvider
from chainon.adapters.channels.email.unsubscribe import UnsubscribeLinks
from chainon.adapters.channels.port import PermanentFailure
from chainon.domain.purpose import Purpose
from tests.integration.test_email import CONSUMER, Relay, outbound, relay, settings  # noqa: F401

LINKS = UnsubscribeLinks("an-unsubscribe-secret-of-32-chars", "https://chainon.example.com")


async def test_a_marketing_email_carries_list_unsubscribe_and_one_click(
    relay: tuple[Relay, int],  # noqa: F811
) -> None:
    handler, port = relay
    message = outbound(purpose="marketing")
    await EmailProvider(settings(port), unsubscribe=LINKS).send(message)
    email = handler.email()
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = re.findall(r"<([^<>]+)>", str(email["List-Unsubscribe"]))
    token = https.removeprefix("https://chainon.example.com/v1/unsubscribe/")
    link = LINKS.read(token)
    assert link is not None
    assert (link.brand_id, link.address, link.purpose) == (
        message.brand_id,
        CONSUMER,
        Purpose.MARKETING,
    )
    assert mailto == f"mailto:{email['Reply-To']}?subject=unsubscribe&body=UNSUBSCRIBE"


@pytest.mark.parametrize("purpose", ["service", "conversational"])
async def test_other_emails_carry_no_unsubscribe_link(
    relay: tuple[Relay, int],  # noqa: F811
    purpose: str,
) -> None:
    handler, port = relay
    await EmailProvider(settings(port), unsubscribe=LINKS).send(outbound(purpose=purpose))
    assert handler.email()["List-Unsubscribe"] is None
    assert handler.email()["List-Unsubscribe-Post"] is None


async def test_a_marketing_email_without_a_link_is_refused_unsent(
    relay: tuple[Relay, int],  # noqa: F811
) -> None:
    handler, port = relay
    with pytest.raises(PermanentFailure, match="must carry List-Unsubscribe"):
        await EmailProvider(settings(port)).send(outbound(purpose="marketing"))
    assert handler.received == []
