"""What a command saved is cached for the next command on it; what a refused batch changed
never is: the cache only ever holds what the store holds."""

from __future__ import annotations

from pathlib import Path

from chainon.core import Core
from domain import commands as cmd
from domain.channels import Channel
from domain.conversation import Conversation
from domain.errors import DomainError


def core_on(path: Path) -> Core:
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(path),
        "AGGREGATE_CACHE_MAXSIZE": "100",
    }
    return Core(env)


def test_a_saved_conversation_is_cached_as_stored(tmp_path: Path) -> None:
    core = core_on(tmp_path / "store.sqlite3")
    brand = core.register_brand(slug="acme", name="Acme", senders=[(Channel.SMS, "+33939000001")])
    sent = core.handle(cmd.SendMessage(brand_id=brand.id, to="+33612345678", body="Bonjour"))
    assert sent.conversation_id is not None
    cache = core.repository.cache
    assert cache is not None
    cached = cache.get(sent.conversation_id)
    stored = Core({**core.env}).get(Conversation, sent.conversation_id)  # a fresh process
    assert cached.version == stored.version
    assert core.get(Conversation, sent.conversation_id) is not cached  # loads get copies


def test_a_batch_refused_part_way_leaves_no_change_in_the_cache(tmp_path: Path) -> None:
    core = core_on(tmp_path / "store.sqlite3")
    brand = core.register_brand(slug="acme", name="Acme", senders=[(Channel.SMS, "+33939000001")])
    sent = core.handle(cmd.SendMessage(brand_id=brand.id, to="+33612345678", body="Bonjour"))
    assert sent.conversation_id is not None
    before = core.get(Conversation, sent.conversation_id).version

    tag = cmd.TagConversation(brand_id=brand.id, conversation_id=sent.conversation_id, add=["vip"])
    refused = cmd.SendMessage(brand_id=brand.id, to="not a number", body="x")
    results = core.handle_many([(tag, None), (refused, None)])

    assert isinstance(results[1], DomainError)  # decided again one by one: the tag alone
    after = core.get(Conversation, sent.conversation_id)
    assert after.version == before + 1
    assert "vip" in after.tags
    fresh = Core({**core.env}).get(Conversation, sent.conversation_id)
    assert fresh.version == after.version
