"""A bare SMPP client: plain asyncio and smpplib's PDU bytes into the SMSC simulator.

It binds as a transceiver, keeps a window of 10 ``submit_sm`` outstanding (Chainon's
default per bind), generates each PDU with ``smpp.make_pdu(...).generate()`` as
``adapters/channels/smpp/provider.py`` does, and reads only the 16-byte headers of the answers: no
receipts are asked for (``registered_delivery=0``), no reconnects, no bookkeeping. It is the
most a Python ESME gets out of one bind to this simulator.
"""

from __future__ import annotations

import asyncio
import struct
import time

from bench.registry import Context, Kind, Service, measurement
from bench.result import Latency, Missing, Result, own_peak_rss

WINDOW = 10
SUBMIT_SM_RESP, BIND_RESP, DELIVER_SM, ENQUIRE_LINK, GENERIC_NACK = (
    0x80000004,
    0x80000009,
    0x00000005,
    0x00000015,
    0x80000000,
)
BODY = "Votre colis arrive demain entre 9h et 12h. Repondez 1 pour confirmer, 2 pour reporter."


class _Sequence:
    sequence = 0

    def next_sequence(self) -> int:
        self.sequence = self.sequence % 0x7FFFFFFF + 1
        return self.sequence


@measurement("smpp.submit", Kind.LIMIT, needs={Service.SMSC})
async def smpp_submit(ctx: Context) -> Result:
    """A bare asyncio SMPP client, window 10, submit_sm into the node SMSC simulator."""
    from smpplib import smpp

    from chainon.adapters.channels.smpp.codec import submit_parts

    if ctx.smsc is None:
        raise RuntimeError("this measurement needs the SMSC simulator, and none was started")
    count = ctx.counts.submits
    part = submit_parts(BODY, 1)[0]
    seq = _Sequence()
    reader, writer = await asyncio.open_connection(ctx.smsc.host, ctx.smsc.port)
    sent_at: dict[int, float] = {}
    latencies: list[float] = []
    refused = 0
    window = asyncio.Semaphore(WINDOW)
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    done = asyncio.Event()

    def answer(command: int, sequence: int) -> None:
        writer.write(struct.pack(">LLLL", 16, command | 0x80000000, 0, sequence))

    async def read() -> None:
        nonlocal refused
        while True:
            header = await reader.readexactly(16)
            length, command, status, sequence = struct.unpack(">LLLL", header)
            if length > 16:
                await reader.readexactly(length - 16)
            if command in (SUBMIT_SM_RESP, GENERIC_NACK):
                latencies.append(time.perf_counter() - sent_at.pop(sequence))
                refused += status != 0
                window.release()
                if len(latencies) == count:
                    done.set()
            elif command == BIND_RESP:
                bound.set_result(status)
            elif command in (DELIVER_SM, ENQUIRE_LINK):
                answer(command, sequence)

    reading = asyncio.create_task(read())
    try:
        bind = smpp.make_pdu(
            "bind_transceiver",
            client=seq,
            system_id=ctx.smsc.system_id,
            password=ctx.smsc.password,
            system_type="",
            interface_version=0x34,
        )
        writer.write(bind.generate())
        if await asyncio.wait_for(bound, 10) != 0:
            raise RuntimeError("the SMSC simulator refused the bind")
        started = time.perf_counter()
        for i in range(count):
            await window.acquire()
            pdu = smpp.make_pdu(
                "submit_sm",
                client=seq,
                source_addr_ton=1,
                source_addr_npi=1,
                source_addr="33939000001",
                dest_addr_ton=1,
                dest_addr_npi=1,
                destination_addr=f"336{i % 100_000_000:08d}",
                esm_class=part.esm_class,
                data_coding=part.data_coding,
                registered_delivery=0,
                short_message=part.short_message,
            )
            sent_at[pdu.sequence] = time.perf_counter()
            writer.write(pdu.generate())
            await writer.drain()
        await asyncio.wait_for(done.wait(), 60 + count / 500)
        seconds = time.perf_counter() - started
    finally:
        reading.cancel()
        writer.close()
    if len(latencies) != count or refused:
        raise Missing(f"{len(latencies)} answers to {count} submits, {refused} refused")
    return Result(
        name="smpp.submit",
        mode="raw",
        count=count,
        seconds=seconds,
        unit="submits",
        latency=Latency.of(latencies),
        latency_of="submit_sm to submit_sm_resp",
        rss={"bench": own_peak_rss()},
        extra={"window": WINDOW, "short_message_bytes": len(part.short_message)},
    )
