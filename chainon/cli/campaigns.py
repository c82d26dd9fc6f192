"""Campaigns from a terminal: create one from a CSV or a CRM filter, follow it, steer it.

Like the other commands, these work on the store directly; the sending is done by the
campaign worker of the running server (``chainon serve``, or the views worker
distributed), which picks a scheduled campaign up at its next poll.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID, uuid4

import typer
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from chainon.cli.base import app, brand_of, console, runtime_of, settings_of
from chainon.domain.channels import Channel
from chainon.domain.errors import InvalidInput, NotFound

if TYPE_CHECKING:  # the store's modules load when a command runs: `chainon version` stays light
    from chainon.domain.campaign import Campaign
    from chainon.runtime import Runtime

campaigns = typer.Typer(no_args_is_help=True, help="Campaigns: marketing to an audience.")
app.add_typer(campaigns, name="campaigns")

_ENDED = ("finished", "cancelled")  # CampaignState's values, without importing the domain


def _pairs(values: list[str], option: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for value in values:
        key, sep, given = value.partition("=")
        if not sep or not key:
            raise InvalidInput("KEY=VALUE expected", field=option)
        found[key] = given
    return found


def _campaign(runtime: Runtime, campaign_id: UUID) -> Campaign:
    from chainon.domain.campaign import Campaign

    found = runtime.core.find(Campaign, campaign_id)
    if found is None:
        raise NotFound(f"no campaign {campaign_id}")
    return found


def _progress(runtime: Runtime, campaign: Campaign) -> dict[str, Any]:
    from chainon.projections.campaign_stats import counts

    runtime.views.run_until_idle()
    c = counts(runtime.views.store, campaign.id)
    return {
        "state": campaign.state.value,
        "recipients": campaign.recipients,
        "decided": campaign.cursor,
        "queued": c.queued,
        "deferred": c.deferred,
        "blocked": c.blocked,
        "refused": campaign.refused,
        "sent": c.sent,
        "delivered": c.delivered,
        "failed": c.failed,
        "replies": c.replies,
        "opt_outs": c.opt_outs,
    }


@campaigns.command("create")
def create(
    ctx: typer.Context,
    brand: Annotated[str, typer.Option(help="The brand's slug.")],
    name: Annotated[str, typer.Option(help="The campaign's name.")],
    template: Annotated[str, typer.Option(help="Jinja2: 'Bonjour {{ first_name }} … STOP SMS'")],
    csv: Annotated[
        Path | None, typer.Option(help="The audience: a CSV with a `to` column.")
    ] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Filter: contacts with this tag.")] = None,
    attribute: Annotated[list[str] | None, typer.Option(help="Filter: KEY=VALUE.")] = None,
    filter_channel: Annotated[Channel | None, typer.Option(help="Filter: reachable on.")] = None,
    consent: Annotated[
        str | None, typer.Option(help="Filter: purpose:state[:channel], e.g. marketing:granted.")
    ] = None,
    default: Annotated[list[str] | None, typer.Option(help="KEY=VALUE for a missing one.")] = None,
    channel: Annotated[Channel, typer.Option()] = Channel.SMS,
    rate: Annotated[int, typer.Option(help="Messages/s per sender number.")] = 20,
    start: Annotated[bool, typer.Option("--start", help="Schedule it to start now.")] = False,
    start_at: Annotated[datetime | None, typer.Option(help="Schedule it (aware time).")] = None,
) -> None:
    """Drafts a campaign from a CSV (bad rows reported by line) or a CRM filter; with
    --start or --start-at, schedules it for the server's campaign worker."""
    from chainon.campaign_audience import AudienceStore
    from chainon.campaign_templates import Personalisation
    from chainon.domain import commands as cmd

    if (csv is None) == (not tag and not attribute and filter_channel is None and not consent):
        raise InvalidInput(
            "give either --csv or a filter (--tag, --attribute, --consent)", field="csv"
        )
    defaults = _pairs(default or [], "default")
    Personalisation(template, defaults)
    out = console()
    with runtime_of(settings_of(ctx)) as runtime:
        found = brand_of(runtime, brand)
        campaign_id = uuid4()
        runtime.core.handle(
            cmd.CreateCampaign(
                brand_id=found.id,
                campaign_id=campaign_id,
                name=name,
                template=template,
                defaults=defaults,
                channel=channel,
                rate_per_second=rate,
                audience="csv" if csv is not None else "filter",
                tags=tag or [],
                attributes=_pairs(attribute or [], "attribute"),
                filter_channel=filter_channel,
                filter_consent=consent,
            )
        )
        campaign = _campaign(runtime, campaign_id)
        store = AudienceStore.of(runtime.views.store)
        store.register(campaign_id, found.id, campaign.created_on.isoformat())
        if csv is not None:
            with csv.open(encoding="utf-8", newline="") as source:
                imported = store.import_csv(
                    campaign_id, channel, source, runtime.settings.default_region
                )
            runtime.core.handle(
                cmd.ImportCampaignAudience(
                    brand_id=found.id,
                    campaign_id=campaign_id,
                    recipients=imported.recipients,
                    rejected=imported.rejected,
                )
            )
            out.print(f"{imported.recipients} recipient(s), {imported.rejected} row(s) left out")
            for bad in store.rejected(campaign_id, limit=50):
                out.print(Text(f"  line {bad.line}: {bad.reason}", style="yellow"))
        if start or start_at is not None:
            if start_at is not None and start_at.tzinfo is None:
                raise InvalidInput("give a time zone (2026-12-05T10:00:00+01:00)", field="start_at")
            runtime.core.handle(
                cmd.ScheduleCampaign(brand_id=found.id, campaign_id=campaign_id, start_at=start_at)
            )
            store.set_active(campaign_id, True)
    out.print(Text(f"campaign {campaign_id}", style="bold green"))


