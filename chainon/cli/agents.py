"""A brand's agents from a terminal: enrol one (its key shown once), change its role and
teams, list them."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from chainon.cli.base import app, brand_of, console, runtime_of, settings_of, show_key
from chainon.domain.access import Role

agents = typer.Typer(no_args_is_help=True, help="A brand's agents: their roles and teams.")
app.add_typer(agents, name="agents")

Brand = Annotated[str, typer.Option("--brand", help="The brand's slug.")]
Name = Annotated[str, typer.Argument(help="The agent's name, as conversations show it.")]
RoleOption = Annotated[
    Role,
    typer.Option(help="agent: its teams' conversations; supervisor: all, and analytics."),
]
Teams = Annotated[list[str] | None, typer.Option("--team", help="A team of the agent (repeat).")]


@agents.command("add")
def agents_add(
    ctx: typer.Context, name: Name, brand: Brand, role: RoleOption = Role.AGENT, team: Teams = None
) -> None:
    """Enrol an agent in the brand and issue its own API key (shown once)."""
    with runtime_of(settings_of(ctx)) as runtime:
        brand_id = brand_of(runtime, brand).id
        _, key = runtime.core.api_keys.enroll_agent(brand_id, name, role, team or [])
    out = console()
    out.print(Text(f"Agent {name} enrolled in {brand} as {role.value}.", style="green"))
    show_key(out, key)


@agents.command("set")
def agents_set(
    ctx: typer.Context, name: Name, brand: Brand, role: RoleOption, team: Teams = None
) -> None:
    """Change an enrolled agent's role and teams (its key follows at once)."""
    with runtime_of(settings_of(ctx)) as runtime:
        brand_id = brand_of(runtime, brand).id
        runtime.core.api_keys.change_agent(brand_id, name, role, team or [])
    teams = ", ".join(team or []) or "no team"
    console().print(Text(f"Agent {name}: {role.value}, {teams}.", style="green"))


@agents.command("list")
def agents_list(ctx: typer.Context, brand: Brand) -> None:
    """The brand's enrolled agents, their roles and teams."""
    with runtime_of(settings_of(ctx)) as runtime:
        found = brand_of(runtime, brand)
    table = Table(title=f"Agents of {brand}")
    for column in ("name", "role", "teams"):
        table.add_column(column)
    for profile in sorted(found.agents.values(), key=lambda a: a.name):
        table.add_row(Text(profile.name), profile.role.value, Text(", ".join(profile.teams)))
    console().print(table)
