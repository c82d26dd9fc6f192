"""Why a message is sent: its own module, light enough for the CLI's options."""

from __future__ import annotations

from enum import StrEnum


class Purpose(StrEnum):
    """Why a message is sent. Consent is kept for the last two; a conversational reply
    needs the contact to have written recently, which the conversation knows."""

    CONVERSATIONAL = "conversational"
    SERVICE = "service"
    MARKETING = "marketing"
