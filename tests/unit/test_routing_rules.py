"""Routing rules: the first rule that holds picks the team; the document is checked whole."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from chainon.domain.brand import Brand
from chainon.domain.channels import Channel
from chainon.domain.conversation import Conversation
from chainon.domain.routing_rules import (
    Criteria,
    Route,
    RoutingRules,
    Rule,
    Situation,
    Target,
    holds,
    route,
    situation_of,
)

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
ENGLISH = Situation(
    sender="+447700900123",
    recipient="+33939000001",
    texts=("Hello, I need help with my order",),
    language="en",
    attributes={"tier": "gold"},
    flow="delivery-details",
    outcome="failure",
)


def rules(*given: dict[str, object], default: dict[str, str] | None = None) -> RoutingRules:
    return RoutingRules.model_validate({"rules": list(given), "default": default})


def test_the_first_rule_that_holds_wins() -> None:
    document = rules(
        {"when": {"language": ["fr"]}, "team": "france"},
        {"when": {"language": ["en"]}, "team": "english", "priority": "high"},
        {"team": "everyone"},
    )
    assert route(document, ENGLISH) == Route("english", "high", 1)


def test_no_rule_holding_takes_the_default_else_leaves_the_flow_its_own() -> None:
    document = rules({"when": {"flow": ["csat"]}, "team": "quality"})
    assert route(document, ENGLISH) is None
    with_default = rules({"when": {"flow": ["csat"]}, "team": "quality"}, default={"team": "desk"})
    assert route(with_default, ENGLISH) == Route("desk", "normal", None)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ({"sender": ["+44*"]}, True),
        ({"sender": ["+33*"]}, False),
        ({"recipient": ["+33939000001"]}, True),
        ({"keywords": ["ORDER"]}, True),
        ({"keywords": ["refund", "need help"]}, True),
        ({"keywords": ["ord"]}, False),  # a word, not a part of one
        ({"attributes": {"tier": "gold"}}, True),
        ({"attributes": {"tier": "*"}}, True),
        ({"attributes": {"city": "*"}}, False),
        ({"flow": ["delivery-details"], "outcome": ["failure", "timeout"]}, True),
        ({"flow": ["delivery-details"], "outcome": ["keyword"]}, False),
        ({}, True),
    ],
)
def test_each_criterion(when: dict[str, object], expected: bool) -> None:
    assert holds(Criteria.model_validate(when), ENGLISH) is expected


def test_an_email_sender_matches_its_domain_case_aside() -> None:
    situation = Situation(sender="Ana@Example.ORG")
    assert holds(Criteria(sender=["*@example.org"]), situation)
    assert not holds(Criteria(sender=["*@example.com"]), situation)


def test_a_bad_rule_is_refused_naming_its_field() -> None:
    with pytest.raises(ValidationError) as refused:
        rules({"team": "ok"}, {"team": "ok"}, {"team": "Not A Team"})
    assert refused.value.errors()[0]["loc"] == ("rules", 2, "team")
    with pytest.raises(ValidationError):
        rules({"team": "ok", "when": {"language": ["de"]}})
    with pytest.raises(ValidationError):
        rules({"team": "ok", "when": {"colour": ["red"]}})


def test_the_situation_reads_what_the_consumer_wrote() -> None:
    conversation = Conversation.open(uuid4(), uuid4(), uuid4(), 1, at=NOW)
    for n, body in enumerate(["Bonjour", "je voudrais changer ma livraison"]):
        conversation.receive(
            message_id=uuid4(),
            channel=Channel.SMS,
            sender="+33612345678",
            recipient="+33939000001",
            body=body,
            provider="sandbox",
            provider_message_id=f"p{n}",
            at=NOW,
        )
    conversation.receive(
        message_id=uuid4(),
        channel=Channel.SMS,
        sender="+33612345678",
        recipient="+33939000001",
        body="I am out of the office",
        provider="sandbox",
        provider_message_id="auto",
        at=NOW,
        automatic=True,
    )
    found = situation_of(conversation, {"tier": "gold"}, flow="csat", outcome="step")
    assert found.texts == ("Bonjour", "je voudrais changer ma livraison")
    assert (found.sender, found.recipient, found.language) == ("+33612345678", "+33939000001", "fr")
    assert (found.flow, found.outcome, found.attributes) == ("csat", "step", {"tier": "gold"})


teams = st.sampled_from(["desk", "france", "english", "quality"])
languages = st.sampled_from(["fr", "en"])


@given(st.lists(st.tuples(st.lists(languages, max_size=2), teams), max_size=6), languages)
def test_the_route_is_the_first_rule_whose_languages_hold(
    given_rules: list[tuple[list[str], str]], spoken: str
) -> None:
    document = RoutingRules(
        rules=[
            Rule(team=t, when=Criteria.model_validate({"language": ls})) for ls, t in given_rules
        ],
        default=Target(team="fallback"),
    )
    found = route(document, Situation(language=spoken))
    first = next((i for i, (ls, _) in enumerate(given_rules) if not ls or spoken in ls), None)
    assert found is not None
    assert found.rule == first
    assert found.team == (given_rules[first][1] if first is not None else "fallback")
    assert route(document, Situation(language=spoken)) == found  # the same every time


criteria = st.fixed_dictionaries(
    {},
    optional={
        "sender": st.lists(st.sampled_from(["+336*", "+44*", "*@example.org"]), max_size=2),
        "keywords": st.lists(st.sampled_from(["remboursement", "refund", "colis"]), max_size=2),
        "language": st.lists(languages, max_size=2),
        "attributes": st.dictionaries(
            st.sampled_from(["tier", "city"]), st.sampled_from(["gold", "*", "Lyon"]), max_size=2
        ),
        "flow": st.lists(st.sampled_from(["csat", "delivery-details"]), max_size=2),
        "outcome": st.lists(st.sampled_from(["step", "keyword", "failure", "timeout"]), max_size=2),
    },
)
situations = st.builds(
    Situation,
    sender=st.sampled_from([None, "+33612345678", "+447700900123", "ana@example.org"]),
    texts=st.lists(st.sampled_from(["Je veux un remboursement", "refund please", "ok"])).map(tuple),
    language=st.sampled_from([None, "fr", "en"]),
    attributes=st.dictionaries(
        st.sampled_from(["tier", "city"]), st.sampled_from(["gold", "Lyon"]), max_size=2
    ),
    flow=st.sampled_from([None, "csat", "delivery-details"]),
    outcome=st.sampled_from([None, "step", "keyword", "failure", "timeout"]),
)


@given(st.lists(st.tuples(criteria, teams), max_size=8), situations)
def test_the_chosen_rule_holds_and_none_before_it_does(
    given_rules: list[tuple[dict[str, object], str]], situation: Situation
) -> None:
    document = RoutingRules(
        rules=[Rule(team=t, when=Criteria.model_validate(w)) for w, t in given_rules]
    )
    found = route(document, situation)
    held = [holds(rule.when, situation) for rule in document.rules]
    if found is None:
        assert not any(held)
    else:
        assert found.rule is not None
        assert held[found.rule]
        assert not any(held[: found.rule])
        assert found.team == document.rules[found.rule].team


def test_the_brand_records_the_document_once_with_who_set_it() -> None:
    brand = Brand.register(slug="maison", name="Maison", at=NOW)
    document = rules({"when": {"language": ["en"]}, "team": "english"}, default={"team": "desk"})
    assert brand.configure_routing(document, actor="api_key:k1", at=NOW)
    assert not brand.configure_routing(document, actor="api_key:k2", at=NOW)
    assert brand.routing_rules == document
    (change,) = brand.routing_history
    assert (change.by, change.settings["default"]["team"]) == ("api_key:k1", "desk")
    events = brand.collect_events()
    configured = [e for e in events if isinstance(e, Brand.RoutingRulesConfigured)]
    assert configured[0].rules["rules"][0]["team"] == "english"
    copy = None
    for event in events:
        copy = event.mutate(copy)
    assert isinstance(copy, Brand)
    assert copy.routing_rules == document
