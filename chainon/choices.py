"""Which suggestion a consumer's SMS reply picks, when it answers rich content that went
out as SMS: the fallback of an RCS message, or rich content sent by SMS from the start.

On RCS the consumer taps a chip and RBM sends its postback data; on SMS the same question
went out as numbered choices ("Répondez 1 pour …, 2 pour …"), so a "2" is that tap. The
answer is read against the message the consumer was looking at: the conversation's last
outbound message before the reply, on the reply's channel. A "2" after an agent's ordinary
reply is just a "2", and so is one sent by SMS while the question was on RCS (the chips
there had no numbers).
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from pydantic import ValidationError

from domain.channels import Channel
from domain.conversation import Conversation, Message
from domain.message_status import Direction
from domain.rich_content import RichContent, Suggestion, choice_from_sms_reply


@dataclass(frozen=True)
class Choice:
    """The suggestion picked, and the RCS message that offered it (whose postback it is)."""

    message_id: UUID  # the message with the suggestions (an RCS one, not its replacement)
    suggestion: Suggestion

    @property
    def postback_data(self) -> str:
        return self.suggestion.postback_data


def offered_choices(
    conversation: Conversation, *, channel: Channel = Channel.SMS, before: UUID | None = None
) -> tuple[UUID, RichContent] | None:
    """The rich content whose numbered choices the consumer last saw, when answering on
    ``channel``, and the message that carried it: the RCS message the last outbound
    message replaces, or that message itself. ``before`` (an inbound message's id) looks
    only at what had been sent when that message came."""
    last: Message | None = None
    for message in conversation.messages.values():
        if message.id == before:
            break
        if message.direction is Direction.OUTBOUND:
            last = message
    # Only an SMS shows its choices numbered (RCS shows chips): both must be SMS.
    if last is None or last.channel is not Channel.SMS or channel is not Channel.SMS:
        return None
    source = conversation.messages.get(last.fallback_of) if last.fallback_of else last
    if source is None or not source.rich:
        return None
    try:
        return source.id, RichContent.model_validate(source.rich)
    except ValidationError:
        return None  # stored under older limits: no choice rather than a wrong one


def chosen_suggestion(
    conversation: Conversation,
    text: str,
    *,
    channel: Channel = Channel.SMS,
    before: UUID | None = None,
) -> Choice | None:
    """The suggestion an inbound ``text`` on ``channel`` picks ("2", "2.", or the
    suggestion's own text), or None when it answers no fallback with suggestions."""
    offered = offered_choices(conversation, channel=channel, before=before)
    if offered is None:
        return None
    message_id, content = offered
    suggestion = choice_from_sms_reply(content, text)
    return None if suggestion is None else Choice(message_id, suggestion)


def choice_of(conversation: Conversation, message: Message) -> Choice | None:
    """What a recorded inbound message chose, read as of when it came."""
    if message.direction is not Direction.INBOUND:
        return None
    return chosen_suggestion(conversation, message.body, channel=message.channel, before=message.id)
