"""Routing rules: the brand's document set whole (``domain.routing_rules``); the decision
itself is taken at the hand-off (``handlers.bot``)."""

from __future__ import annotations

from datetime import datetime

from chainon.domain import commands as cmd
from chainon.domain.brand import Brand
from chainon.handlers.loading import Handled, Loader, get


def configure(loader: Loader, command: cmd.ConfigureRouting, now: datetime) -> Handled:
    brand = get(loader, Brand, command.brand_id)
    changed = brand.configure_routing(command.rules, actor=command.actor, at=now)
    return cmd.Outcome(changed=changed, brand_id=brand.id), [brand] if changed else []
