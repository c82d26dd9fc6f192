"""Reading an answer as the choice of a suggestion, whichever channel carried it.

A tapped RCS suggestion carries its postback; an SMS answer "2" to a fallback that listed
numbered choices is read as the second one, so a bot flow built on postbacks works
whichever channel carried the question.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation
from chainon.domain.conversation_rules import last_offer, last_outbound
from chainon.domain.rich_content import RichContent, choice_from_sms_reply


@dataclass(frozen=True)
class Choice:
    in_reply_to: UUID | None
    postback_data: str
    text: str


def chosen(
    conversation: Conversation, channel: Channel, body: str, postback_data: str | None
) -> Choice | None:
    """The suggestion an inbound message picks, judged before it joins the conversation."""
    offer = last_offer(conversation)
    if postback_data is not None:
        return Choice(offer.id if offer is not None else None, postback_data, body)
    if offer is None or offer.rich is None or channel is not Channel.SMS:
        return None
    shown = last_outbound(conversation)
    if shown is None or shown.channel is not Channel.SMS:
        return None  # the chips were shown on RCS, unnumbered: "2" is just text
    try:
        content = RichContent.model_validate(offer.rich)
    except ValueError:
        return None  # stored under older limits: no choice rather than a refused message
    picked = choice_from_sms_reply(content, body)
    if picked is None:
        return None
    return Choice(offer.id, picked.postback_data, picked.text)
