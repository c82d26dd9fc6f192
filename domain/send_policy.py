"""May this message go now? Asked in the same decision that queues it.

Three answers, each recorded on the message: **allowed**; **deferred** to a release time
(marketing in quiet hours: held, not dropped, and asked again at release, so an opt-out in
between blocks it); **blocked**, with a reason the API, the CLI and the timeline show
(a blocked send is an answer, not an error: the request was valid).

Order of the questions: consent first (an opted-out contact is blocked whatever the hour),
then quiet hours (marketing only), then the brand's deadline for a deferred send.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from chainon.domain.channels import Channel
from chainon.domain.consent import Consent, Purpose
from chainon.domain.quiet_hours import QuietHoursPolicy, Recipient, release_time


class Verdict(StrEnum):
    ALLOWED = "allowed"
    DEFERRED = "deferred"
    BLOCKED = "blocked"


class BlockReason(StrEnum):
    OPTED_OUT = "opted_out"  # marketing revoked (STOP, an unsubscribe, the API…)
    OPTED_OUT_OF_SERVICE = "opted_out_of_service"  # STOPALL: service messages too
    NO_MARKETING_CONSENT = "no_marketing_consent"  # never opted in
    QUIET_HOURS_PAST_DEADLINE = "quiet_hours_past_deadline"  # would open after not_after
    NOT_CONVERSATIONAL = "not_conversational"  # "a reply" to a contact who has not written
    # SMS pumping (``domain.sending_limits``): a country not allowed, an hourly cap, or a
    # number prefix blocked after a spike until an admin lifts it
    DESTINATION_CAP = "destination_cap"


@dataclass(frozen=True)
class SendDecision:
    verdict: Verdict
    reason: BlockReason | None = None
    release_at: datetime | None = None

    @classmethod
    def allowed(cls) -> SendDecision:
        return cls(Verdict.ALLOWED)

    @classmethod
    def blocked(cls, reason: BlockReason) -> SendDecision:
        return cls(Verdict.BLOCKED, reason)


def decide(
    purpose: Purpose,
    channel: Channel,
    consent: Consent | None,
    *,
    at: datetime,
    recipient: Recipient | None = None,
    quiet_hours: QuietHoursPolicy | None = None,
    not_after: datetime | None = None,
    contact_wrote_recently: bool = False,
) -> SendDecision:
    """``recipient``: the number's quiet-hours view (None: no policy covers it, or not a
    phone); ``quiet_hours``: the brand's narrowed window, if it has one."""
    if purpose is Purpose.CONVERSATIONAL:
        if not contact_wrote_recently:
            return SendDecision.blocked(BlockReason.NOT_CONVERSATIONAL)
        return SendDecision.allowed()  # they wrote: a reply is always theirs to get
    service = consent.state(Purpose.SERVICE, channel) if consent else None
    if service is False:
        return SendDecision.blocked(BlockReason.OPTED_OUT_OF_SERVICE)
    if purpose is Purpose.SERVICE:
        return SendDecision.allowed()
    marketing = consent.state(Purpose.MARKETING, channel) if consent else None
    if marketing is False:
        return SendDecision.blocked(BlockReason.OPTED_OUT)
    if marketing is None:
        return SendDecision.blocked(BlockReason.NO_MARKETING_CONSENT)
    if recipient is None:
        return SendDecision.allowed()
    release = release_time(at, recipient, quiet_hours)
    if release == at:
        return SendDecision.allowed()
    if not_after is not None and release > not_after:
        return SendDecision.blocked(BlockReason.QUIET_HOURS_PAST_DEADLINE)
    return SendDecision(Verdict.DEFERRED, release_at=release)
