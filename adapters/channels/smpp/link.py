"""One SMPP link's settings, and how its sends are paced."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path


@dataclass(frozen=True)
class SmppLink:
    name: str
    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    window: int = 10
    tps: float = 0.0  # per bind; 0: no cap
    sender_tps: float = 0.0  # per sender number; 0: no cap
    enquire_link_every: float = 30.0
    response_timeout: float = 10.0
    mo_timeout: timedelta = timedelta(minutes=5)
    # After a drop, how long a submit that was written but not answered waits for a
    # receipt proving the SMSC took it, before it is submitted again.
    unanswered_wait: float = 10.0
    # Seconds the SMSC keeps trying to deliver (submit_sm's validity_period); None: the
    # SMSC's default. No receipt after it: the message is expired in Chainon too.
    validity_period: int | None = None
    # Where the parts of long MO messages wait for their siblings
    # (``smpp-<name>.sqlite3``); None: in memory, lost with the process.
    state_dir: Path | None = None

    @property
    def state_path(self) -> Path | None:
        return None if self.state_dir is None else self.state_dir / f"smpp-{self.name}.sqlite3"


def relative_time(seconds: int) -> str:
    """SMPP 3.4's relative time format (§7.1.1): ``YYMMDDhhmmss000R``, here in days,
    hours, minutes and seconds from now (months and years vary in length)."""
    if not 0 < seconds < 100 * 86400:
        raise ValueError(f"a relative SMPP time is 1 s to 99 days, not {seconds} s")
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"0000{days:02d}{hours:02d}{minutes:02d}{secs:02d}000R"


class Unanswered(ConnectionError):
    """The submit reached the wire, then the link dropped before its response."""


class TokenBucket:
    """At most ``rate`` per second, evenly spaced: carriers count per second, and a burst
    at the start of one would break their cap even when the average keeps it."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = 1.0
        self.stamp = time.monotonic()

    async def take(self) -> None:
        if self.rate <= 0:
            return
        while True:
            now = time.monotonic()
            self.tokens = min(1.0, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return
            await asyncio.sleep((1 - self.tokens) / self.rate)


class PduSequence:
    """smpplib's ``client`` argument: where a PDU takes its sequence number from."""

    sequence = 0

    def next_sequence(self) -> int:
        self.sequence = self.sequence % 0x7FFFFFFF + 1
        return self.sequence
