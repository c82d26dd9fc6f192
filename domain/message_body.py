"""What a message body may be on each channel, and what it costs on SMS."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from chainon.domain.channels import Channel
from chainon.domain.errors import InvalidInput
from chainon.domain.sms_encoding import Encoding, plan_segments, smart_encode_if_cheaper

# Operators and aggregators refuse or truncate beyond about ten parts (Twilio: 1,600
# characters); ten keeps a message affordable and deliverable everywhere.
MAX_SMS_SEGMENTS = 10
# RBM's limit for a text message.
MAX_RCS_CHARACTERS = 3072
MAX_EMAIL_CHARACTERS = 100_000


@dataclass(frozen=True)
class PreparedBody:
    text: str
    encoding: Encoding | None  # SMS only
    segments: int  # SMS parts; 1 on other channels
    replaced: tuple[str, ...]  # characters smart encoding replaced


def prepare_body(
    text: str, channel: Channel, *, smart_encoding: bool = False, field: str = "body"
) -> PreparedBody:
    """Checks the body for the channel and, for SMS, plans its segments.

    Emptiness is judged on the text as it will go, after smart encoding, and counting
    invisible characters as nothing: a body of zero-width spaces or soft hyphens would
    otherwise reach the handset as an empty message.
    """
    replaced: tuple[str, ...] = ()
    if channel is Channel.SMS and smart_encoding:
        text, replaced = smart_encode_if_cheaper(text)
    if is_blank(text):
        raise InvalidInput(
            "must not be empty (spaces and invisible characters do not count)", field=field
        )
    if channel is Channel.SMS:
        plan = plan_segments(text)
        if plan.count > MAX_SMS_SEGMENTS:
            raise InvalidInput(
                f"is {plan.count} SMS segments ({plan.encoding.value}); "
                f"at most {MAX_SMS_SEGMENTS} are allowed",
                field=field,
            )
        return PreparedBody(text, plan.encoding, plan.count, replaced)
    limit = MAX_RCS_CHARACTERS if channel is Channel.RCS else MAX_EMAIL_CHARACTERS
    if len(text) > limit:
        raise InvalidInput(
            f"is {len(text)} characters; {channel.value} allows at most {limit}", field=field
        )
    return PreparedBody(text, None, 1, ())


def is_blank(text: str) -> bool:
    """Nothing a reader would see: spaces, and format characters (Unicode ``Cf``: zero-width
    spaces and joiners, the BOM, the soft hyphen, direction marks)."""
    return all(char.isspace() or unicodedata.category(char) == "Cf" for char in text)
