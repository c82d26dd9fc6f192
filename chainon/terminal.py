"""Conversations as an operator reads them in a terminal: the list, and one timeline.

The timeline walks the conversation's stored events, which give the true order of
everything that happened; each message is drawn from the aggregate, where its status
history (queued → sent → delivered) is already folded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from chainon import terminal_bot
from chainon.domain.bot import Bot
from chainon.domain.channels import Channel
from chainon.domain.consent import Purpose
from chainon.domain.conversation import Conversation
from chainon.domain.message import FallbackReason, Message
from chainon.domain.message_status import Direction, MessageStatus
from chainon.domain.rich_content import RichContent, sms_choices
from chainon.projections.conversation_list import ConversationSummary

ARROW = {Direction.INBOUND: "←", Direction.OUTBOUND: "→"}
STATUS_STYLE = {
    MessageStatus.RECEIVED: "blue",
    MessageStatus.DEFERRED: "yellow",
    MessageStatus.QUEUED: "yellow",
    MessageStatus.SENT: "cyan",
    MessageStatus.REVOKED: "magenta",
    MessageStatus.DELIVERED: "green",
    MessageStatus.FAILED: "red",
    MessageStatus.EXPIRED: "red",
    MessageStatus.BLOCKED: "bold red",
}
# Shown inside their message's status history, not as rows of their own.
FOLDED = (
    Conversation.MessageSent,
    Conversation.MessageDelivered,
    Conversation.MessageFailed,
    Conversation.MessageExpired,
    Conversation.ReceiptOverdue,
    Conversation.MessageRevoked,
    Conversation.MessageRead,
    Conversation.SuggestionChosen,  # on the row of the answer that chose
)
FALLBACK_WHY = {
    FallbackReason.NOT_CAPABLE: "not RCS-capable",
    FallbackReason.FAILED: "RCS failed",
    FallbackReason.DEADLINE: "not delivered in time",
}


def render_timeline(
    conversation: Conversation, events: Iterable[Any], *, brand: str, contact: str
) -> RenderableType:
    """One row per thing that happened, oldest first; the date shows when it changes."""
    state = "resolved" if conversation.resolved else "open"
    header = Text(f"{brand} · {contact} · conversation #{conversation.number} · ", style="bold")
    header.append(state, style="green" if conversation.resolved else "yellow")
    table = Table(show_header=False, box=None, padding=(0, 1))
    table.add_column("when", style="dim", no_wrap=True)
    table.add_column("what", overflow="fold")
    day = None
    for event in events:
        what = _describe(conversation, event)
        if what is None:
            continue
        at = _local(event.timestamp)
        when = f"{at:%H:%M:%S}" if at.date() == day else f"{at:%Y-%m-%d %H:%M:%S}"
        day = at.date()
        table.add_row(when, what)
    return Group(header, Text(_handling(conversation), style="dim"), table)


def conversation_list(
    summaries: Sequence[ConversationSummary], contacts: Mapping[UUID, str]
) -> Table:
    """The list view's rows, two lines each; ``contacts`` gives each contact's address."""
    table = Table(
        title=f"{len(summaries)} conversation(s), latest activity first",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("conversation\ncontact", no_wrap=True)
    table.add_column("status", min_width=8)
    table.add_column("agent\nteam", overflow="fold")
    table.add_column("tags", overflow="fold")
    table.add_column("last activity", no_wrap=True)
    for row in summaries:
        arrow = ARROW[Direction(row.last_direction)] if row.last_direction else ""
        table.add_row(
            Text(f"{row.conversation_id}\n{contacts.get(row.contact_id, '?')}"),
            Text(row.status, style="green" if row.status == "resolved" else "yellow"),
            Text(f"{row.agent or '-'}\n{row.team or '-'}"),
            Text(", ".join(row.tags)),
            Text(
                f"{_local(row.last_activity_at):%m-%d %H:%M}\n"
                f"{row.message_count} msg{'' if row.message_count == 1 else 's'}, "
                f"{arrow} {row.last_channel or '-'}"
            ),
        )
    return table


def _describe(conversation: Conversation, event: Any) -> Text | None:
    if isinstance(event, Bot.Event):
        return terminal_bot.describe(event)
    if isinstance(event, FOLDED) or not isinstance(event, Conversation.Event):
        return None
    if isinstance(event, Conversation.Opened):
        return Text(f"conversation #{event.number} opened", style="bold")
    if isinstance(event, Conversation.MessageReceived | Conversation.MessageQueued):
        return _message(conversation, conversation.messages[event.message_id])
    if isinstance(event, Conversation.MessageDeferred | Conversation.MessageBlocked):
        return _held(conversation, event)
    fallback = _fallback(conversation, event)
    if fallback is not None:
        return fallback
    if isinstance(event, Conversation.ConsentRequestRead):
        if not event.certain:
            what = f"possible opt-out (rule {event.rule}): marketing stopped, a person to confirm"
            return Text(f"⚑ {what}", style="bold magenta")
        return Text(f"✉ read as {event.request} (rule {event.rule})", style="magenta")
    if isinstance(event, Conversation.Assigned):
        if event.agent is None and event.team is None:
            return Text("unassigned", style="magenta")
        who = " on team ".join(x for x in (event.agent, event.team) if x)
        return Text(f"assigned to {who}", style="magenta")
    if isinstance(event, Conversation.Tagged):
        return Text(f"tagged {event.tag}", style="magenta")
    if isinstance(event, Conversation.Untagged):
        return Text(f"untagged {event.tag}", style="magenta")
    if isinstance(event, Conversation.Resolved):
        return Text(f"resolved by {event.by}", style="bold green")
    if isinstance(event, Conversation.Reopened):
        return Text(f"reopened: {event.reason}", style="bold yellow")
    return Text(type(event).__name__, style="dim")  # an event this view does not know yet


def _held(conversation: Conversation, event: Any) -> Text | None:
    """A send the policy deferred or blocked; a deferred one that went is drawn once, at
    its queuing, with its whole history."""
    message = conversation.messages[event.message_id]
    if isinstance(event, Conversation.MessageDeferred):
        if message.status is not MessageStatus.DEFERRED:
            return None  # released (drawn where it was queued) or blocked (drawn there)
        text = _message(conversation, message)
        text.append(f"\n⏸ held by quiet hours until {_local(event.release_at):%Y-%m-%d %H:%M}")
        return text
    text = _message(conversation, message)
    text.append(f"\n⛔ blocked by the send policy: {event.reason}", style="bold red")
    return text


def _fallback(conversation: Conversation, event: Any) -> Text | None:
    """The steps of an RCS message's fallback to SMS, each a stored event of its own."""
    if isinstance(event, Conversation.FallbackPlanned):
        deadline = f"{_local(event.deadline):%H:%M:%S}"
        return Text(
            f"↷ falls back to {event.channel.upper()} unless delivered by {deadline}", style="dim"
        )
    if isinstance(event, Conversation.RevocationRequested):
        return Text("⏱ deadline passed undelivered: RCS revocation asked", style="magenta")
    if isinstance(event, Conversation.RevocationFailed):
        return Text(
            f"✗ revocation failed ({event.reason}): no fallback, the consumer may have it",
            style="magenta",
        )
    if isinstance(event, Conversation.FallbackTriggered):
        reason = FALLBACK_WHY.get(FallbackReason(event.reason), event.reason)
        if event.message_id is None:
            return Text(
                f"↷ known not to take RCS: sent by {event.channel.upper()} instead",
                style="magenta",
            )
        return Text(f"↷ fallback to {event.channel.upper()} ({reason})", style="bold magenta")
    return None


