"""The bot in a conversation: a flow started (a keyword, a new conversation, the API), the
consumer's replies answered, a question's deadline enforced.

The engine (``domain.dialogue``) decides; here its facts are recorded on the
conversation's ``Bot`` and carried out in the same unit of work: each question or text
is queued in the conversation as any reply is (asking the send policy first), an answer
with ``store_as`` is set on the contact, and a hand-off puts the conversation in its
team's queue with its priority. A dialogue finishes on the version it started on: the
library keeps every version.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from chainon.domain import commands as cmd
from chainon.domain import dialogue as d
from chainon.domain import ids
from chainon.domain.addresses import Address
from chainon.domain.bot import Bot, Trigger
from chainon.domain.brand import Brand
from chainon.domain.campaign import Campaign
from chainon.domain.channel_choice import reply_channel
from chainon.domain.channels import CHANNEL_ADDRESS_KIND, Channel
from chainon.domain.consent import Purpose
from chainon.domain.contact import Contact
from chainon.domain.conversation import MAX_PRIORITY, Conversation
from chainon.domain.conversation_rules import desk_holder, last_outbound
from chainon.domain.errors import InvalidInput, NotFound, TransitionRefused
from chainon.domain.flow import FlowDocument
from chainon.domain.flow_library import FlowLibrary, PublishedFlow
from chainon.domain.routing import destination
from chainon.domain.routing_rules import route, situation_of
from chainon.domain.send_policy import Verdict
from chainon.flow_documents import render
from chainon.handlers.agents import keep_desks
from chainon.handlers.loading import Handled, Loader, conversation_of, get, outcome_of
from chainon.handlers.outbound import Queued, held, queue
from chainon.handlers.policy import ask

# A flow's priority in the queue's scale (0 normal to MAX_PRIORITY urgent).
PRIORITIES = {"low": 0, "normal": 0, "high": MAX_PRIORITY - 1, "urgent": MAX_PRIORITY}
_PARSED: dict[str, FlowDocument] = {}  # by sha256: a published version never changes


def document(published: PublishedFlow) -> FlowDocument:
    found = _PARSED.get(published.sha256)
    if found is None:
        if len(_PARSED) > 256:
            _PARSED.clear()
        found = _PARSED[published.sha256] = published.flow()
    return found


def library_of(loader: Loader, brand_id: UUID) -> FlowLibrary | None:
    return loader.find(FlowLibrary, ids.flow_library_id(brand_id))


def bot_of(loader: Loader, conversation: Conversation, now: datetime) -> Bot:
    found = loader.find(Bot, ids.bot_id(conversation.id))
    return found or Bot.open(conversation.brand_id, conversation.id, at=now)


@dataclass
class Scene:
    """Where the bot speaks: the conversation, and the channel and address it answers on."""

    loader: Loader
    brand: Brand
    conversation: Conversation
    contact: Contact
    channel: Channel
    address: Address
    request: cmd.Command
    now: datetime

    def say(self, prompt: d.Prompt) -> UUID:
        """Queues the bot's message as a reply is queued; its id."""
        body, rich = prompt.for_channel(self.channel)
        message = Queued(self.channel, self.address, body, rich, message_id=uuid4())
        brand, conversation, contact = self.brand, self.conversation, self.contact
        decision = ask(
            self.loader,
            brand,
            conversation,
            contact,
            Purpose.SERVICE,
            self.channel,
            self.address,
            self.now,
        )
        if decision.verdict is Verdict.ALLOWED:
            outcome = queue(
                brand, conversation, contact, message, self.now, reopen=True, request=None
            )
        else:
            outcome = held(brand, conversation, message, decision, self.now, self.request)
        assert outcome.message_id is not None
        return outcome.message_id

    def values(self) -> dict[str, str]:
        """What a flow's templates see: the contact's attributes, and its name."""
        name = {"name": self.contact.name} if self.contact.name else {}
        return {**name, **self.contact.attributes}

    def play(
        self,
        bot: Bot,
        turn: d.Turn,
        *,
        trigger: Trigger = "api",
        answer_id: UUID | None = None,
    ) -> list[Aggregate]:
        """Records the turn's facts and carries them out."""
        for given in turn.facts:
            fact = self.routed(bot, given) if isinstance(given, d.HandedOff) else given
            sent = self.say(fact.prompt) if isinstance(fact, d.QuestionAsked | d.Told) else None
            bot.record(fact, at=self.now, trigger=trigger, message_id=sent or answer_id)
            if isinstance(fact, d.AnswerCollected) and fact.store_as is not None:
                self.contact.set_attribute(fact.store_as, fact.value, at=self.now)
            elif isinstance(fact, d.HandedOff):
                conversation = self.conversation
                conversation.assign(agent=conversation.agent, team=fact.team, at=self.now)
                conversation.prioritize(PRIORITIES[fact.priority], at=self.now)
        self.settle(bot)
        return [bot, self.conversation, self.contact]

    def routed(self, bot: Bot, fact: d.HandedOff) -> d.HandedOff:
        """The hand-off to the team the brand's routing rules pick, if one holds."""
        flow = bot.dialogue.flow if bot.dialogue is not None else None
        situation = situation_of(
            self.conversation, self.contact.attributes, flow=flow, outcome=fact.reason
        )
        found = route(self.brand.routing_rules, situation)
        if found is None:
            return fact
        return replace(fact, team=found.team, priority=found.priority)

    def settle(self, bot: Bot) -> None:
        """A survey on resolution that ended without a person (completed, closed, stopped)
        leaves the conversation resolved, as the agent left it."""
        over = bot.dialogue is not None and bot.dialogue.status in (
            d.Status.COMPLETED,
            d.Status.CLOSED,
        )
        if bot.trigger == "resolution" and over and not self.conversation.resolved:
            self.conversation.resolve(by="bot", at=self.now)


