"""Rich content as RBM's ``contentMessage`` JSON (phones.agentMessages, AgentContentMessage).

The domain model already holds RBM's limits; this only spells it the way the API reads it:
camelCase, one key per union member, media by public URL (``contentInfo.fileUrl``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chainon.domain.rich_content import (
    Card,
    CreateCalendarEvent,
    Dial,
    OpenUrl,
    RichContent,
    ShareLocation,
    SuggestedReply,
    Suggestion,
    ViewLocation,
)

JSON = dict[str, Any]


def content_message(content: RichContent) -> JSON:
    message: JSON = {}
    if content.text is not None:
        message["text"] = content.text
    elif content.card is not None:
        standalone: JSON = {
            "cardOrientation": content.card_orientation.value,
            "cardContent": _card(content.card),
        }
        if content.thumbnail_alignment is not None:
            standalone["thumbnailImageAlignment"] = content.thumbnail_alignment.value
        message["richCard"] = {"standaloneCard": standalone}
    else:
        message["richCard"] = {
            "carouselCard": {
                "cardWidth": content.card_width.value,
                "cardContents": [_card(card) for card in content.cards],
            }
        }
    if content.suggestions:
        message["suggestions"] = [_suggestion(s) for s in content.suggestions]
    return message


def _card(card: Card) -> JSON:
    out: JSON = {}
    if card.title is not None:
        out["title"] = card.title
    if card.description is not None:
        out["description"] = card.description
    if card.media_url is not None:
        out["media"] = {
            "height": card.media_height.value,
            "contentInfo": {"fileUrl": card.media_url},
        }
    if card.suggestions:
        out["suggestions"] = [_suggestion(s) for s in card.suggestions]
    return out


def _suggestion(suggestion: Suggestion) -> JSON:
    if isinstance(suggestion, SuggestedReply):
        return {"reply": {"text": suggestion.text, "postbackData": suggestion.postback_data}}
    action: JSON = {"text": suggestion.text, "postbackData": suggestion.postback_data}
    kind = suggestion.action
    if isinstance(kind, OpenUrl):
        action["openUrlAction"] = {"url": kind.url}
    elif isinstance(kind, Dial):
        action["dialAction"] = {"phoneNumber": kind.phone_number}
    elif isinstance(kind, ViewLocation):
        where: JSON = {}
        if kind.query is not None:
            where["query"] = kind.query
        else:
            where["latLong"] = {"latitude": kind.latitude, "longitude": kind.longitude}
            if kind.label is not None:
                where["label"] = kind.label
        action["viewLocationAction"] = where
    elif isinstance(kind, ShareLocation):
        action["shareLocationAction"] = {}
    elif isinstance(kind, CreateCalendarEvent):
        action["createCalendarEventAction"] = {
            "startTime": _timestamp(kind.start_time),
            "endTime": _timestamp(kind.end_time),
            "title": kind.title,
            "description": kind.description,
        }
    if suggestion.fallback_url is not None:
        action["fallbackUrl"] = suggestion.fallback_url
    return {"action": action}


def _timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with a Z, as Google's Timestamp JSON is written."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
