"""The ``chainon`` command. Its commands live by concern in this package's modules;
importing them here registers them on ``app``."""

from chainon.cli import (
    agents,
    audit,
    brands,
    campaigns,
    consent,
    contacts,
    conversations,
    flows,
    operations,
    projections,
    routing,
    running,
    sending,
    webhooks,
)
from chainon.cli.base import app

__all__ = [
    "agents",
    "app",
    "audit",
    "brands",
    "campaigns",
    "consent",
    "contacts",
    "conversations",
    "flows",
    "main",
    "operations",
    "projections",
    "routing",
    "running",
    "sending",
    "webhooks",
]


def main() -> None:
    app()
