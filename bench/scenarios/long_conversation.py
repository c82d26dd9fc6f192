"""Long conversations (issue 18, part 4): does the thousandth message of a conversation
cost what its first did?

Embedded, with the API in this process (``httpx``'s ASGI transport: no socket, the same
routes and middleware), sandbox inbound messages are sent one at a time, each request
waiting until the core recorded it, as ``POST /v1/sandbox/inbound`` answers: first N into
**one** conversation, then N more spread over M conversations. The rate of each block of
(up to) 1,000 messages is reported, and the last block's rate over the first's, for both;
one message at a time, so each is its own unit of work and nothing is batched away.

Beside them: how long a page of the conversation (``GET /v1/conversations/{id}``, 10
messages) takes when it holds 10 messages and when it holds N, and how large its cached
aggregate is: the bytes the decision cache holds for it (its older messages compacted,
``domain.conversation_memory``) beside the same conversation replayed whole, per message.
Every message must be recorded once: the answers name a message each, none a duplicate,
and the store's count of received messages grows by exactly 2N.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from uuid import UUID

from bench.accounting import RECEIVED, Tally
from bench.memory import deep_size
from bench.registry import Context, Kind, measurement
from bench.result import Missing, Result, own_peak_rss
from bench.traffic import BODIES, BRAND_NUMBER, consumer_number

if TYPE_CHECKING:
    import httpx

    from chainon.core import Core

BLOCK = 1000
PAGE = 10  # full at 10 messages as at N: the same work
READS = 20


@measurement("long-conversation", Kind.SCENARIO, modes=("embedded",))
async def long_conversation(ctx: Context) -> Result:
    """Inbound one at a time into one conversation, then spread: rate per 1,000 messages."""
    import httpx

    from chainon.api.app import create_app
    from chainon.domain.channels import Channel
    from chainon.observability import configure_logging
    from chainon.runtime import Runtime

    count, spread = ctx.counts.long_messages, ctx.counts.long_conversations
    block = min(BLOCK, max(count // 4, 1))
    settings = ctx.settings()
    configure_logging("WARNING", json=settings.log_json)
    runtime = Runtime(settings)
    core = runtime.core
    brand = core.register_brand(slug="bench", name="Bench", senders=[(Channel.SMS, BRAND_NUMBER)])
    key = core.api_keys.issue(brand.id, "bench")
    tally = Tally(core, (RECEIVED,), after=core.recorder.max_notification_id() or 0)
    extra: dict[str, Any] = {"block": block, "conversations_spread": spread}
    await runtime.start()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings, runtime=runtime)),
            base_url="http://bench",
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        ) as api:
            with ctx.stages() as cpu:
                started = time.perf_counter()
                one, conversation_id = await _send(api, count, 1, block, "one", extra)
                seconds = time.perf_counter() - started
            extra["page_ms_at_count"] = await _page_ms(api, conversation_id)
            spread_rates, _ = await _send(api, count, spread, block, "spread", extra)
        extra.update(_memory(core, UUID(conversation_id)))
        stored = tally.advance()[RECEIVED]
    finally:
        await runtime.stop()
        runtime.close()
    if stored != 2 * count:
        raise Missing(f"{stored} messages stored, {2 * count} sent")
    for name, rates in (("one_conversation", one), ("spread", spread_rates)):
        extra[f"{name}_rates_per_block"] = " ".join(f"{r:.1f}" for r in rates)
        extra[f"{name}_last_to_first"] = round(rates[-1] / rates[0], 3)
    return Result(
        name="long-conversation",
        mode=ctx.mode,
        count=count,
        seconds=seconds,
        unit="messages",
        limit="sqlite.insert",
        rss={"chainon (embedded, one process, with the client)": own_peak_rss()},
        cpu=cpu.seconds,
        extra=extra,
        settings=settings.model_dump(mode="json"),
    )


async def _send(
    api: httpx.AsyncClient,
    count: int,
    conversations: int,
    block: int,
    label: str,
    extra: dict[str, Any],
) -> tuple[list[float], str]:
    """Sends ``count`` messages one at a time; returns each block's rate and the first
    conversation's id (its page is timed at 10 messages on the way)."""
    rates: list[float] = []
    first = ""
    began = time.perf_counter()
    for k in range(count):
        payload = {
            "from": consumer_number(k % conversations),
            "to": BRAND_NUMBER,
            "body": BODIES[k % len(BODIES)],
            "provider_message_id": f"{label}-{k}",
        }
        answer = await api.post("/v1/sandbox/inbound", json=payload)
        document = answer.json()
        if answer.status_code != 202 or document.get("duplicate") or not document.get("changed"):
            raise Missing(f"message {k} not recorded once: {answer.status_code} {answer.text}")
        first = first or str(document["conversation_id"])
        if k + 1 == 10 and label == "one":
            extra["page_ms_at_10"] = await _page_ms(api, first)
            began += extra["page_ms_at_10"] * READS / 1000  # the reads are not the block's
        if (k + 1) % block == 0 or k + 1 == count:
            now = time.perf_counter()
            rates.append(((k % block) + 1) / (now - began))
            began = now
    return rates, first


async def _page_ms(api: httpx.AsyncClient, conversation_id: str) -> float:
    """The mean time of a first page (newest messages and facts) of the conversation."""
    started = time.perf_counter()
    for _ in range(READS):
        page = await api.get(f"/v1/conversations/{conversation_id}", params={"limit": PAGE})
        if page.status_code != 200:
            raise Missing(f"the conversation's page answered {page.status_code}: {page.text}")
    return round((time.perf_counter() - started) * 1000 / READS, 2)


def _memory(core: Core, conversation_id: UUID) -> dict[str, int]:
    """What the decision cache holds for the conversation, and what it would hold whole."""
    from chainon.domain.conversation import Conversation

    cached = core.decisions.cached(conversation_id)
    if not isinstance(cached, Conversation):
        raise Missing("the conversation is not in the decision cache")
    whole: Conversation = core.repository.get(conversation_id)
    held, full, messages = deep_size(cached), deep_size(whole), len(cached.messages)
    return {
        "cached_conversation_messages": messages,
        "cached_conversation_bytes": held,
        "cached_conversation_bytes_per_message": round(held / messages),
        "whole_conversation_bytes_per_message": round(full / messages),
    }
