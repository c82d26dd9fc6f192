"""The stored events' JSON, written and read by orjson in the bytes of eventsourcing's
``JSONTranscoder``.

Encoding and decoding were a third of the core's work per inbound message and of a
rebuild. orjson does the JSON; what eventsourcing's transcoder does in callbacks — a
registered type (UUID, datetime, Decimal) as ``{"_type_": name, "_data_": …}`` — is done
in one walk of the state beside it. The bytes written are those ``JSONTranscoder`` writes,
byte for byte, so a store can hold rows of both and a process of either version reads
the other's (``tests/unit/test_transcoder.py``).

Where orjson would differ, the state goes through ``JSONTranscoder`` itself: a float
(orjson writes ``1e-7`` where ``json`` writes ``1e-07``, ``null`` for ``NaN``, and reads an
integer past 64 bits as a float), a non-string key, an integer past 64 bits, a string
orjson refuses (lone surrogates) and any error, which is then the one the library
raises. Events carry none of these in practice, so the detour costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, SafeUUID

import orjson
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, Transcoding, UUIDAsHex


class _Detour(Exception):
    """A value whose JSON orjson would write or read otherwise than ``json`` does."""


_PLAIN = frozenset({str, int, bool, type(None)})
# What ``json``'s encoder writes itself, subclasses included, before it asks for a transcoding.
_JSON_TYPES = (str, int, float, list, tuple, dict)


class OrjsonTranscoder(JSONTranscoder):
    """``JSONTranscoder``'s wire format at orjson's speed; transcodings register as there."""

    def __init__(self) -> None:
        super().__init__()
        self._utc_as_orjson = False
        self._decoders: dict[str, Callable[[str], Any]] = {}

    def register(self, transcoding: Transcoding) -> None:
        super().register(transcoding)
        # A datetime in UTC is written by orjson as ``isoformat()`` writes it: one call less.
        self._utc_as_orjson = type(self.types.get(datetime)) is DatetimeAsISO
        # A tagged string read the library's way, without its call frames (a UUID and a
        # datetime or two in every event: a tenth of a rebuild went to building them).
        self._decoders[transcoding.name] = _FAST.get(type(transcoding), transcoding.decode)

    def encode(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(self._tagged(obj))
        except (_Detour, orjson.JSONEncodeError, RecursionError):
            return super().encode(obj)

    def decode(self, data: bytes) -> Any:
        try:
            return self._untagged(orjson.loads(data))
        except Exception:  # the library's own result, or its own error
            return super().decode(data)

    def _tagged(self, obj: Any) -> Any:
        """``obj`` with each value of a registered type in its tagged form, in the order
        ``json``'s encoder checks types (a ``str`` subclass is a string, not a transcoding)."""
        kind = type(obj)
        if kind in _PLAIN:
            return obj
        if kind is dict:
            return {
                k if type(k) is str else self._key(k): v if type(v) in _PLAIN else self._tagged(v)
                for k, v in obj.items()
            }
        if kind is list or kind is tuple:
            return [v if type(v) in _PLAIN else self._tagged(v) for v in obj]
        transcoding = self.types.get(kind)
        if transcoding is not None and not isinstance(obj, _JSON_TYPES):
            if kind is datetime and obj.tzinfo is UTC and self._utc_as_orjson:
                return {"_type_": transcoding.name, "_data_": obj}
            return {"_type_": transcoding.name, "_data_": self._tagged(transcoding.encode(obj))}
        return self._subclassed(obj)

    def _subclassed(self, obj: Any) -> Any:
        """A subclass of a JSON type (a ``StrEnum``), as ``json`` writes it: its content."""
        if isinstance(obj, str):
            return str.__str__(obj)
        if isinstance(obj, int):  # bool, the one int that is also JSON's, is plain
            return int.__int__(obj)
        if isinstance(obj, (list, tuple)):
            return [self._tagged(v) for v in obj]
        if isinstance(obj, dict):
            return {self._key(k): self._tagged(v) for k, v in obj.items()}
        raise _Detour  # a float, or a type without a transcoding: the library decides

    @staticmethod
    def _key(key: Any) -> str:
        if type(key) is not str:
            raise _Detour
        return key

    def _untagged(self, obj: Any) -> Any:
        """What ``JSONTranscoder``'s object hook makes of orjson's result, innermost first."""
        kind = type(obj)
        if kind is dict:
            names, decoders = self.names, self._decoders
            for key, value in obj.items():
                kind = type(value)
                if kind in _PLAIN:
                    continue
                if kind is dict and len(value) == 2 and type(value.get("_data_")) is str:
                    # the common tagged value, a string inside: no call down for it
                    obj[key] = decoders[value["_type_"]](value["_data_"])
                else:
                    obj[key] = self._untagged(value)
            if len(obj) == 2 and "_type_" in obj and "_data_" in obj:
                return names[obj["_type_"]].decode(obj["_data_"])
            return obj
        if kind is list:
            return [v if type(v) in _PLAIN else self._untagged(v) for v in obj]
        if kind is float:
            raise _Detour  # or an integer past 64 bits, which orjson reads as a float
        return obj


def uuid_of(data: str) -> UUID:
    """``UUID(data)`` (``UUIDAsHex.decode``), made from the integer directly when ``data``
    is 32 letters and digits, the hex it writes: ``UUID.__init__`` parses every form."""
    if len(data) != 32 or not data.isalnum():
        return UUID(data)
    made = object.__new__(UUID)
    object.__setattr__(made, "int", int(data, 16))
    object.__setattr__(made, "is_safe", SafeUUID.unknown)
    return made


_FAST: dict[type[Transcoding], Callable[[str], Any]] = {
    UUIDAsHex: uuid_of,
    DatetimeAsISO: datetime.fromisoformat,
}