def scene_for(
    loader: Loader, conversation: Conversation, request: cmd.Command, now: datetime
) -> Scene:
    """The bot's scene where it speaks first: on the channel a reply would take."""
    brand = get(loader, Brand, conversation.brand_id)
    contact = get(loader, Contact, conversation.contact_id)
    channel = reply_channel(brand, contact, conversation)
    address = contact.address_of(CHANNEL_ADDRESS_KIND[channel])
    if address is None:
        raise InvalidInput(f"the contact has no address {channel.value} can reach", field="flow")
    return Scene(loader, brand, conversation, contact, channel, address, request, now)


def start(scene: Scene, bot: Bot, published: PublishedFlow, trigger: Trigger) -> list[Aggregate]:
    """The flow's first turn, in the language the consumer writes in when the flow speaks
    it (its first language otherwise: a keyword alone tells nothing)."""
    flow = document(published)
    spoken = situation_of(scene.conversation, {}).language
    turn = d.start(
        flow,
        published.version,
        values=scene.values(),
        render=render,
        now=scene.now,
        language=spoken,
    )
    return scene.play(bot, turn, trigger=trigger)


def start_flow(loader: Loader, command: cmd.StartFlow, now: datetime) -> Handled:
    """The API's start: the latest version of the flow, in a conversation no dialogue
    holds (one in progress is refused: two bots would talk over each other)."""
    conversation = conversation_of(loader, command.brand_id, command.conversation_id)
    if conversation.resolved:
        raise TransitionRefused("the conversation is resolved; reopen it first")
    library = library_of(loader, command.brand_id)
    if library is None or command.flow not in library.versions:
        raise NotFound(f"no flow {command.flow!r} is published", field="flow")
    published = library.published(command.flow)
    bot = bot_of(loader, conversation, now)
    if bot.waiting is not None:
        raise TransitionRefused(
            f"flow {bot.waiting.flow!r} is waiting for an answer in this conversation"
        )
    scene = scene_for(loader, conversation, command, now)
    changed = start(scene, bot, published, "api")
    return outcome_of(conversation, True), changed


def survey(
    loader: Loader, conversation: Conversation, request: cmd.Command, now: datetime
) -> list[Aggregate]:
    """The flow a brand starts when an agent resolves a conversation (``triggers.
    resolution``, the first by name), unless a dialogue already waits there."""
    library = library_of(loader, conversation.brand_id)
    if library is None:
        return []
    found = next((p for p in library.latest() if document(p).triggers.resolution), None)
    bot = bot_of(loader, conversation, now)
    if found is None or bot.waiting is not None:
        return []
    scene = scene_for(loader, conversation, request, now)
    return start(scene, bot, found, "resolution")