def _message(conversation: Conversation, message: Message) -> Text:
    peer = message.sender if message.direction is Direction.INBOUND else message.recipient
    text = Text(f"{ARROW[message.direction]} {message.channel.value.upper()} ", style="bold")
    text.append(f"{'from' if message.direction is Direction.INBOUND else 'to'} {peer}")
    # service is what every send was before purposes: only the others are worth a word
    shown = message.purpose is not None and message.purpose is not Purpose.SERVICE
    text.append(f" · {message.purpose}\n" if shown else "\n", style="dim")
    if message.rich and message.channel is Channel.RCS:
        text.append_text(_rich(RichContent.model_validate(message.rich)))
    else:
        text.append(f"“{message.body}”\n", style="italic")
    for item in message.attachments:
        text.append(f"📎 {item.filename} ({item.content_type}, {item.size} bytes)\n", style="dim")
    if message.automatic:
        text.append("↳ sent by a machine (auto-reply): no answer expected\n", style="dim")
    replaced = conversation.messages.get(message.fallback_of) if message.fallback_of else None
    if replaced is not None:
        plan = replaced.fallback
        why = FALLBACK_WHY[plan.reason] if plan is not None and plan.reason else "fallback"
        text.append(
            f"↳ fallback of the {replaced.channel.value.upper()} message of "
            f"{_local(replaced.at):%H:%M:%S} ({why})\n",
            style="magenta",
        )
    chosen = conversation.choices.get(message.id)
    if chosen is not None:
        postback, label = chosen
        text.append(f"↳ picks “{label}” (postback {postback})\n", style="magenta")
    text.append_text(status_history(message))
    return text


def _rich(content: RichContent) -> Text:
    """Rich content as a terminal can show it: the text or the cards, then the chips."""
    text = Text()
    if content.text is not None:
        text.append(f"“{content.text}”\n", style="italic")
    for card in content.cards:
        parts = (card.title, card.description, card.media_url)
        text.append(f"▭ {' — '.join(p for p in parts if p)}\n", style="italic")
    chips = sms_choices(content)  # every chip, in the order they read
    if chips:
        text.append("  ".join(f"[{chip.text}]" for chip in chips) + "\n", style="cyan")
    return text


def status_history(message: Message) -> Text:
    """``queued 09:37:14 → sent +0.2 s → delivered +0.5 s``, times after the first relative."""
    text = Text()
    first = message.history[0][1] if message.history else None
    for n, (status, at) in enumerate(message.history):
        if n:
            text.append(" → ", style="dim")
        text.append(status.value, style=STATUS_STYLE[status])
        text.append(
            f" {_after(first, at) if n and first else f'{_local(at):%H:%M:%S}'}", style="dim"
        )
    if message.read_at is not None:
        text.append(" → ", style="dim")
        text.append("read", style="bold green")
        text.append(f" {_after(first, message.read_at) if first else ''}", style="dim")
    if message.reason and message.status in (MessageStatus.FAILED, MessageStatus.EXPIRED):
        text.append(f" ({message.reason})", style="red")
    return text


def _handling(conversation: Conversation) -> str:
    parts = [f"agent {conversation.agent or '-'}", f"team {conversation.team or '-'}"]
    if conversation.tags:
        parts.append(f"tags {', '.join(conversation.tags)}")
    return " · ".join(parts)


def _after(first: datetime, at: datetime) -> str:
    seconds = (at - first).total_seconds()
    return f"+{seconds:.1f} s" if seconds < 60 else f"{_local(at):%H:%M:%S}"


def _local(at: datetime) -> datetime:
    return at.astimezone()
