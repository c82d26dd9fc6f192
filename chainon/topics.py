"""Topic names, with a per-deployment prefix (``chainon`` by default)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topics:
    prefix: str = "chainon"

    @property
    def commands(self) -> str:
        """A brand's own systems → core: send, reply, assign, resolve…"""
        return f"{self.prefix}.commands.v1"

    @property
    def inbound(self) -> str:
        """Channel adapters → core: inbound messages, send results, delivery receipts."""
        return f"{self.prefix}.inbound.v1"

    @property
    def outbound(self) -> str:
        """Core → channel adapters: messages to hand over."""
        return f"{self.prefix}.outbound.v1"

    @property
    def events(self) -> str:
        """Core → projections and anyone else: every public domain event, in store order."""
        return f"{self.prefix}.events.v1"

    def group(self, worker: str) -> str:
        """The consumer group of a kind of worker, within this deployment."""
        return f"{self.prefix}-{worker}"

    @staticmethod
    def dlq(topic: str) -> str:
        return f"{topic}.dlq"

    @property
    def all(self) -> tuple[str, ...]:
        main = (self.commands, self.inbound, self.outbound, self.events)
        return main + tuple(self.dlq(t) for t in main)
