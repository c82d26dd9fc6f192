"""What every part of the conversation aggregate reads: its state, and a message by id.

The aggregate is assembled from parts by concern (``conversation_messages``,
``conversation_delivery``, ``conversation_fallback``, ``conversation_handling``); each part
is its own small aggregate class so that eventsourcing finds its ``@event`` methods, and
each inherits this mixin for the state that ``Conversation.__init__`` sets. The state is
declared for the type checker only: at run time an annotation in an aggregate's body would
make it a dataclass field.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from chainon.domain.errors import NotFound, TransitionRefused
from chainon.domain.message import Message
from chainon.domain.message_status import Direction, MessageStatus

READ_BACK = 20  # the consumer's latest messages a decision reads: enough to tell a language


class ConversationState:
    if TYPE_CHECKING:
        brand_id: UUID
        contact_id: UUID
        number: int
        resolved: bool
        agent: str | None
        team: str | None
        tags: list[str]
        priority: int
        claimed: bool
        messages: dict[UUID, Message]
        last_activity_at: datetime
        choices: dict[UUID, tuple[str, str]]  # inbound message → (postback, text)
        possible_opt_out: str | None  # the detector's rule, when it was unsure
        order: list[UUID]  # every message id as first recorded (a page is a slice of it)
        last_inbound_id: UUID | None
        last_outbound_id: UUID | None
        contact_wrote_at: datetime | None  # a person, not an auto-reply
        written_lately: deque[UUID]  # the newest READ_BACK messages a person wrote, oldest first
        # Memory only (``conversation_memory``): the messages looked at so far, and those
        # aged but still waiting for something.
        aged_until: int
        aged_waiting: list[UUID]

        def _reopened(self, reason: str, timestamp: datetime) -> None: ...

    def message(self, message_id: UUID) -> Message:
        try:
            return self.messages[message_id]
        except KeyError:
            raise NotFound(f"no message {message_id} in this conversation") from None

    def _outbound(self, message_id: UUID) -> Message:
        message = self.message(message_id)
        if message.direction is not Direction.OUTBOUND:
            raise TransitionRefused(f"message {message_id} is inbound; it has no delivery status")
        return message

    @staticmethod
    def _set_status(message: Message, status: MessageStatus, at: datetime) -> None:
        message.status = status
        message.history.append((status, at))
