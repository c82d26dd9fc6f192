"""The MO half of an SMPP link: the SMS its contacts send, read from ``deliver_sm``.

A single SMS goes to the sink at once. The parts of a long one wait in a ``Reassembler``
and in ``reassembly_store`` (on disk when the link has a ``state_dir``) until the last
arrives, or until they stop coming and what came is delivered with its gaps marked. The
provider answers the PDU only once this returns, so a part the SMSC was answered for is
never lost: the store holds it, or the sink has its message.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from chainon.adapters.channels.port import ChannelSink
from chainon.adapters.channels.smpp.codec import Concat, decode_text, parse_udh, pdu_text
from chainon.adapters.channels.smpp.reassembly import Completed, Reassembler
from chainon.adapters.channels.smpp.reassembly_store import PartStore
from chainon.domain.channels import Channel
from chainon.domain.commands import ReceiveMessage

log = structlog.get_logger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class MoPart:
    """What a ``deliver_sm`` that is not a receipt says: a whole SMS, or one part."""

    sender: str
    recipient: str
    concat: Concat | None
    text: str


def read_mo(pdu: Any) -> MoPart:
    """Raises ``MalformedPdu`` when its UDH cannot be read."""
    esm_class = pdu.esm_class or 0
    # Over 254 octets, the text comes in the message_payload TLV instead.
    short_message = pdu.short_message or getattr(pdu, "message_payload", None) or b""
    concat, payload = parse_udh(short_message, esm_class)
    return MoPart(
        "+" + pdu_text(pdu.source_addr),
        "+" + pdu_text(pdu.destination_addr),
        concat,
        decode_text(payload, pdu.data_coding or 0),
    )


class MoAssembly:
    def __init__(self, provider: str, link: str) -> None:
        self.provider = provider
        self.link = link
        self._mo = Reassembler()
        self._parts: PartStore | None = None
        # Reassembly steps (a part kept, a message delivered then forgotten) run one at a
        # time, so the parts in memory and on disk agree whenever none is under way.
        self._lock = asyncio.Lock()

    async def open(self, state_path: Path | None) -> None:
        self._parts = PartStore(state_path, self.provider)
        self._mo = await self._parts.open()
        if len(self._mo):
            log.info("smpp.mo_parts_restored", link=self.link, messages=len(self._mo))

    async def close(self) -> None:
        if self._parts is not None:
            await self._parts.close()
            self._parts = None

    async def deliver(self, part: MoPart, sink: ChannelSink) -> None:
        if part.concat is None:
            stamp = f"{time.time_ns():x}"
            provider_id = f"mo-{part.sender}-{stamp}"
            await sink.inbound(self._message(part.sender, part.recipient, part.text, provider_id))
            return
        async with self._reassembling() as parts:
            received_at = datetime.now(UTC)
            done = self._mo.add(part.sender, part.recipient, part.concat, part.text, received_at)
            if done is None:
                await parts.keep(part.sender, part.recipient, part.concat, part.text, received_at)
                return
            # The last part is never kept: until the sink has the message, the SMSC has no
            # answer for it and sends it again.
            await sink.inbound(self._reassembled(done))
            await parts.forget(done)

    async def expire(self, sink: ChannelSink | None, timeout: timedelta) -> None:
        """Delivers what arrived of messages whose parts stopped coming, the gaps marked."""
        if sink is None or not len(self._mo):
            return
        async with self._reassembling() as parts:
            for partial in self._mo.expire(datetime.now(UTC), timeout):
                log.warning(
                    "smpp.partial_mo",
                    link=self.link,
                    parts=partial.parts_received,
                    total=partial.total,
                )
                await sink.inbound(self._reassembled(partial))
                await parts.forget(partial)

    @contextlib.asynccontextmanager
    async def _reassembling(self) -> AsyncIterator[PartStore]:
        """One reassembly step. If it fails half-way (the sink or the disk is down), the
        parts in memory are read back from the store, which holds every part the SMSC was
        answered for and not yet delivered: memory had gone ahead of it."""
        async with self._lock:
            parts = self._parts
            if parts is None:
                raise ConnectionError("the SMPP link is stopped")
            try:
                yield parts
            except BaseException:
                self._mo = await parts.load()
                raise

    def _reassembled(self, done: Completed) -> ReceiveMessage:
        """Named after the first part's arrival, which the store keeps: a message delivered
        again after a crash (the sink had it, its parts were not yet forgotten) is then the
        same message to the core, which ignores the copy."""
        first = (done.first_at - EPOCH) // timedelta(microseconds=1)
        provider_id = f"mo-{done.sender}-{done.reference}.{done.total}-{first:x}"
        return self._message(done.sender, done.recipient, done.text, provider_id)

    def _message(self, sender: str, recipient: str, text: str, provider_id: str) -> ReceiveMessage:
        return ReceiveMessage(
            provider=self.provider,
            provider_message_id=provider_id,
            channel=Channel.SMS,
            sender=sender,
            recipient=recipient,
            body=text or " ",
        )
