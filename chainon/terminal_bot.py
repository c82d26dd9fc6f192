"""A bot's dialogue in a conversation's timeline: each of its stored facts, one row."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from chainon.domain.bot import Bot

_STYLE = "cyan"


def describe(event: Any) -> Text | None:
    """The row of a ``Bot`` event; None for those the messages already show."""
    if isinstance(event, Bot.FlowStarted):
        what = f"🤖 flow {event.flow} v{event.version} started ({event.trigger})"
        return Text(what, style=f"bold {_STYLE}")
    if isinstance(event, Bot.QuestionAsked):
        again = f" (reprompt {event.attempt})" if event.attempt else ""
        return Text(f"🤖 asked {event.step}{again}", style=_STYLE)
    if isinstance(event, Bot.AnswerCollected):
        into = f" → {event.store_as}" if event.store_as else ""
        return Text(f"🤖 {event.step}: “{event.text}” = {event.value}{into}", style=_STYLE)
    if isinstance(event, Bot.AnswerRejected):
        return Text(
            f"🤖 {event.step}: “{event.text}” refused, {event.reason} "
            f"({event.reprompts_left} reprompt(s) left)",
            style="yellow",
        )
    if isinstance(event, Bot.HandedOff):
        text = Text(
            f"🤖 handed off to {event.team} ({event.priority}, {event.reason})",
            style=f"bold {_STYLE}",
        )
        text.append(f"\n{event.summary}", style="italic")
        return text
    if isinstance(event, Bot.FlowCompleted):
        how = " after failed answers" if event.after_failure else ""
        return Text(f"🤖 flow completed{how}", style=f"bold {_STYLE}")
    if isinstance(event, Bot.FlowTimedOut):
        return Text(f"🤖 no answer to {event.step} in time: {event.action}", style="yellow")
    if isinstance(event, Bot.FlowStopped):
        return Text(f"🤖 flow stopped ({event.reason})", style="yellow")
    return None
