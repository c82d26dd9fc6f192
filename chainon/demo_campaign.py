"""The demo's campaign scene: eight customers opt in by texting START, the shop uploads a
CSV (one bad row, reported by its line), dry-runs it, and sends it; a live progress bar
follows the campaign worker until every recipient is accounted for.

The send policy decides each recipient as it would in production: the consumer who said
STOP in the previous scene and a number that never opted in are blocked with their
reasons; the others are sent now, or deferred to the morning when the demo runs during
French quiet hours (08:00–20:00, Monday to Saturday). The scene says which, by Paris's
clock, rather than pretending it is always daytime.
"""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from chainon.campaign_audience import AudienceStore, Recipient
from chainon.campaign_dry_run import dry_run
from chainon.demo_polling import RECEIPT_TIMEOUT, teller
from chainon.domain import commands as cmd
from chainon.domain.brand import Brand
from chainon.domain.campaign import Campaign, CampaignState
from chainon.domain.channels import Channel
from chainon.errors import DemoFailed
from chainon.projections.campaign_stats import CampaignCounts, counts
from chainon.runtime import Runtime

CUSTOMERS = [
    (f"+336123456{i:02d}", name)
    for i, name in enumerate(
        ["Inès", "Hugo", "Léa", "Malik", "Chloé", "Nathan", "Zoé", "Yanis"], start=10
    )
]
STRANGER = "+33612345699"  # on the list, but never opted in
TEMPLATE = (
    "{{ first_name }}, -20 % sur toutes les bougies ce week-end chez Maison Lumière ! "
    "STOP au 0939000002"
)
PARIS = ZoneInfo("Europe/Paris")


async def campaign_scene(rt: Runtime, out: Console, brand: Brand, opted_out: str) -> None:
    say = teller(out)
    number = brand.senders[Channel.SMS][0]
    say("\nA small campaign, lawful by construction", "bold")
    say(f"{len(CUSTOMERS)} customers saw the window poster and texted START to {number}")
    for customer, _ in CUSTOMERS:
        start = await rt.provider.inject_inbound(sender=customer, recipient=number, body="START")
        if await rt.recorded(start) is None:
            raise DemoFailed(f"{customer}'s START was not recorded")
    say("✓ each START recorded as a marketing opt-in, with the message as its evidence", "green")

    rows = [f"{customer},{name}" for customer, name in CUSTOMERS]
    rows += [f"{opted_out},Camille", f"{STRANGER},Sam", "06 12 34,Typo"]
    csv = "to,first_name\n" + "\n".join(rows) + "\n"
    campaign_id = uuid4()
    await rt.handle(
        cmd.CreateCampaign(
            brand_id=brand.id,
            campaign_id=campaign_id,
            name="Bougies -20 %",
            template=TEMPLATE,
            defaults={"first_name": "Bonjour"},
            channel=Channel.SMS,
            rate_per_second=20,
            audience="csv",
        )
    )
    imported = await rt.call(_import, rt, brand, campaign_id, csv)
    say(f"\nThe shop uploads its list: {imported['recipients']} recipients", "")
    for line, reason in imported["rejected"]:
        say(f"  ⊘ line {line} left out: {reason}", "yellow")

    preview = await rt.call(_dry_run, rt, brand, campaign_id)
    sample = preview["sample"][0]
    parts = "segment" if sample["segments"] == 1 else "segments"
    say(f"Dry run, nothing sent: “{sample['body']}” ({sample['segments']} {parts})", "dim")
    blocked = ", ".join(f"{n} {r}" for r, n in preview["blocked_reasons"].items())
    say(
        f"  would send {preview['would_send']}, defer {preview['would_defer']}, "
        f"block {preview['would_block']} ({blocked}); "
        f"estimated {preview['estimated_cost']} {preview['currency']}",
        "dim",
    )

    await rt.handle(cmd.ScheduleCampaign(brand_id=brand.id, campaign_id=campaign_id))
    await rt.call(lambda: AudienceStore.of(rt.views.store).set_active(campaign_id, True))
    final = await _follow(rt, out, campaign_id, imported["recipients"])
    now = datetime.now(UTC).astimezone(PARIS)
    held = [d["release_at"] for d in preview["deferred"] if d["release_at"] is not None]
    say(
        f"✓ every recipient accounted for: {final.delivered} delivered, "
        f"{final.deferred} deferred, {final.blocked} blocked",
        "green",
    )
    if final.deferred:
        say(
            f"  it is {now:%A %H:%M} in Paris: quiet hours hold marketing (08:00–20:00, "
            "Monday to Saturday, no public holidays) until "
            f"{min(held, default=now).astimezone(PARIS):%A %H:%M}; the release is durable and "
            "asks the policy again",
            "dim",
        )
    say(
        f"  blocked, never sent: {opted_out} (opted_out: the STOP above), "
        f"{STRANGER} (no_marketing_consent)",
        "dim",
    )


def _import(rt: Runtime, brand: Brand, campaign_id: UUID, csv: str) -> dict[str, Any]:
    store = AudienceStore.of(rt.views.store)
    campaign = rt.core.get(Campaign, campaign_id)
    store.register(campaign_id, brand.id, campaign.created_on.isoformat())
    found = store.import_csv(campaign_id, Channel.SMS, io.StringIO(csv), rt.core.default_region)
    rt.core.handle(
        cmd.ImportCampaignAudience(
            brand_id=brand.id,
            campaign_id=campaign_id,
            recipients=found.recipients,
            rejected=found.rejected,
        )
    )
    rejected = [(r.line, r.reason) for r in store.rejected(campaign_id)]
    return {"recipients": found.recipients, "rejected": rejected}


def _dry_run(rt: Runtime, brand: Brand, campaign_id: UUID) -> dict[str, Any]:
    campaign = rt.core.get(Campaign, campaign_id)
    store = AudienceStore.of(rt.views.store)
    recipients: list[Recipient] = store.recipients(campaign_id, 0, 100)
    size = store.size(campaign_id)
    return dry_run(rt.core, brand, campaign, recipients, size, rt.core.clock(), sample=1)


async def _follow(rt: Runtime, out: Console, campaign_id: UUID, recipients: int) -> CampaignCounts:
    """The campaign worker's progress, live, until each recipient is delivered, deferred
    or blocked (the sandbox delivers in a fraction of a second)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RECEIPT_TIMEOUT
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
    )
    with Progress(*columns, console=out) as bar:
        task = bar.add_task("Bougies -20 %", total=recipients, detail="")
        while True:
            campaign = await rt.call(rt.core.get, Campaign, campaign_id)
            c = await rt.call(counts, rt.views.store, campaign_id)
            settled = c.delivered + c.deferred + c.blocked + c.failed
            bar.update(
                task,
                completed=settled,
                detail=f"{campaign.state.value} · sent {c.sent + c.delivered} "
                f"delivered {c.delivered} deferred {c.deferred} blocked {c.blocked}",
            )
            if campaign.state is CampaignState.FINISHED and settled >= recipients:
                return c
            if c.failed:
                raise DemoFailed(f"{c.failed} campaign message(s) failed")
            if loop.time() > deadline:
                raise DemoFailed(
                    f"the campaign did not finish within {RECEIPT_TIMEOUT:.0f} s "
                    f"({campaign.state.value}, {settled} of {recipients} settled)"
                )
            await asyncio.sleep(0.1)
