"""The message bus: which handler decides each command, and idempotent requests.

A request with an ``Idempotency-Key`` stores its answer beside its effects, in the same
transaction; the same key again is answered from that record and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from chainon.domain import commands as cmd
from chainon.domain.idempotency import IdempotentRequest, request_id
from chainon.handlers import (
    agents,
    bot,
    campaigns,
    consent,
    contacts,
    deferred,
    fallback,
    inbound,
    outbound,
    receipts,
    routing,
)
from chainon.handlers.loading import Handled, Handler, Loader

HANDLERS: dict[type[cmd.Command], Handler] = {
    cmd.SendMessage: outbound.send,
    cmd.Reply: outbound.reply,
    cmd.ReceiveMessage: inbound.receive,
    cmd.RecordSent: receipts.record_sent,
    cmd.RecordSendFailure: receipts.record_send_failure,
    cmd.RecordReceipt: receipts.record_receipt,
    cmd.AssignConversation: agents.assign,
    cmd.TagConversation: agents.tag,
    cmd.ResolveConversation: agents.resolve,
    cmd.ReopenConversation: agents.reopen,
    cmd.ClaimConversation: agents.claim,
    cmd.PrioritizeConversation: agents.prioritize,
    cmd.ConfigureQueue: agents.configure_queue,
    cmd.SetAgentCapacity: agents.set_capacity,
    cmd.AddContactAddress: contacts.add_contact_address,
    cmd.UpdateContact: contacts.update_contact,
    cmd.RecordCapability: fallback.record_capability,
    cmd.EnforceFallbackDeadline: fallback.enforce_deadline,
    cmd.EnforceReceiptDeadline: receipts.enforce_receipt_deadline,
    cmd.RecordRevocation: fallback.record_revocation,
    cmd.ConfigureFallback: fallback.configure_fallback,
    cmd.GrantConsent: consent.grant,
    cmd.RevokeConsent: consent.revoke,
    cmd.Unsubscribe: consent.unsubscribe,
    cmd.ReleaseDeferredMessage: deferred.release,
    cmd.ConfigureOptOutMention: consent.configure_opt_out_mention,
    cmd.ConfigureConsentSettings: consent.configure_settings,
    cmd.ConfigureSendingLimits: consent.configure_limits,
    cmd.LiftDestinationBlock: consent.lift_block,
    cmd.ConfigureRouting: routing.configure,
    cmd.CreateCampaign: campaigns.create,
    cmd.ImportCampaignAudience: campaigns.import_audience,
    cmd.ScheduleCampaign: campaigns.schedule,
    cmd.ChangeCampaign: campaigns.change,
    cmd.StartCampaign: campaigns.start,
    cmd.RecordCampaignBatch: campaigns.record_batch,
    cmd.StartFlow: bot.start_flow,
    cmd.ExpireDialogue: bot.expire_dialogue,
}


@dataclass(frozen=True)
class IdempotencyClaim:
    brand_id: UUID
    key: str
    fingerprint: str


def decide(
    loader: Loader, command: cmd.Command, idempotency: IdempotencyClaim | None, now: datetime
) -> Handled:
    handler = HANDLERS[type(command)]
    if idempotency is not None:
        previous = loader.find(IdempotentRequest, request_id(idempotency.brand_id, idempotency.key))
        if previous is not None:
            replayed = previous.replay(idempotency.fingerprint)
            return cmd.Outcome.model_validate({**replayed, "duplicate": True}), []
    outcome, changed = handler(loader, command, now)
    if idempotency is not None:
        changed.append(
            IdempotentRequest.answer(
                idempotency.brand_id,
                idempotency.key,
                idempotency.fingerprint,
                outcome.model_dump(mode="json", exclude={"position"}),
                at=now,
            )
        )
    return outcome, changed