def expire_dialogue(loader: Loader, command: cmd.ExpireDialogue, now: datetime) -> Handled:
    """The scheduler saw a question's deadline pass: the dialogue times out (hands off or
    closes) if it still waits on that question; otherwise nothing (a repeat, an answer
    that came in time)."""
    conversation = get(loader, Conversation, command.conversation_id)
    bot = loader.find(Bot, ids.bot_id(conversation.id))
    waiting = bot.waiting if bot is not None else None
    if bot is None or waiting is None or waiting.deadline is None:
        return outcome_of(conversation, False), []
    library = library_of(loader, conversation.brand_id)
    assert library is not None  # a dialogue started on a published flow
    flow = document(library.published(waiting.flow, waiting.version))
    scene = scene_for(loader, conversation, command, now)
    moment = max(now, waiting.deadline) if command.now else now
    turn = d.expire(flow, waiting, values=scene.values(), render=render, now=moment)
    if not turn.facts:
        return outcome_of(conversation, False), []
    held_by = desk_holder(conversation)
    changed = scene.play(bot, turn)
    return outcome_of(conversation, True), [
        *changed,
        *keep_desks(loader, conversation, held_by, now),
    ]


@dataclass(frozen=True)
class Heard:
    """A consumer's message as the bot hears it."""

    message_id: UUID
    channel: Channel
    sender: Address
    recipient: str
    body: str
    postback: str | None
    first: bool  # the first message of a new conversation
    opted_out: bool  # consent handling read an opt-out: the bot falls silent
    consent_words: bool  # a keyword consent handling answered: not an answer


def hear(
    loader: Loader,
    brand: Brand,
    conversation: Conversation,
    contact: Contact,
    heard: Heard,
    request: cmd.Command,
    now: datetime,
) -> list[Aggregate]:
    """The bot's part in an inbound message, after consent handling: an opt-out ends the
    dialogue, an answer goes to the dialogue waiting for it, and a keyword or a new
    conversation on a flow's sender address starts one.

    A brand with no flow library has no dialogue anywhere (every start needs a published
    flow): no bot is looked up for its messages, which was most of this function's cost."""
    library = library_of(loader, brand.id)
    if library is None:
        return []
    bot = loader.find(Bot, ids.bot_id(conversation.id))
    if heard.opted_out:
        if bot is not None and bot.stop("opt_out", at=now):
            return [bot]
        return []
    if heard.consent_words:
        return []
    scene = Scene(loader, brand, conversation, contact, heard.channel, heard.sender, request, now)
    waiting = bot.waiting if bot is not None else None
    if bot is not None and waiting is not None:
        flow = document(library.published(waiting.flow, waiting.version))
        turn = d.reply(
            flow,
            waiting,
            _answer(heard.channel, heard.body),
            values=scene.values(),
            render=render,
            now=now,
            postback=heard.postback,
        )
        return scene.play(bot, turn, answer_id=heard.message_id)
    found = _triggered(loader, library, heard, _campaign_replied(loader, conversation))
    if found is None:
        return []
    published, trigger = found
    return start(scene, bot or bot_of(loader, conversation, now), published, trigger)


def _campaign_replied(loader: Loader, conversation: Conversation) -> Campaign | None:
    """The campaign this message answers: the one that sent the conversation's last
    message, when a campaign did."""
    last = last_outbound(conversation)
    if last is None or last.campaign_id is None:
        return None
    return loader.find(Campaign, last.campaign_id)


def _triggered(
    loader: Loader, library: FlowLibrary, heard: Heard, campaign: Campaign | None
) -> tuple[PublishedFlow, Trigger] | None:
    """The flow this message starts: by its keyword, else by the campaign it answers,
    else (a new conversation's first message) by the brand address it was written to;
    flows in name order."""
    flows = [(p, document(p)) for p in library.latest()]
    for published, flow in flows:
        if flow.triggers.on_keyword(heard.body):
            return published, "keyword"
    for published, flow in flows:
        if campaign is not None and flow.triggers.on_campaign_reply(
            str(campaign.id), campaign.name
        ):
            return published, "campaign_reply"
    if not heard.first:
        return None
    to = _address(heard.channel, heard.recipient, loader.default_region)
    for published, flow in flows:
        if to is not None and any(
            _address(heard.channel, s, loader.default_region) == to for s in flow.triggers.senders
        ):
            return published, "new_conversation"
    return None


def _answer(channel: Channel, body: str) -> str:
    """The answer in a message: an email's reply without the quoted history under it."""
    if channel is not Channel.EMAIL:
        return body
    lines = body.strip().splitlines()
    kept = [line for line in lines if not line.lstrip().startswith(">")]
    return "\n".join(kept).strip() or body


def _address(channel: Channel, raw: str, region: str) -> str | None:
    try:
        return destination(channel, raw, region)
    except InvalidInput:
        return None
