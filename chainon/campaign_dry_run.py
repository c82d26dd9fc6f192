"""A campaign's dry run: what it would send, to whom, and what the policy would say.

Nothing is recorded: the same personalisation, opt-out mention and send policy the sends
would meet are asked for the first recipients of the audience, against what the core
holds now (consent ledgers, the numbers' quiet hours), so a brand sees the blocked and
deferred recipients and why, the segments and the cost before anything goes.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

from chainon.campaign_audience import Recipient
from chainon.campaign_templates import Personalisation
from chainon.core import Core
from chainon.domain.addresses import parse_address
from chainon.domain.brand import Brand
from chainon.domain.campaign import Campaign
from chainon.domain.channels import AddressKind
from chainon.domain.consent import Purpose
from chainon.domain.errors import InvalidInput
from chainon.domain.marketing_rules import country_of_number
from chainon.domain.message_body import prepare_body
from chainon.domain.quiet_hours import recipient_of
from chainon.domain.send_policy import Verdict, decide
from chainon.handlers.consent import ledger_of
from chainon.handlers.policy import check_list_unsubscribe, quiet_hours_of, with_opt_out_mention
from chainon.projections.analytics import CURRENCY, unit_price

LISTED = 50  # blocked, deferred and refused recipients named in the answer, each


def dry_run(
    core: Core,
    brand: Brand,
    campaign: Campaign,
    recipients: list[Recipient],
    audience_size: int,
    now: datetime,
    *,
    sample: int,
) -> dict[str, Any]:
    text = Personalisation(campaign.template, campaign.defaults)
    channel = campaign.channel
    rendered: list[dict[str, Any]] = []
    blocked: list[dict[str, Any]] = []
    deferred: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    reasons: Counter[str] = Counter()
    allowed = segments = unpriced = 0
    cost = Decimal(0)
    for recipient in recipients:
        try:
            body = text.render(recipient.attributes)
            address = parse_address(recipient.address, default_region=core.default_region)
            check_list_unsubscribe(core, Purpose.MARKETING, channel)
            marked = with_opt_out_mention(brand, Purpose.MARKETING, channel, address, body)
            prepared = prepare_body(marked.text, channel, smart_encoding=brand.smart_encoding)
        except InvalidInput as exc:
            reasons["refused"] += 1
            if len(refused) < LISTED:
                refused.append({"to": recipient.address, "reason": exc.detail, "rule": exc.field})
            continue
        if len(rendered) < sample:
            rendered.append(
                {"to": recipient.address, "body": prepared.text, "segments": prepared.segments}
            )
        contact = core.find_contact(brand.id, address)
        phone = recipient_of(address.value) if address.kind is AddressKind.PHONE else None
        decision = decide(
            Purpose.MARKETING,
            channel,
            ledger_of(core, brand.id, contact.id) if contact is not None else None,
            at=now,
            recipient=phone,
            quiet_hours=quiet_hours_of(brand, phone),
            not_after=campaign.not_after,
        )
        if decision.verdict is Verdict.BLOCKED:
            reason = decision.reason.value if decision.reason is not None else "blocked"
            reasons[reason] += 1
            if len(blocked) < LISTED:
                blocked.append({"to": recipient.address, "reason": reason})
            continue
        if decision.verdict is Verdict.DEFERRED:
            if len(deferred) < LISTED:
                deferred.append({"to": recipient.address, "release_at": decision.release_at})
        else:
            allowed += 1
        segments += prepared.segments
        country = country_of_number(address.value) if address.kind is AddressKind.PHONE else ""
        price = unit_price(channel.value, country or "")
        if price is None:
            unpriced += prepared.segments
        else:
            cost += price * prepared.segments
    examined = len(recipients)
    return {
        "recipients": audience_size,
        "examined": examined,
        "sample": rendered,
        "would_send": allowed,
        "would_defer": examined - allowed - sum(reasons.values()),
        "would_block": sum(n for r, n in reasons.items() if r != "refused"),
        "would_refuse": reasons["refused"],
        "blocked_reasons": {r: n for r, n in sorted(reasons.items()) if r != "refused"},
        "blocked": blocked,
        "deferred": deferred,
        "refused": refused,
        "segments": segments,
        "estimated_cost": str(cost),
        "unpriced_segments": unpriced,
        "currency": CURRENCY,
    }
