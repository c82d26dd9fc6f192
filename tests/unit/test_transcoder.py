"""The stored events' transcoder (``adapters.persistence.transcoder``): the bytes of
eventsourcing's ``JSONTranscoder``, byte for byte, both ways — rows written before it load
as they did, and rows it writes load in a process of the version before."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Transcoding,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from chainon.adapters.persistence.transcoder import OrjsonTranscoder
from chainon.core import Core
from chainon.domain import commands as cmd
from chainon.domain.channels import Channel
from chainon.domain.contact import Contact
from chainon.domain.conversation import Conversation

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BRAND_SMS = "+33939000001"


@dataclass(frozen=True)
class Place:
    """A custom type whose ``_data_`` is itself a structure with tagged values inside."""

    id: UUID
    at: datetime


class PlaceAsDict(Transcoding):
    type = Place
    name = "place"

    def encode(self, obj: Place) -> dict[str, Any]:
        return {"id": obj.id, "at": obj.at}

    def decode(self, data: dict[str, Any]) -> Place:
        return Place(data["id"], data["at"])


def registered(transcoder: JSONTranscoder) -> JSONTranscoder:
    """Both transcoders as the core registers them (eventsourcing's three), and one more."""
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), PlaceAsDict()):
        transcoder.register(transcoding)
    return transcoder


OLD = registered(JSONTranscoder())
NEW = registered(OrjsonTranscoder())


class Tone(StrEnum):
    CALM = "calm"
    URGENT = "urgent"


class Level(IntEnum):
    LOW = 1
    HIGH = 2


def outcome(act: Any, *args: Any) -> tuple[str, Any]:
    try:
        return ("ok", act(*args))
    except Exception as error:  # the same error, or the same value
        return ("error", type(error))


