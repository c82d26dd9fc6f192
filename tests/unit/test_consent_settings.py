"""A brand's consent settings: what they change, where the law stops them, and how the
brand records them (no store: the aggregate and its events only)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

import pytest
from pydantic import ValidationError

from chainon.domain.brand import Brand
from chainon.domain.consent import Scope
from chainon.domain.consent_settings import DEFAULT_RULES, ConsentSettings, rules_of
from chainon.domain.errors import InvalidInput
from chainon.domain.keywords import DEFAULT_BOOK, KeywordAction

AT = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def refused(document: dict[str, Any]) -> str | None:
    with pytest.raises(InvalidInput) as caught:
        rules_of(ConsentSettings.model_validate(document))
    return caught.value.field


def test_a_brand_that_sets_nothing_decides_as_the_defaults() -> None:
    brand = Brand.register(slug="maison", name="Maison", at=AT)
    assert brand.consent_rules is DEFAULT_RULES
    assert DEFAULT_RULES.book == DEFAULT_BOOK
    assert (DEFAULT_RULES.quiet_hours, DEFAULT_RULES.scope) == ({}, Scope.ALL_CHANNELS)
    assert DEFAULT_RULES.reply("opt_in", "en", "Maison").startswith("Maison: You are subscribed")


def test_words_are_added_and_defaults_taken_away() -> None:
    keywords = {
        "fr": {"opt_in": {"add": ["Oui"]}, "opt_out": {"remove": ["désabonner"]}},
        "en": {"opt_out": {"remove": ["END"]}, "opt_in": {"add": ["YES"]}},
    }
    rules = rules_of(ConsentSettings.model_validate({"keywords": keywords}))
    for word, action in (("oui", KeywordAction.OPT_IN), ("yes", KeywordAction.OPT_IN)):
        found = rules.book.keyword_of(word)
        assert found is not None
        assert found.action is action
    assert rules.book.keyword_of("end") is None
    assert rules.book.keyword_of("DÉSABONNER") is None
    assert rules.removed == {"end", "desabonner"}
    assert rules.book.keyword_of("stop") is not None


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"keywords": {"fr": {"opt_out": {"remove": ["Stop SMS"]}}}}, "keywords.fr.opt_out.remove"),
        (
            {"keywords": {"en": {"opt_out_all": {"remove": ["STOPALL"]}}}},
            "keywords.en.opt_out_all.remove",
        ),
        ({"keywords": {"en": {"help": {"remove": ["AIDE"]}}}}, "keywords.en.help.remove"),
        ({"keywords": {"fr": {"opt_out": {"add": ["START"]}}}}, "keywords.fr.opt_out.add"),
        ({"texts": {"en": {"opt_in": "Back! Deals at www.example.com"}}}, "texts.en.opt_in"),
        ({"quiet_hours": {"US": {"opens": "09:00", "closes": "08:00"}}}, "quiet_hours.US"),
        ({"quiet_hours": {"FR": {"days": []}}}, "quiet_hours.FR.days"),
        ({"quiet_hours": {"FR": {"days": ["mon", "sun"]}}}, "quiet_hours.FR"),
        ({"quiet_hours": {"US": {"closes": "21:30"}}}, "quiet_hours.US"),
    ],
)
def test_past_the_rules_limits_the_field_is_named(document: dict[str, Any], field: str) -> None:
    assert refused(document) == field


@pytest.mark.parametrize("opens", ["00:00:00Z", "09:00+02:00"])
def test_a_window_is_wall_clock_time_an_offset_is_refused(opens: str) -> None:
    """Found by schemathesis: an offset once reached the comparison and failed it (500)."""
    with pytest.raises(ValidationError) as refusal:
        ConsentSettings.model_validate({"quiet_hours": {"FR": {"opens": opens}}})
    (error,) = refusal.value.errors()
    assert error["loc"] == ("quiet_hours", "FR", "opens")
    assert "without offset" in error["msg"]


def test_a_narrower_window_needs_no_override_and_a_wider_one_is_recorded_with_who() -> None:
    brand = Brand.register(slug="maison", name="Maison", at=AT)
    narrow = ConsentSettings.model_validate(
        {"quiet_hours": {"FR": {"opens": "10:00", "days": ["mon", "tue", "wed"]}}}
    )
    assert brand.configure_consent(narrow, actor="api_key:a", at=AT)
    policy = brand.consent_rules.quiet_hours_for("FR")
    assert policy is not None
    assert (policy.opens, policy.closes, policy.days) == (time(10), time(20), frozenset({0, 1, 2}))
    assert brand.quiet_hours_overrides == {}
    wide = ConsentSettings.model_validate(
        {"quiet_hours": {"US": {"opens": "07:00", "override": {"reason": "B2B"}}}}
    )
    assert brand.configure_consent(wide, actor="api_key:b", at=AT)
    assert not brand.configure_consent(wide, actor="api_key:c", at=AT)
    (kept,) = brand.quiet_hours_overrides.values()
    assert (kept.reason, kept.by) == ("B2B", "api_key:b")
    assert [c.by for c in brand.consent_history] == ["api_key:a", "api_key:b"]
    # Another change by another key, the wide window untouched: its override stays b's.
    scoped = wide.model_copy(update={"opt_out_scope": Scope.CHANNEL})
    assert brand.configure_consent(scoped, actor="api_key:c", at=AT)
    assert brand.quiet_hours_overrides["US"].by == "api_key:b"
    assert brand.consent_rules.scope is Scope.CHANNEL
    assert brand.consent_rules.quiet_hours_for("FR") is None  # the whole document: FR reset


def test_the_mention_set_the_old_way_is_part_of_the_document() -> None:
    brand = Brand.register(slug="maison", name="Maison", at=AT)
    brand.configure_opt_out_mention(True, at=AT)
    assert brand.current_consent_settings().append_opt_out_mention is True
    assert not brand.configure_consent(
        ConsentSettings(append_opt_out_mention=True), actor="", at=AT
    )


def test_a_brand_text_stands_for_the_default_with_its_name() -> None:
    rules = rules_of(ConsentSettings.model_validate({"texts": {"fr": {"help": "{brand} : 01 02"}}}))
    assert rules.reply("help", "fr", "Maison", help_text="ignored") == "Maison : 01 02"
    assert rules.reply("help", "en", "Maison", help_text="Call us") == "Call us"
