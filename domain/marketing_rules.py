"""What a marketing message must carry, and what a brand says back to a keyword.

A marketing SMS carries the opt-out mention of its recipient's country: in France
"STOP au <number>" or "STOP SMS" (the mobile industry's code of conduct asks for the way
out in every commercial SMS); in the US "Reply STOP to opt out" or a close variant (CTIA
Messaging Principles and Best Practices, and the 10DLC campaign rules). A brand may let
Chainon append it; segments are counted after appending. A marketing email carries
``List-Unsubscribe`` (RFC 2369, with RFC 8058's one-click), which the email adapter adds.

The confirmation of an opt-out is one message, in the brand's language, with no
marketing content (CTIA; the FCC's 2025 rule allows one confirmation within five minutes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from chainon.domain.addresses import read_phone
from chainon.domain.keywords import normalise
from chainon.domain.quiet_hours import FRENCH_TERRITORIES

MAX_BRAND_NAME_IN_TEXT = 40


class Country(StrEnum):
    FR = "FR"
    US = "US"


# On normalised text: lower case, no accents, punctuation as single spaces.
MENTIONS: dict[Country, re.Pattern[str]] = {
    Country.FR: re.compile(r"\bstop (au \d+|sms)\b"),
    Country.US: re.compile(
        r"\b(reply|text|txt|send|respond( with)?) stop (to|2) (opt out|optout|unsubscribe|end"
        r"|cancel|quit|stop)\b|\bstop to (opt out|end|unsubscribe|cancel|quit)\b"
    ),
}


def mention_of(country: Country, sender: str) -> str:
    """The mention Chainon appends for ``country``, naming the brand's own number where
    the custom is to ("STOP au 36180": the French short or long number the STOP goes to)."""
    if country is Country.FR:
        digits = sender.removeprefix("+33")
        number = sender if not digits.isdigit() else ("0" + digits if len(digits) == 9 else digits)
        return f"STOP au {number}"
    return "Reply STOP to opt out"


def has_mention(body: str, country: Country) -> bool:
    return MENTIONS[country].search(normalise(body)) is not None


@dataclass(frozen=True)
class Confirmations:
    """What Chainon answers to a keyword, per language; a brand's own replace them."""

    opt_out: str
    opt_out_all: str
    opt_in: str
    help: str


CONFIRMATIONS: dict[str, Confirmations] = {
    "fr": Confirmations(
        opt_out="{brand} : votre désinscription est prise en compte, vous ne recevrez plus nos"
        " messages promotionnels. Répondez START pour vous réabonner.",
        opt_out_all="{brand} : votre désinscription est prise en compte, vous ne recevrez plus"
        " aucun message de notre part hors réponse à vos demandes.",
        opt_in="{brand} : vous êtes de nouveau inscrit(e). STOP pour vous désinscrire.",
        help="{brand} : pour ne plus recevoir nos messages, répondez STOP.",
    ),
    "en": Confirmations(
        opt_out="{brand}: You are unsubscribed and will receive no more marketing messages."
        " Reply START to resubscribe.",
        opt_out_all="{brand}: You are unsubscribed from all messages except replies to you."
        " Reply START to resubscribe.",
        opt_in="{brand}: You are subscribed again. Reply STOP to opt out.",
        help="{brand}: Reply STOP to opt out. Msg & data rates may apply.",
    ),
}


def language_of(country: Country | None) -> str:
    return "fr" if country is Country.FR else "en"


def country_of_number(number: str) -> Country | None:
    """The marketing-rules country of an E.164 number (French overseas follow France)."""
    region = read_phone(number, "ZZ").region
    if region in FRENCH_TERRITORIES:
        return Country.FR
    return Country.US if region == "US" else None


def confirmation(kind: str, brand_name: str, language: str) -> str:
    texts = CONFIRMATIONS.get(language, CONFIRMATIONS["en"])
    template: str = getattr(texts, kind)
    return template.format(brand=brand_name[:MAX_BRAND_NAME_IN_TEXT])