@campaigns.command("list")
def list_(
    ctx: typer.Context, brand: Annotated[str, typer.Option(help="The brand's slug.")]
) -> None:
    """The brand's campaigns, newest first."""
    from chainon.campaign_audience import AudienceStore

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("id", "name", "state", "channel", "recipients", "decided"):
        table.add_column(column, overflow="fold")
    with runtime_of(settings_of(ctx)) as runtime:
        found = brand_of(runtime, brand)
        for campaign_id in AudienceStore.of(runtime.views.store).of_brand(found.id):
            c = _campaign(runtime, campaign_id)
            table.add_row(
                str(c.id), c.name, c.state.value, c.channel.value, str(c.recipients), str(c.cursor)
            )
    console().print(table)


@campaigns.command("show")
def show(ctx: typer.Context, campaign_id: UUID) -> None:
    """One campaign and its progress."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_header=False)
    with runtime_of(settings_of(ctx)) as runtime:
        campaign = _campaign(runtime, campaign_id)
        table.title = f"{campaign.name} ({campaign.channel.value})"
        for key, value in _progress(runtime, campaign).items():
            table.add_row(key, str(value))
    console().print(table)


def _change(ctx: typer.Context, campaign_id: UUID, change: Any) -> None:
    from chainon.domain import commands as cmd

    with runtime_of(settings_of(ctx)) as runtime:
        campaign = _campaign(runtime, campaign_id)
        runtime.core.handle(
            cmd.ChangeCampaign(brand_id=campaign.brand_id, campaign_id=campaign_id, change=change)
        )
        state = _campaign(runtime, campaign_id).state.value
    console().print(Text(f"campaign {campaign_id}: {state}", style="green"))


@campaigns.command("pause")
def pause(ctx: typer.Context, campaign_id: UUID) -> None:
    """Stops after the batch in hand."""
    _change(ctx, campaign_id, "pause")


@campaigns.command("resume")
def resume(ctx: typer.Context, campaign_id: UUID) -> None:
    """Goes on from where it paused."""
    _change(ctx, campaign_id, "resume")


@campaigns.command("cancel")
def cancel(ctx: typer.Context, campaign_id: UUID) -> None:
    """Sends no more."""
    _change(ctx, campaign_id, "cancel")


@campaigns.command("watch")
def watch(
    ctx: typer.Context,
    campaign_id: UUID,
    interval: Annotated[float, typer.Option(min=0.05, help="Seconds between looks.")] = 0.5,
    timeout: Annotated[float | None, typer.Option(help="Give up after this many seconds.")] = None,
) -> None:
    """A live progress bar until the campaign is finished or cancelled."""
    out = console()
    with runtime_of(settings_of(ctx)) as runtime:
        campaign = _campaign(runtime, campaign_id)
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
        )
        ends = None if timeout is None else time.monotonic() + timeout
        with Progress(*columns, console=out) as bar:
            task = bar.add_task(campaign.name, total=max(campaign.recipients, 1), detail="")
            while True:
                campaign = _campaign(runtime, campaign_id)
                p = _progress(runtime, campaign)
                detail = (
                    f"{p['state']} · queued {p['queued']} deferred {p['deferred']} "
                    f"blocked {p['blocked']} sent {p['sent']} delivered {p['delivered']} "
                    f"failed {p['failed']} replies {p['replies']} opt-outs {p['opt_outs']}"
                )
                bar.update(
                    task,
                    total=max(campaign.recipients, 1),
                    completed=campaign.cursor,
                    detail=detail,
                )
                if campaign.state in _ENDED or (ends is not None and time.monotonic() > ends):
                    break
                time.sleep(interval)
    out.print(Text(f"campaign {campaign_id}: {campaign.state.value}", style="green"))
