"""The email provider wired to a core: how it finds a conversation's thread, a brand's name
and whether an address is the brand's, all through the store's thread pool."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from chainon.adapters.channels.email.provider import EmailProvider
from chainon.adapters.channels.email.threads import EmailThread
from chainon.adapters.channels.email.unsubscribe import UnsubscribeLinks
from chainon.core import Core
from chainon.domain.brand import Brand
from chainon.domain.channels import Channel
from chainon.settings import Settings

Call = Callable[..., Awaitable[Any]]


def email_provider(
    settings: Settings,
    core: Core,
    call: Call,
    *,
    listens: bool,
    unsubscribe: UnsubscribeLinks | None,
) -> EmailProvider | None:
    """None without an SMTP relay; ``listens``: this process also receives mail."""
    email = settings.email()
    if email is None:
        return None
    ids = email.reply_domain_ids()
    names: dict[UUID, str] = {}  # a brand's name never changes once registered

    async def accepts(address: str) -> bool:
        return ids.owns(address) or bool(await call(core.owns_sender, Channel.EMAIL, address))

    async def threads(conversation_id: UUID) -> EmailThread:
        thread: EmailThread = await call(core.email_thread, conversation_id)
        return thread

    async def brand_names(brand_id: UUID) -> str | None:
        if brand_id not in names:
            brand = await call(core.find, Brand, brand_id)
            if brand is None:
                return None
            names[brand_id] = brand.name
        return names[brand_id]

    async def is_contact(conversation_id: UUID, sender: str) -> bool:
        return bool(await call(core.is_contact, conversation_id, sender))

    return EmailProvider(
        email,
        threads=threads,
        brand_names=brand_names,
        accepts=accepts if listens else None,
        is_contact=is_contact,
        unsubscribe=unsubscribe,
    )