def same(a: Any, b: Any) -> bool:
    """Equal values of the same types all the way down (NaN counts as itself)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, Decimal) and a.is_nan():
        return str(a) == str(b)
    if isinstance(a, datetime):  # == ignores the offset of aware datetimes
        return a == b and a.utcoffset() == b.utcoffset() and a.tzinfo == b.tzinfo
    return bool(a == b)


offsets = st.builds(
    timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
)
datetimes = st.datetimes(timezones=st.one_of(st.just(UTC), offsets, st.none()))
texts = st.one_of(
    st.text(),  # every code point but surrogates: accents, CJK, astral, emoji
    st.text(alphabet='aé😀\U0001f1eb\U0001f1f7\x00\x1f\x7f\u2028"\\\n\t/'),
    st.text(alphabet=st.characters(categories=["Cs", "Ll"])),  # lone surrogates: refused
)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # past 64 bits too
    st.integers(min_value=-(2**65), max_value=2**65),
    st.floats(),  # NaN and infinities too
    texts,
    st.uuids(),
    datetimes,
    st.decimals(),
    st.sampled_from(Tone),
    st.sampled_from(Level),
    st.builds(Place, st.uuids(), datetimes),
    st.dates(),  # no transcoding: refused by both
)
keys = st.one_of(texts, st.sampled_from(["_type_", "_data_"]), st.integers(), st.none())
payloads = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(keys, inner, max_size=5),
        st.builds(lambda name, data: {"_type_": name, "_data_": data}, st.text(), inner),
    ),
    max_leaves=12,
)


@settings(max_examples=200)
@given(st.dictionaries(st.text(), payloads, max_size=5))
def test_an_event_state_is_written_in_the_same_bytes_and_read_back_the_same(
    state: dict[str, Any],
) -> None:
    written = outcome(OLD.encode, state)
    assert outcome(NEW.encode, state) == written
    if written[0] == "ok":
        old_reads, new_reads = outcome(OLD.decode, written[1]), outcome(NEW.decode, written[1])
        assert old_reads[0] == new_reads[0]
        assert same(old_reads[1], new_reads[1]) if old_reads[0] == "ok" else new_reads == old_reads


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), texts),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(texts, st.just("_type_"), st.just("_data_")), inner, max_size=4),
        st.builds(
            lambda name, data: {"_type_": name, "_data_": data},
            st.sampled_from(["uuid_hex", "datetime_iso", "decimal_str", "place", "unknown"]),
            inner,
        ),
    ),
    max_leaves=16,
)


@settings(max_examples=300)
@given(json_values, st.booleans())
def test_any_json_a_row_may_hold_is_read_as_the_library_reads_it(
    value: Any, ascii_only: bool
) -> None:
    """Rows of any JSON, spelt as ``json`` may spell it (``\\ud800``, ``NaN``, integers of
    any size, unknown or malformed tags): the same value, or the same error."""
    row = json.dumps(value, ensure_ascii=ascii_only).encode("utf8", "surrogatepass")
    expected, read = outcome(OLD.decode, row), outcome(NEW.decode, row)
    assert read[0] == expected[0]
    assert same(read[1], expected[1]) if expected[0] == "ok" else read == expected


def test_the_wire_format_tags_each_custom_type() -> None:
    state = {
        "timestamp": T0,
        "contact_id": UUID("dd9f8343-26e3-5967-befd-918b4c62e8c2"),
        "price": Decimal("0.0450"),
        "place": Place(UUID(int=1), T0 + timedelta(microseconds=7)),
        "channel": Channel.SMS,
        "body": "Bonjour 👋",
        "count": 2**70,
    }
    row = (
        b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-03-02T09:00:00+00:00"},'
        b'"contact_id":{"_type_":"uuid_hex","_data_":"dd9f834326e35967befd918b4c62e8c2"},'
        b'"price":{"_type_":"decimal_str","_data_":"0.0450"},'
        b'"place":{"_type_":"place","_data_":{"id":{"_type_":"uuid_hex",'
        b'"_data_":"00000000000000000000000000000001"},'
        b'"at":{"_type_":"datetime_iso","_data_":"2026-03-02T09:00:00.000007+00:00"}}},'
        b'"channel":"sms","body":"Bonjour \xf0\x9f\x91\x8b","count":1180591620717411303424}'
    )
    assert NEW.encode(state) == row == OLD.encode(state)
    assert NEW.decode(row) == {**state, "channel": "sms"}
    assert type(NEW.decode(row)["count"]) is int


def test_an_unregistered_type_or_tag_is_refused_as_before() -> None:
    with pytest.raises(TranscodingNotRegisteredError):
        NEW.encode({"when": T0.date()})
    with pytest.raises(TranscodingNotRegisteredError):
        NEW.decode(b'{"x":{"_type_":"frozenset","_data_":[1]}}')


def inbound(n: int) -> cmd.ReceiveMessage:
    return cmd.ReceiveMessage(
        provider="sandbox",
        provider_message_id=f"p{n}",
        channel=Channel.SMS,
        sender="+33612345678",
        recipient=BRAND_SMS,
        body=f"Où est mon colis n°{n} ? 📦",
    )


def test_the_core_writes_with_orjson_unless_the_environment_names_a_transcoder() -> None:
    assert type(Core().mapper.transcoder) is OrjsonTranscoder
    chosen = Core(env={"TRANSCODER_TOPIC": "eventsourcing.persistence:JSONTranscoder"})
    assert type(chosen.mapper.transcoder) is JSONTranscoder
    assert set(chosen.mapper.transcoder.names) == set(Core().mapper.transcoder.names)


@pytest.mark.parametrize("written_by", [JSONTranscoder, OrjsonTranscoder])
def test_a_store_written_by_either_transcoder_loads_in_the_other(written_by: type) -> None:
    """The core's own events (personal data sealed inside, decoded by the transcoder too),
    written by one transcoder, and the aggregates loaded through the other."""
    core = Core(clock=lambda: T0)
    reader = type(core.mapper.transcoder)
    core.mapper.transcoder = registered(written_by())
    core.register_brand(slug="acme", name="Acme", senders=[(Channel.SMS, BRAND_SMS)])
    for n in range(3):
        core.handle(inbound(n))
    rows = core.recorder.select_notifications(start=None, limit=100)
    before = [core.mapper.to_domain_event(row) for row in rows]

    other = OrjsonTranscoder if written_by is JSONTranscoder else JSONTranscoder
    core.mapper.transcoder = registered(other())
    after = [core.mapper.to_domain_event(row) for row in rows]
    assert [vars(e) for e in after] == [vars(e) for e in before]
    assert [e.__class__ for e in after] == [e.__class__ for e in before]
    contact = next(e for e in after if isinstance(e, Contact.Registered))
    conversation = core.repository.get(
        next(e.originator_id for e in after if isinstance(e, Conversation.Opened))
    )
    assert [m.body for m in conversation.messages.values()] == [
        f"Où est mon colis n°{n} ? 📦" for n in range(3)
    ]
    assert contact.originator_id == conversation.contact_id
    assert reader is OrjsonTranscoder
