"""SMS over an SMPP 3.4 link: an ESME that binds as a transceiver to an aggregator's SMSC.

PDU bytes are smpplib's; everything the libraries get wrong is ours (``codec``:
segments and UDH; ``receipts``: delivery receipts; ``reassembly``: long MO).
One link is one bind, with a window of outstanding submits and a throughput cap per bind
and per sender number. It reconnects with backoff after a drop (see ``_submit`` for what
is sent again). What contacts send is ``mo``'s: parts of a long MO wait in
``reassembly_store``, on disk when the link has a ``state_dir``, so that a restart loses
none the SMSC was told we had; the parts the SMSC accepted are in ``sent_ledger`` beside
them, so that sending a message again sends no second SMS. ``link``: the link's settings
and pacing.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import zlib
from collections import Counter, OrderedDict
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from smpplib import command_codes, smpp
from smpplib.exceptions import UnknownCommandError

from chainon.adapters.channels.port import (
    Accepted,
    ChannelRefusal,
    ChannelSink,
    OutboundMessage,
    PermanentFailure,
)
from chainon.adapters.channels.smpp.codec import MalformedPdu, SubmitPart, pdu_text, submit_parts
from chainon.adapters.channels.smpp.link import (
    PduSequence,
    SmppLink,
    TokenBucket,
    Unanswered,
    relative_time,
)
from chainon.adapters.channels.smpp.mo import MoAssembly, read_mo
from chainon.adapters.channels.smpp.receipts import UnreadableReceipt, id_variants, parse_receipt
from chainon.adapters.channels.smpp.sent_ledger import SentLedger
from chainon.domain.channels import Channel
from chainon.domain.commands import RecordReceipt
from chainon.domain.message_status import MessageStatus

log = structlog.get_logger(__name__)

THROTTLED = {0x58, 0x14}  # ESME_RTHROTTLED, ESME_RMSGQFUL: the SMSC asks us to slow down
RECEIPT = 0x04
RESPONSE = 0x80000000  # the command_id bit of every response
ESME_RINVCMDID = 0x03  # what generic_nack says of a command we do not know
ESME_RX_P_APPN = 0x65  # "permanent application error": do not send it again, it is recorded


class SmppProvider:
    def __init__(self, link: SmppLink) -> None:
        self.link = link
        self.name = f"smpp:{link.name}"
        self._sink: ChannelSink | None = None
        self._seq = PduSequence()
        self._writer: asyncio.StreamWriter | None = None
        self._bound = asyncio.Event()
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._window = asyncio.Semaphore(link.window)
        self._bucket = TokenBucket(link.tps)
        self._senders: dict[str, TokenBucket] = {}
        self._ids: OrderedDict[str, str] = OrderedDict()  # id variant → the id submit_sm_resp gave
        self._mo = MoAssembly(self.name, link.name)
        self._ledger: SentLedger | None = None
        self._sending: dict[UUID, asyncio.Lock] = {}
        self._senders_of: Counter[UUID] = Counter()  # sends of a message under way
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # destination → submits whose fate the drop hid, oldest first
        self._unanswered: dict[str, list[asyncio.Future[str]]] = {}

    @property
    def channels(self) -> frozenset[Channel]:
        return frozenset({Channel.SMS})

    async def start(self, sink: ChannelSink) -> None:
        self._sink = sink
        self._stopping = False
        await self._mo.open(self.link.state_path)
        self._ledger = SentLedger(self.link.state_path, self.name)
        await self._ledger.open()
        self._task = asyncio.create_task(self._keep_bound(), name=self.name)

    async def stop(self) -> None:
        self._stopping = True
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await self._request("unbind", timeout=2.0)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._close()
        await self._mo.close()
        if self._ledger is not None:
            await self._ledger.close()
            self._ledger = None

    async def ready(self, within: float = 10.0) -> None:
        """Waits until the link is bound (raises TimeoutError otherwise)."""
        await asyncio.wait_for(self._bound.wait(), within)

    # Sending

    @property
    def bound(self) -> bool:
        """Whether the link is bound now (the operators' ``chainon_smpp_link_up``)."""
        return self._bound.is_set()

    async def send(self, message: OutboundMessage) -> Accepted:
        """Submits the parts the SMSC has not accepted yet (``sent_ledger``): sending a
        message again returns the ids of the first time, and no second SMS."""
        ledger = self._ledger
        if ledger is None:
            raise ConnectionError("the SMPP link is stopped")
        lock = self._sending.setdefault(message.message_id, asyncio.Lock())
        self._senders_of[message.message_id] += 1
        try:
            async with lock:  # the same message twice at once: the second waits, then finds it
                accepted = await ledger.accepted(message.message_id)
                reference = zlib.crc32(message.message_id.bytes) & 0xFF
                ids: list[str] = []
                for index, part in enumerate(submit_parts(message.body, reference)):
                    smsc_id = accepted.get(index)
                    if smsc_id is None:
                        smsc_id = await self._submit(message, part)
                        await ledger.record(message.message_id, index, smsc_id)
                    else:
                        self._remember(smsc_id)
                    ids.append(smsc_id)
        finally:
            self._senders_of[message.message_id] -= 1
            if not self._senders_of[message.message_id]:
                del self._senders_of[message.message_id], self._sending[message.message_id]
        return Accepted(
            provider=self.name,
            provider_message_id=ids[0],
            segment_ids=ids,
            receipt_within_seconds=self.link.validity_period,
        )

    async def _submit(self, message: OutboundMessage, part: SubmitPart) -> str:
        """Submits one part. Throttling answers back off and retry.

        After a drop, a submit that never reached the wire is simply sent again. One that
        did, but got no response, may have been accepted (its response lost with the
        link): it waits ``unanswered_wait`` for a receipt from its destination carrying an
        id we never heard of, which proves it was accepted (that id is then its own), and
        is sent again only when none comes.
        """
        sender = self._senders.setdefault(message.sender, TokenBucket(self.link.sender_tps))
        validity = self.link.validity_period
        timing: dict[str, Any] = {}
        if validity is not None:
            timing["validity_period"] = relative_time(validity)
        backoff = 0.1
        while True:
            await sender.take()
            await self._bucket.take()
            async with self._window:
                try:
                    resp = await self._request(
                        "submit_sm",
                        source_addr_ton=1,
                        source_addr_npi=1,
                        source_addr=message.sender.lstrip("+"),
                        dest_addr_ton=1,
                        dest_addr_npi=1,
                        destination_addr=message.recipient.lstrip("+"),
                        esm_class=part.esm_class,
                        data_coding=part.data_coding,
                        registered_delivery=1,
                        short_message=part.short_message,
                        **timing,
                    )
                except Unanswered:
                    adopted = await self._await_proof(message.recipient.lstrip("+"))
                    if adopted is not None:
                        self._remember(adopted)
                        return adopted
                    continue
                except (ConnectionError, TimeoutError):
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
            if resp.status == 0:
                message_id = pdu_text(resp.message_id)
                self._remember(message_id)
                return message_id
            if resp.status in THROTTLED:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            raise PermanentFailure(f"SMPP submit_sm refused: status 0x{resp.status:08X}")

    async def _await_proof(self, destination: str) -> str | None:
        proof: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        waiting = self._unanswered.setdefault(destination, [])
        waiting.append(proof)
        try:
            return await asyncio.wait_for(proof, self.link.unanswered_wait)
        except TimeoutError:
            return None
        finally:
            if proof in waiting:
                waiting.remove(proof)

    def _adopt(self, destination: str, message_id: str) -> bool:
        """A receipt for an id we never heard of, from a destination with an unanswered
        submit: the SMSC had accepted it."""
        for proof in self._unanswered.get(destination, []):
            if not proof.done():
                proof.set_result(message_id)
                return True
        return False

    def _remember(self, message_id: str) -> None:
        for variant in id_variants(message_id):
            self._ids[variant] = message_id
        while len(self._ids) > 200_000:
            self._ids.popitem(last=False)

    # The link

    async def _request(self, command: str, timeout: float | None = None, **fields: Any) -> Any:
        await asyncio.wait_for(self._bound.wait(), timeout or self.link.response_timeout)
        return await self._exchange(command, timeout, **fields)

    async def _exchange(self, command: str, timeout: float | None = None, **fields: Any) -> Any:
        if self._writer is None or self._writer.transport.is_closing():
            raise ConnectionError("not connected")  # not on the wire: safe to send again
        pdu = smpp.make_pdu(command, client=self._seq, **fields)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[pdu.sequence] = future
        # From here the bytes may have reached the SMSC (write() hands them to the kernel at
        # once; a failing drain says nothing of what went before): no answer is Unanswered.
        try:
            self._writer.write(pdu.generate())
            await asyncio.wait_for(self._writer.drain(), self.link.response_timeout)
            return await asyncio.wait_for(future, timeout or self.link.response_timeout)
        except (ConnectionError, TimeoutError) as exc:
            raise Unanswered(f"{command}: {exc!r}") from exc
        finally:
            self._pending.pop(pdu.sequence, None)

    async def _keep_bound(self) -> None:
        backoff = 0.2
        while not self._stopping:
            reading: asyncio.Task[None] | None = None
            try:
                reader, self._writer = await asyncio.open_connection(self.link.host, self.link.port)
                reading = asyncio.create_task(self._read(reader))
                bind = await self._exchange(
                    "bind_transceiver",
                    system_id=self.link.system_id,
                    password=self.link.password,
                    system_type=self.link.system_type,
                    interface_version=0x34,
                )
                if bind.status != 0:
                    raise ConnectionRefusedError(f"bind refused: status 0x{bind.status:08X}")
                self._bound.set()
                backoff = 0.2
                log.info("smpp.bound", link=self.link.name)
                await self._heartbeat(reading)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # EOF, reset, refused bind, a broken PDU: rebind
                log.warning("smpp.link_down", link=self.link.name, error=repr(exc))
            finally:
                self._close()
                if reading is not None:
                    reading.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await reading
            if not self._stopping:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def _heartbeat(self, reading: asyncio.Task[None]) -> None:
        while not reading.done():
            done, _ = await asyncio.wait({reading}, timeout=self.link.enquire_link_every)
            if not done:
                await self._exchange("enquire_link")
            try:
                await self._mo.expire(self._sink, self.link.mo_timeout)
            except Exception as exc:  # the sink is down: the parts wait for the next round
                log.warning("smpp.partial_mo_deferred", link=self.link.name, error=repr(exc))
        reading.result()

    def _close(self) -> None:
        self._bound.clear()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("the SMPP link dropped"))
        self._pending.clear()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while True:
            header = await reader.readexactly(4)
            (length,) = struct.unpack(">L", header)
            if not 16 <= length <= 70_000:
                detail = f"a PDU of {length} bytes: the stream is out of step"
                with contextlib.suppress(Exception):  # the link drops whatever happens
                    await self._refuse("unparsable PDU", detail, header)
                raise ConnectionError(detail)
            data = header + await reader.readexactly(length - 4)
            try:
                pdu = smpp.parse_pdu(data, client=self._seq)
            except Exception as exc:  # one unreadable PDU must not take the link down
                await self._unparsable(data, exc)
                continue
            if pdu.command.endswith("_resp") or pdu.command == "generic_nack":
                future = self._pending.get(pdu.sequence)
                if future is not None and not future.done():
                    future.set_result(pdu)
            elif pdu.command == "deliver_sm":
                await self._delivered(pdu, data)
                await self._answer("deliver_sm_resp", pdu.sequence)
            elif pdu.command == "enquire_link":
                await self._answer("enquire_link_resp", pdu.sequence)
            elif pdu.command == "unbind":
                await self._answer("unbind_resp", pdu.sequence)
                raise ConnectionError("the SMSC unbound")

    async def _answer(self, command: str, sequence: int, status: int = 0) -> None:
        resp = smpp.make_pdu(command, client=self._seq)
        resp.sequence = sequence
        resp.status = status
        if self._writer is not None:
            self._writer.write(resp.generate())
            await self._writer.drain()

    async def _unparsable(self, data: bytes, exc: Exception) -> None:
        """Records the PDU, then answers it for good when it was a request: an SMSC left
        waiting would send it again and again, and hold a place in its window meanwhile.

        smpplib refuses a command id it does not know, including a known command that carries
        a vendor TLV (0x1400-0x3FFF); it reads most broken bodies without complaint.
        """
        await self._refuse("unparsable PDU", repr(exc), data)
        (command_id, sequence) = struct.unpack(">L4xL", data[4:16])
        if command_id & RESPONSE:
            return  # a broken answer: what waits for it times out
        try:
            command = command_codes.get_command_name(command_id)
        except UnknownCommandError:
            await self._answer("generic_nack", sequence, ESME_RINVCMDID)
            return
        if f"{command}_resp" in command_codes.commands:
            await self._answer(f"{command}_resp", sequence, ESME_RX_P_APPN)

    async def _refuse(self, reason: str, detail: str, data: bytes) -> None:
        """Logs and records input we cannot take; returns once the sink has the record."""
        log.warning("smpp.refused", link=self.link.name, reason=reason, detail=detail)
        sink = self._sink
        assert sink is not None
        await sink.refused(
            ChannelRefusal(
                provider=self.name,
                reason=reason,
                detail=detail,
                raw=data.hex(),
                at=datetime.now(UTC),
            )
        )

    # What the SMSC sends us: answered only once the sink (the bus) has it

    async def _delivered(self, pdu: Any, data: bytes) -> None:
        sink = self._sink
        assert sink is not None
        if (pdu.esm_class or 0) & RECEIPT:
            await self._receipt(pdu, sink, data)
            return
        try:
            part = read_mo(pdu)
        except MalformedPdu as exc:
            await self._refuse("undecodable text", exc.reason, data)
            return
        await self._mo.deliver(part, sink)

    async def _receipt(self, pdu: Any, sink: ChannelSink, data: bytes) -> None:
        tlvs = {
            key: getattr(pdu, key)
            for key in ("receipted_message_id", "message_state", "network_error_code")
            if getattr(pdu, key, None) is not None
        }
        try:
            receipt = parse_receipt(pdu.short_message, tlvs)
        except UnreadableReceipt as exc:
            await self._refuse("unreadable receipt", exc.reason, data)
            return
        if receipt.outcome is None:
            return  # ENROUTE, ACCEPTED: nothing to record yet
        known = next(
            (self._ids[v] for v in id_variants(receipt.message_id) if v in self._ids), None
        )
        if known is None and self._adopt(pdu_text(pdu.source_addr), receipt.message_id):
            known = receipt.message_id
        ours = known or receipt.message_id
        await sink.receipt(
            RecordReceipt(
                provider=self.name,
                provider_message_id=ours,
                status=MessageStatus(receipt.outcome),
                reason=receipt.failure_reason or "",
            )
        )
