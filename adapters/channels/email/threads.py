"""What an email needs to know of its conversation to thread in the consumer's mail
client: the Message-IDs it answers, and the subject the thread goes by.

Clients thread by In-Reply-To and References, and several (Gmail among them) also by
subject: an answer keeps the subject of the email it answers, with ``Re:``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

FIRST_LINE_CHARACTERS = 60
_ANSWER_PREFIX = re.compile(r"^\s*(re|aw|sv|tr|réf|ref)\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class EmailThread:
    """A conversation's emails, as the core knows them."""

    message_ids: Sequence[str] = ()  # the provider ids of its emails, oldest first
    subject: str | None = None  # of the consumer's latest email
    first_body: str | None = None  # of our first email, which gave the thread its subject


def subject_for(
    thread: EmailThread, *, template: str, brand: str, body: str, answering: bool
) -> str:
    """The subject of the next email: ``Re:`` the consumer's subject, else ``Re:`` our
    first email's, else the template's (a conversation's first email)."""
    consumer = " ".join((thread.subject or "").split())
    if consumer:
        return consumer if _ANSWER_PREFIX.match(consumer) else f"Re: {consumer}"
    ours = " ".join(
        template.format(brand=brand, first_line=first_line(thread.first_body or body)).split()
    )
    return f"Re: {ours}" if answering else ours


def first_line(body: str) -> str:
    """The body's first non-empty line, cut on a word at ``FIRST_LINE_CHARACTERS``."""
    line = next((" ".join(text.split()) for text in body.splitlines() if text.strip()), "")
    if len(line) <= FIRST_LINE_CHARACTERS:
        return line
    cut = line[: FIRST_LINE_CHARACTERS + 1].rsplit(" ", 1)[0]
    if len(cut) > FIRST_LINE_CHARACTERS or len(cut) < FIRST_LINE_CHARACTERS // 2:
        cut = line[:FIRST_LINE_CHARACTERS]
    return cut.rstrip(" ,;:.-") + "…"
