"""What a consumer's words do to their consent: STOP, START, HELP and their kin
(``domain.keywords``), and opt-outs in plain words (``domain.opt_out_intent``).

Run on an inbound message once it is recorded in its conversation, in the same decision:
the ledger changes with the message as its evidence, and the one confirmation is queued
beside it. The confirmation is the message the rules allow after an opt-out (one, with no
marketing content), so it does not ask the send policy: a STOPALL has just revoked the
service messages it would otherwise be. An "uncertain" reading stops marketing (the
documented default) and flags the conversation for a person, with no confirmation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from eventsourcing.domain import Aggregate

from chainon.domain.addresses import Address
from chainon.domain.brand import Brand
from chainon.domain.channels import AddressKind, Channel
from chainon.domain.consent import Consent, Evidence, EvidenceSource, Purpose, Scope
from chainon.domain.contact import Contact
from chainon.domain.conversation import Conversation
from chainon.domain.keywords import Keyword, KeywordAction, normalise
from chainon.domain.marketing_rules import country_of_number, language_of
from chainon.domain.opt_out_intent import NONE, IntentOutcome, OptOutIntent, detect_words
from chainon.handlers.consent import ledger_for
from chainon.handlers.loading import Loader
from chainon.handlers.outbound import Queued, queue


@dataclass(frozen=True)
class Words:
    """What consent handling reads in a message: read once, for consent handling and for
    the bot after it (reading plain words for an opt-out is a tenth of an inbound
    message's decision)."""

    keyword: Keyword | None  # a word of the brand's lists
    removed: bool  # a word the brand took away: it means nothing more than it says
    intent: OptOutIntent  # an opt-out in the words (NONE for HELP, START, a removed word)

    @property
    def meaning(self) -> Literal["keyword", "opt_out"] | None:
        """For what runs after consent handling (a bot): a certain opt-out (a keyword of
        the brand's lists, or plain words), another keyword it answers (HELP, START), or
        nothing."""
        if self.keyword is not None:
            if self.keyword.action in (KeywordAction.HELP, KeywordAction.OPT_IN):
                return "keyword"
            return "opt_out"
        return "opt_out" if self.intent.outcome is IntentOutcome.OPT_OUT else None


def read_words(brand: Brand, channel: Channel, body: str) -> Words:
    rules = brand.consent_rules
    text = normalise(words_of(channel, body))  # once: each reading below starts from it
    keyword = rules.book.keyword_of_words(text)
    removed = keyword is None and text in rules.removed
    answered = keyword is not None and keyword.action in (KeywordAction.HELP, KeywordAction.OPT_IN)
    intent = NONE if removed or answered else detect_words(text, rules.book)
    return Words(keyword, removed, intent)


def act_on_words(
    loader: Loader,
    brand: Brand,
    conversation: Conversation,
    contact: Contact,
    message_id: UUID,
    sender: Address,
    channel: Channel,
    body: str,
    now: datetime,
    words: Words,
    flooded: bool,
) -> list[Aggregate]:
    """The ledger (when it changed) for the caller to save; the conversation records the
    reading and, where one is due, the confirmation."""
    rules = brand.consent_rules
    keyword = words.keyword
    if words.removed:
        return []

    def evidence(rule: str, source: EvidenceSource, uncertain: bool = False) -> Evidence:
        return Evidence(
            source=source,
            text=body[:2000],
            channel=channel,
            address=sender.value,
            actor="contact",
            rule=rule,
            message_id=message_id,
            uncertain=uncertain,
        )

    def reply(kind: str) -> None:
        if flooded:  # another automaton, a loop: the words still act, but nothing answers
            return
        words = rules.reply(kind, _language(brand, sender), brand.name, brand.help_text)
        answer = Queued(channel, sender, words, purpose=Purpose.SERVICE)
        queue(brand, conversation, contact, answer, now, reopen=True, request=None)

    if keyword is not None and keyword.action is KeywordAction.HELP:
        conversation.consent_request_read(
            message_id, "help", f"keyword.{keyword.word}", certain=True, at=now
        )
        reply("help")
        return []
    if keyword is not None and keyword.action is KeywordAction.OPT_IN:
        ledger = ledger_for(loader, brand.id, contact.id, now)
        proof = evidence(f"keyword.{keyword.word}", EvidenceSource.KEYWORD)
        changed = ledger.grant(Purpose.MARKETING, proof, at=now)
        if ledger.state(Purpose.SERVICE, channel) is False:
            changed = ledger.grant(Purpose.SERVICE, proof, at=now) or changed
        conversation.consent_request_read(message_id, "opt_in", proof.rule, certain=True, at=now)
        if changed:
            reply("opt_in")
        return [ledger] if changed else []
    intent = words.intent
    if intent.outcome is IntentOutcome.NONE:
        return []
    certain = intent.outcome is IntentOutcome.OPT_OUT
    source = EvidenceSource.KEYWORD if intent.rule.startswith("keyword.") else EvidenceSource.PHRASE
    proof = evidence(intent.rule, source, uncertain=not certain)
    ledger = ledger_for(loader, brand.id, contact.id, now)
    revoked = _revoke(ledger, proof, channel, now, rules.scope, service=intent.stops_service)
    request = "opt_out_all" if intent.stops_service else "opt_out"
    conversation.consent_request_read(message_id, request, intent.rule, certain=certain, at=now)
    if certain and revoked:  # a repeated STOP changes nothing, and is not confirmed again
        reply(request)
    return [ledger] if revoked else []


def words_of(channel: Channel, body: str) -> str:
    """What a message says to consent handling: an email's reply acts by its first line
    (the rest is often the quoted history)."""
    return body.strip().splitlines()[0] if channel is Channel.EMAIL and body.strip() else body


def _revoke(
    ledger: Consent,
    proof: Evidence,
    channel: Channel,
    now: datetime,
    scope: Scope,
    *,
    service: bool,
) -> bool:
    """By the brand's rule: on every channel (the default), or on this one only."""
    revoked = ledger.revoke(Purpose.MARKETING, proof, at=now, channel=channel, scope=scope)
    if service:
        again = ledger.revoke(Purpose.SERVICE, proof, at=now, channel=channel, scope=scope)
        revoked = again or revoked
    return revoked


def _language(brand: Brand, sender: Address) -> str:
    """The brand's language for this contact: by the number's country (French overseas
    follow France); for an email, by the brand's own SMS number."""
    number = sender.value if sender.kind is AddressKind.PHONE else brand.sender_for(Channel.SMS)
    return language_of(country_of_number(number) if number else None)
