"""The SMS-pumping guard as the send decision asks it (``domain.sending_limits``): the
counts read from their read model (``projections.destination_counts``) once per brand
and batch, plus the sends the batch itself allowed before (the read model has not seen
them yet), and the brand's blocked prefixes (``domain.destination_blocks``).

A spike blocks its prefix on the brand's small blocks aggregate, saved with the batch
(``take_changed``): the only write the guard makes, and a rare one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from uuid import UUID

from chainon.domain import ids
from chainon.domain.brand import Brand
from chainon.domain.channels import Channel
from chainon.domain.destination_blocks import DestinationBlocks
from chainon.domain.sending_limits import (
    BURST_WINDOW,
    USUAL_SPAN,
    Counts,
    Destination,
    Verdict,
    check,
    destination_of,
)
from chainon.projections.destination_counts import CountsRead
from chainon.projections.read_model_store import ReadModelStore

DESTINATION_CAP = "destination_cap"


class DestinationGuard:
    """Held by the core; its state lives for one unit of work (``begin``)."""

    def __init__(self) -> None:
        # Set by a process that reads the read models; None: the counts are the batch's
        # own (the allow-list and the blocks still apply).
        self.store: Callable[[], ReadModelStore] | None = None
        self._read: dict[UUID, CountsRead] = {}
        self._tally: dict[tuple[UUID, str, str], int] = {}
        self._changed: dict[UUID, DestinationBlocks] = {}
        self._seen: set[tuple[UUID, str]] = set()

    def begin(self) -> None:
        self._seen.clear()
        self._read.clear()
        self._tally.clear()
        self._changed.clear()

    def prefetch(self, brand_id: UUID, now: datetime, destinations: Iterable[Destination]) -> None:
        """Reads the counts of a batch's destinations for one brand in one go."""
        store = self.store() if self.store is not None else None
        wanted = [d for d in destinations if (brand_id, d.number) not in self._seen]
        if store is None or not wanted:
            return
        read = CountsRead(
            store,
            brand_id,
            now,
            {d.country for d in wanted},
            {d.prefix for d in wanted},
            {d.number for d in wanted},
        )
        self._seen.update((brand_id, d.number) for d in wanted)
        kept = self._read.get(brand_id)
        if kept is None:
            self._read[brand_id] = read
            return
        kept.country_hour.update(read.country_hour)
        kept.prefix_now.update(read.prefix_now)
        kept.prefix_before.update(read.prefix_before)
        kept.replied.update(read.replied)

    def take_changed(self) -> list[DestinationBlocks]:
        changed = list(self._changed.values())
        self._changed.clear()
        return changed

    def counts(self, brand_id: UUID, to: Destination, now: datetime) -> Counts:
        self.prefetch(brand_id, now, [to])  # read already unless the batch did not name it
        read = self._read.get(brand_id)
        tally = self._tally
        replied = read is not None and to.number in read.replied
        slots = USUAL_SPAN / BURST_WINDOW
        return Counts(
            country_this_hour=(read.country_hour.get(to.country, 0) if read else 0)
            + tally.get((brand_id, "country", to.country), 0),
            never_replied_this_hour=(read.never_replied if read else 0)
            + tally.get((brand_id, "never_replied", ""), 0),
            prefix_this_window=(read.prefix_now.get(to.prefix, 0) if read else 0)
            + tally.get((brand_id, "prefix", to.prefix), 0),
            prefix_usual=(read.prefix_before.get(to.prefix, 0) / slots) if read else 0.0,
            replied=replied,
        )

    def allows(
        self,
        find: Callable[[UUID], DestinationBlocks | None],
        brand: Brand,
        channel: Channel,
        number: str,
        now: datetime,
    ) -> bool:
        """False: the send is blocked (``destination_cap``); a spike also blocks its
        prefix. True: it counts as sent in the batch's tally."""
        to = destination_of(channel, number)
        if to is None:
            return True
        blocks_id = ids.destination_blocks_id(brand.id)
        blocks = self._changed.get(blocks_id) or find(blocks_id)
        if blocks is not None and to.prefix in blocks.blocked:
            return False
        counts = self.counts(brand.id, to, now)
        verdict = check(brand.sending_limits, brand.allowed_countries(), to, counts)
        lifted = blocks.lifted_since(to.prefix) if blocks is not None else None
        if verdict is Verdict.SPIKE and lifted is not None and now - lifted < 2 * BURST_WINDOW:
            verdict = Verdict.PASS  # an admin looked at this burst: it no longer counts
        if verdict is Verdict.SPIKE:
            if blocks is None:
                blocks = DestinationBlocks.open(brand.id, at=now)
            sends = counts.prefix_this_window + 1
            blocks.block(to.prefix, DESTINATION_CAP, sends, counts.prefix_usual, at=now)
            self._changed[blocks.id] = blocks
            return False
        if verdict is Verdict.CAPPED:
            return False
        for key in (("country", to.country), ("prefix", to.prefix)):
            self._tally[(brand.id, *key)] = self._tally.get((brand.id, *key), 0) + 1
        if not counts.replied:
            key3 = (brand.id, "never_replied", "")
            self._tally[key3] = self._tally.get(key3, 0) + 1
        return True
