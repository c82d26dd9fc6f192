"""The unsubscribe token: read back as minted, refused when forged, altered or minted with
another secret; the header folds between its URIs, never inside one."""

from __future__ import annotations

import base64
import uuid
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP
from email.policy import default as default_policy

from hypothesis import given
from hypothesis import strategies as st

from chainon.adapters.channels.email.unsubscribe import POLICY, Unsubscribe, UnsubscribeLinks
from chainon.domain.purpose import Purpose

SECRET = "an-unsubscribe-secret-of-32-chars"
PUBLIC = "https://chainon.example.com/"
BRAND = uuid.UUID("6f1b3f4e-8a43-4f0e-9d5e-0c3c6b0f7a11")
LINKS = UnsubscribeLinks(SECRET, PUBLIC)


@given(address=st.emails(), marketing=st.booleans())
def test_a_token_reads_back_as_minted(address: str, marketing: bool) -> None:
    purpose = Purpose.MARKETING if marketing else Purpose.SERVICE
    token = LINKS.token(BRAND, address, purpose)
    assert LINKS.read(token) == Unsubscribe(BRAND, address, purpose)
    assert LINKS.url(token) == f"https://chainon.example.com/v1/unsubscribe/{token}"


@given(index=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_any_altered_byte_is_refused(index: int, flip: int) -> None:
    token = LINKS.token(BRAND, "camille@example.fr", Purpose.MARKETING)
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[index % len(raw)] ^= flip
    assert LINKS.read(base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")) is None


def test_another_secret_or_garbage_reads_nothing() -> None:
    token = LINKS.token(BRAND, "camille@example.fr", Purpose.MARKETING)
    assert UnsubscribeLinks("another-secret-of-16-chars", PUBLIC).read(token) is None
    for garbage in ("", "!!!!", "A", "A" * 600, token[:10]):
        assert LINKS.read(garbage) is None


def test_another_brand_or_address_cannot_be_swapped_in() -> None:
    token = LINKS.token(BRAND, "camille@example.fr", Purpose.MARKETING)
    other = LINKS.token(uuid.uuid4(), "claire@example.fr", Purpose.MARKETING)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    theirs = base64.urlsafe_b64decode(other + "=" * (-len(other) % 4))
    spliced = theirs[:-16] + raw[-16:]  # their payload, our signature
    assert LINKS.read(base64.urlsafe_b64encode(spliced).decode().rstrip("=")) is None


def test_the_header_folds_between_its_uris_not_inside_one() -> None:
    address = "a.very.long.mailbox.name.for.folding@subdomain.example-company.fr"
    header = LINKS.header(BRAND, address, Purpose.MARKETING, mailto="reply+abc@reply.example")
    email = EmailMessage(policy=POLICY)
    email["List-Unsubscribe"] = header
    email.set_content("x")
    wire = email.as_bytes(policy=SMTP)  # what aiosmtplib hands the relay
    assert b"=?utf-8?" not in wire
    lines = wire.split(b"\r\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(b"List-Unsubscribe:"))
    assert lines[start].endswith(b">,")
    assert lines[start + 1].startswith(b" <mailto:reply+abc@reply.example?subject=")
    parsed = BytesParser(policy=default_policy).parsebytes(wire)
    assert str(parsed["List-Unsubscribe"]) == header
