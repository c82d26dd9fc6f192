"""Text that people write (a message, a tag, a name), refused when it holds C0 controls.

PostgreSQL's ``text`` cannot hold NUL, and the other C0 controls (bell, backspace, escape...)
are never what a person meant to send or to file a conversation under: they come from a
broken client or a probe. Tab, CR and LF are text (a message has lines) and are kept. Every
free-text field of a command or a request is this one type, so that the refusal is the same
everywhere and names the field.

What consumers send through a provider is not refused here: nobody could be told.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def without_control_characters(text: str) -> str:
    found = _CONTROL.search(text)
    if found is not None:
        raise PydanticCustomError(
            "control_character",
            "must not contain control characters: U+{code} at position {position}",
            {"code": f"{ord(found[0]):04X}", "position": found.start()},
        )
    return text


PlainText = Annotated[str, AfterValidator(without_control_characters)]
