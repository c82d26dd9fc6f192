"""The opt-out mention a marketing SMS carries, and the keyword confirmations."""

from __future__ import annotations

import pytest

from chainon.domain.marketing_rules import (
    Country,
    confirmation,
    country_of_number,
    has_mention,
    mention_of,
)


@pytest.mark.parametrize(
    "body",
    [
        "Soldes -30% ce week-end ! STOP au 36180",
        "Nouveautés en boutique. Stop SMS",
        "Offre du jour… STOP au 0939000001.",
        "-20 % sur tout : stop au 36173",
    ],
)
def test_french_mentions_are_found(body: str) -> None:
    assert has_mention(body, Country.FR)


@pytest.mark.parametrize(
    "body",
    [
        "Sale 30% off today. Reply STOP to opt out",
        "New drops! Text STOP to unsubscribe.",
        "Flash sale: reply stop to end",
        "Deals inside. STOP to opt out",
    ],
)
def test_us_mentions_are_found(body: str) -> None:
    assert has_mention(body, Country.US)


@pytest.mark.parametrize(
    ("body", "country"),
    [
        ("Soldes -30% ce week-end !", Country.FR),
        ("Ne stoppez pas vos achats", Country.FR),
        ("Sale 30% off today", Country.US),
        ("Don't stop shopping!", Country.US),
    ],
)
def test_a_body_without_the_mention_has_none(body: str, country: Country) -> None:
    assert not has_mention(body, country)


def test_the_appended_mention_names_the_brands_number_in_the_french_way() -> None:
    assert mention_of(Country.FR, "+33939000001") == "STOP au 0939000001"
    assert mention_of(Country.FR, "36180") == "STOP au 36180"
    assert mention_of(Country.US, "+12025550100") == "Reply STOP to opt out"
    assert has_mention("Soldes " + mention_of(Country.FR, "+33939000001"), Country.FR)


def test_countries_of_numbers() -> None:
    assert country_of_number("+33612345678") is Country.FR
    assert country_of_number("+262692123456") is Country.FR  # Réunion follows France
    assert country_of_number("+12125550123") is Country.US
    assert country_of_number("+14165550123") is None  # Canada: no policy shipped
    assert country_of_number("+447700900123") is None


def test_confirmations_in_the_brands_language_carry_no_marketing() -> None:
    fr = confirmation("opt_out", "Maison Lumière", "fr")
    assert fr.startswith("Maison Lumière : votre désinscription")
    assert "START" in fr
    en = confirmation("opt_out", "Acme", "en")
    assert en.startswith("Acme: You are unsubscribed")
    assert confirmation("help", "Acme", "xx").startswith("Acme: Reply STOP")
