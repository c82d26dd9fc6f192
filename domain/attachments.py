"""What Chainon keeps of a file a consumer attached: its description, never its bytes."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# An inbound message keeps the description of this many attachments at most.
MAX_ATTACHMENTS = 100


class Attachment(BaseModel):
    """A file that came with an inbound message: its name and type as the sender gave
    them, its size and digest as received (the digest finds the same file again)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    filename: Annotated[str, Field(min_length=1, max_length=255)]
    content_type: Annotated[str, Field(min_length=1, max_length=255)]
    size: Annotated[int, Field(ge=0)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
