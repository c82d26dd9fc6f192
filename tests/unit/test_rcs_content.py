"""Each suggested action spelled as RBM's ``contentMessage`` reads it (replies, open-URL
chips and cards are checked against the fake RBM in tests/integration/test_rcs.py)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from chainon.adapters.channels.rcs.content import content_message
from chainon.domain.rich_content import (
    CreateCalendarEvent,
    Dial,
    RichContent,
    ShareLocation,
    SuggestedAction,
    ViewLocation,
)

PARIS = timezone(timedelta(hours=2))


def chip(action: object, **extra: object) -> dict[str, object]:
    suggestion = SuggestedAction.model_validate(
        {"text": "Go", "postback_data": "go", "action": action, **extra}
    )
    [spelled] = content_message(RichContent(text="t", suggestions=[suggestion]))["suggestions"]
    return dict(spelled["action"])


def test_dial_share_location_and_a_fallback_url() -> None:
    assert chip(Dial(phone_number="+33939000001"), fallback_url="https://a.example/call") == {
        "text": "Go",
        "postbackData": "go",
        "dialAction": {"phoneNumber": "+33939000001"},
        "fallbackUrl": "https://a.example/call",
    }
    assert chip(ShareLocation())["shareLocationAction"] == {}


def test_view_location_by_pin_or_by_query() -> None:
    pin = ViewLocation(latitude=48.8606, longitude=2.3376, label="Boutique Rivoli")
    assert chip(pin)["viewLocationAction"] == {
        "latLong": {"latitude": 48.8606, "longitude": 2.3376},
        "label": "Boutique Rivoli",
    }
    assert chip(ViewLocation(query="Maison Lumière Lyon"))["viewLocationAction"] == {
        "query": "Maison Lumière Lyon"
    }


def test_a_calendar_event_in_utc_timestamps() -> None:
    start = datetime(2026, 5, 4, 10, 0, tzinfo=PARIS)
    event = CreateCalendarEvent(
        start_time=start, end_time=start + timedelta(minutes=30), title="Retrait en boutique"
    )
    assert chip(event)["createCalendarEventAction"] == {
        "startTime": "2026-05-04T08:00:00Z",
        "endTime": "2026-05-04T08:30:00Z",
        "title": "Retrait en boutique",
        "description": "",
    }


def test_plain_text_has_no_suggestions_key() -> None:
    assert content_message(RichContent(text="Merci !")) == {"text": "Merci !"}
