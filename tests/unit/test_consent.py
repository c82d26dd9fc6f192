"""The consent ledger and the send policy: opt-outs everywhere, evidence kept, in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest

from chainon.domain.channels import Channel
from chainon.domain.consent import Consent, Evidence, EvidenceSource, Purpose, Scope
from chainon.domain.errors import InvalidInput
from chainon.domain.quiet_hours import recipient_of
from chainon.domain.send_policy import BlockReason, Verdict, decide

T0 = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)  # a Tuesday, 11:00 in Paris
BRAND = UUID("00000000-0000-0000-0000-0000000000b1")
FORM = Evidence(EvidenceSource.WEB_FORM, text="newsletter box ticked", actor="form:checkout")
STOP_RCS = Evidence(EvidenceSource.KEYWORD, text="STOP", channel=Channel.RCS, rule="keyword.stop")
PARIS_MOBILE = recipient_of("+33612345678")


def ledger() -> Consent:
    return Consent.open(BRAND, uuid4(), at=T0)


def replayed(consent: Consent) -> Consent:
    state = None
    for fact in consent.collect_events():
        state = fact.mutate(state)
    assert isinstance(state, Consent)
    return state


def test_marketing_needs_an_opt_in_and_service_does_not() -> None:
    consent = ledger()
    assert decide(Purpose.MARKETING, Channel.SMS, consent, at=T0).reason is (
        BlockReason.NO_MARKETING_CONSENT
    )
    assert decide(Purpose.SERVICE, Channel.SMS, consent, at=T0).verdict is Verdict.ALLOWED
    assert decide(Purpose.MARKETING, Channel.SMS, None, at=T0).verdict is Verdict.BLOCKED
    consent.grant(Purpose.MARKETING, FORM, at=T0)
    assert decide(Purpose.MARKETING, Channel.SMS, consent, at=T0).verdict is Verdict.ALLOWED


def test_stop_on_rcs_blocks_sms_and_email_marketing_but_not_service() -> None:
    consent = ledger()
    consent.grant(Purpose.MARKETING, FORM, at=T0)
    assert consent.revoke(Purpose.MARKETING, STOP_RCS, at=T0, channel=Channel.RCS)
    for channel in Channel:
        found = decide(Purpose.MARKETING, channel, consent, at=T0)
        assert found.reason is BlockReason.OPTED_OUT, channel
        assert decide(Purpose.SERVICE, channel, consent, at=T0).verdict is Verdict.ALLOWED


def test_a_brand_scoping_opt_outs_per_channel_keeps_the_other_channels() -> None:
    consent = ledger()
    consent.grant(Purpose.MARKETING, FORM, at=T0)
    consent.revoke(Purpose.MARKETING, STOP_RCS, at=T0, channel=Channel.RCS, scope=Scope.CHANNEL)
    assert decide(Purpose.MARKETING, Channel.RCS, consent, at=T0).verdict is Verdict.BLOCKED
    assert decide(Purpose.MARKETING, Channel.SMS, consent, at=T0).verdict is Verdict.ALLOWED


def test_stop_all_blocks_service_too_and_a_reply_to_their_own_message_still_goes() -> None:
    consent = ledger()
    stop_all = Evidence(EvidenceSource.KEYWORD, text="STOP ALL", channel=Channel.SMS)
    consent.revoke(Purpose.MARKETING, stop_all, at=T0, channel=Channel.SMS)
    consent.revoke(Purpose.SERVICE, stop_all, at=T0, channel=Channel.SMS)
    assert decide(Purpose.SERVICE, Channel.SMS, consent, at=T0).reason is (
        BlockReason.OPTED_OUT_OF_SERVICE
    )
    reply = decide(Purpose.CONVERSATIONAL, Channel.SMS, consent, at=T0, contact_wrote_recently=True)
    assert reply.verdict is Verdict.ALLOWED
    cold = decide(Purpose.CONVERSATIONAL, Channel.SMS, consent, at=T0)
    assert cold.reason is BlockReason.NOT_CONVERSATIONAL


def test_repeats_record_nothing_and_a_new_opt_in_then_stop_records_both() -> None:
    consent = ledger()
    assert consent.grant(Purpose.MARKETING, FORM, at=T0)
    assert not consent.grant(Purpose.MARKETING, FORM, at=T0)
    assert consent.revoke(Purpose.MARKETING, STOP_RCS, at=T0)
    assert not consent.revoke(Purpose.MARKETING, STOP_RCS, at=T0)  # a second STOP
    start = Evidence(EvidenceSource.KEYWORD, text="START", channel=Channel.SMS)
    assert consent.grant(Purpose.MARKETING, start, at=T0, channel=Channel.SMS)
    assert consent.revoke(Purpose.MARKETING, STOP_RCS, at=T0)  # STOP again: recorded
    assert [c.granted for c in consent.changes] == [True, False, True, False]


def test_the_evidence_of_every_change_survives_a_replay() -> None:
    consent = ledger()
    consent.grant(Purpose.MARKETING, FORM, at=T0)
    phrase = Evidence(
        EvidenceSource.PHRASE,
        text="Stop texting me",
        channel=Channel.SMS,
        address="+33612345678",
        rule="en.phrase.stop_texting",
        message_id=uuid4(),
    )
    consent.revoke(Purpose.MARKETING, phrase, at=T0 + timedelta(minutes=5))
    again = replayed(consent)
    assert again.changes == consent.changes
    assert again.changes[-1].evidence == phrase
    assert again.latest_revocation() is not None


def test_consent_is_kept_for_marketing_and_service_only() -> None:
    with pytest.raises(InvalidInput) as refused:
        ledger().grant(Purpose.CONVERSATIONAL, FORM, at=T0)
    assert refused.value.field == "purpose"


def test_marketing_in_quiet_hours_is_deferred_and_blocked_past_its_deadline() -> None:
    consent = ledger()
    consent.grant(Purpose.MARKETING, FORM, at=T0)
    saturday_night = datetime(2026, 12, 5, 21, 0, tzinfo=ZoneInfo("Europe/Paris"))
    at = saturday_night.astimezone(UTC)
    deferred = decide(Purpose.MARKETING, Channel.SMS, consent, at=at, recipient=PARIS_MOBILE)
    assert deferred.verdict is Verdict.DEFERRED
    assert deferred.release_at == datetime(2026, 12, 7, 8, 0, tzinfo=ZoneInfo("Europe/Paris"))
    late = decide(
        Purpose.MARKETING,
        Channel.SMS,
        consent,
        at=at,
        recipient=PARIS_MOBILE,
        not_after=at + timedelta(hours=12),
    )
    assert late.reason is BlockReason.QUIET_HOURS_PAST_DEADLINE
    service = decide(Purpose.SERVICE, Channel.SMS, consent, at=at, recipient=PARIS_MOBILE)
    assert service.verdict is Verdict.ALLOWED  # quiet hours are for marketing only


def test_an_opt_out_beats_the_hour() -> None:
    consent = ledger()
    consent.grant(Purpose.MARKETING, FORM, at=T0)
    consent.revoke(Purpose.MARKETING, STOP_RCS, at=T0)
    at = datetime(2026, 12, 5, 21, 0, tzinfo=ZoneInfo("Europe/Paris")).astimezone(UTC)
    found = decide(Purpose.MARKETING, Channel.SMS, consent, at=at, recipient=PARIS_MOBILE)
    assert found.reason is BlockReason.OPTED_OUT


def test_evidence_with_a_reference_is_recorded_once_and_never_undoes_a_later_change() -> None:
    said = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    row = Evidence(
        EvidenceSource.IMPORT, text="optins.csv, line 2: …", collected_at=said, reference="import:1"
    )
    consent = ledger()
    assert consent.grant(Purpose.MARKETING, row, at=T0) is True
    assert consent.revoke(Purpose.MARKETING, STOP_RCS, at=T0 + timedelta(hours=1)) is True
    assert consent.grant(Purpose.MARKETING, row, at=T0 + timedelta(hours=2)) is False
    assert consent.state(Purpose.MARKETING, Channel.SMS) is False  # the STOP stands
    other_row = Evidence(EvidenceSource.IMPORT, reference="import:2")
    assert consent.grant(Purpose.MARKETING, other_row, at=T0 + timedelta(hours=3)) is True
    first = replayed(consent).changes[0].evidence
    assert (first.collected_at, first.reference) == (said, "import:1")
    assert "reference" not in FORM.as_record()  # other sources keep their stored shape
