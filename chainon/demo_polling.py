"""What the demo's scenes wait for, and how they show it.

The story drives the real runtime, whose workers move messages on in their own time; a
scene polls the store until what it tells has happened, and stops the story with the
reason when it does not (a demo that prints "delivered" without checking would lie).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from uuid import UUID

from rich.console import Console
from rich.text import Text

from chainon.domain.brand import Brand
from chainon.domain.conversation import Conversation
from chainon.domain.message import Message
from chainon.domain.message_status import MessageStatus
from chainon.errors import DemoFailed
from chainon.flows import conversation_events
from chainon.runtime import Runtime
from chainon.terminal import render_timeline

RECEIPT_TIMEOUT = 10.0  # seconds; the sandbox answers in a fraction of that


def teller(out: Console) -> Callable[..., None]:
    """One line of the story, wrapped by the terminal, never cut."""

    def say(line: str, style: str = "") -> None:
        out.print(Text(line, style=style), soft_wrap=True)

    return say


async def show_timeline(
    rt: Runtime, out: Console, brand: Brand, conversation_id: UUID, contact: str
) -> None:
    conversation = await rt.call(rt.core.conversation_of, brand.id, conversation_id)
    events = await rt.call(conversation_events, rt.core, conversation_id)
    out.print(render_timeline(conversation, events, brand=brand.name, contact=contact))


async def until_delivered(rt: Runtime, conversation_id: UUID, message_id: UUID) -> Message:
    """Polls the conversation until the message's receipt lands; fails loudly when it does not."""
    return await until(
        rt, conversation_id, message_id, lambda m: m.status is MessageStatus.DELIVERED
    )


async def until(
    rt: Runtime,
    conversation_id: UUID,
    message_id: UUID,
    done: Callable[[Message], bool],
    *,
    within: float = RECEIPT_TIMEOUT,
    allow_final: bool = False,
) -> Message:
    """Polls the conversation until the message is ``done``; a message that ends another
    way (failed, expired), or never gets there, stops the story with the reason."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        conversation: Conversation = await rt.call(rt.core.get, Conversation, conversation_id)
        message = conversation.message(message_id)
        if done(message):
            return message
        if message.status.is_final and not allow_final:
            raise DemoFailed(f"the message ended {message.status.value}: {message.reason}")
        if loop.time() > deadline:
            raise DemoFailed(
                f"the message did not get there within {within:.0f} s "
                f"(it is still {message.status.value})"
            )
        await asyncio.sleep(0.05)


async def settle(rt: Runtime) -> None:
    """Waits until every receipt the sandbox owes is recorded on its message, so the read
    models the story leaves behind are caught up with a store that no longer moves."""
    for sent in await rt.provider.receipts_handed_over():
        await until(
            rt, sent.conversation_id, sent.message_id, lambda m: m.status.is_final, allow_final=True
        )
