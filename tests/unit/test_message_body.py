"""What a body may be on each channel: not blank (invisible characters count as nothing),
at most ten SMS segments (counted as ``sms_encoding`` counts them), RBM's and email's
lengths; smart encoding only on request, and only where it saves a segment."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from chainon.domain.channels import Channel
from chainon.domain.errors import InvalidInput
from chainon.domain.message_body import (
    MAX_EMAIL_CHARACTERS,
    MAX_RCS_CHARACTERS,
    MAX_SMS_SEGMENTS,
    is_blank,
    prepare_body,
)
from chainon.domain.sms_encoding import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    GSM7_LOOKALIKES,
    Encoding,
    plan_segments,
    smart_encode_if_cheaper,
)

GSM7 = st.sampled_from(sorted(GSM7_BASIC | GSM7_EXTENSION))
ANY = st.characters(codec="utf-8", exclude_categories=("Cs",))


@pytest.mark.parametrize("channel", list(Channel))
@pytest.mark.parametrize("text", ["", " ", "\n\t ", "\u3000"])
def test_a_blank_body_is_refused_on_every_channel(channel: Channel, text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        prepare_body(text, channel, field="messages[0].body")
    assert refused.value.field == "messages[0].body"


@pytest.mark.parametrize("smart", [False, True])
@pytest.mark.parametrize("channel", list(Channel))
@pytest.mark.parametrize(
    "text",
    [
        "\u200b",  # zero-width space
        "\u00ad",  # soft hyphen
        "\ufeff",  # byte order mark
        "\u200b \u00ad\ufeff\u200d\n\u2060",
        "\u200e\u200f",  # direction marks: invisible too, though smart encoding keeps them
    ],
)
def test_a_body_of_invisible_characters_is_refused_as_empty(
    channel: Channel, text: str, smart: bool
) -> None:
    with pytest.raises(InvalidInput, match="must not be empty") as refused:
        prepare_body(text, channel, smart_encoding=smart)
    assert refused.value.field == "body"


def test_what_smart_encoding_deletes_counts_as_invisible() -> None:
    deleted = [char for char, replacement in GSM7_LOOKALIKES.items() if not replacement]
    assert deleted
    for char in deleted:
        with pytest.raises(InvalidInput, match="must not be empty"):
            prepare_body(char * 3, Channel.SMS)


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("Bonjour", Encoding.GSM7, 1),
        ("x" * 160, Encoding.GSM7, 1),
        ("x" * 161, Encoding.GSM7, 2),
        ("€" * 80, Encoding.GSM7, 1),  # 160 septets: each € is ESC + code
        ("€" * 81, Encoding.GSM7, 2),
        ("x" * 153 * MAX_SMS_SEGMENTS, Encoding.GSM7, MAX_SMS_SEGMENTS),
        ("ç" * 70, Encoding.UCS2, 1),  # ç is not in GSM-7 (Ç is)
        ("ç" * 71, Encoding.UCS2, 2),
        ("😀" * 35, Encoding.UCS2, 1),  # a surrogate pair each
        ("ç" * 67 * MAX_SMS_SEGMENTS, Encoding.UCS2, MAX_SMS_SEGMENTS),
    ],
)
def test_an_sms_is_planned_by_its_encoding(text: str, encoding: Encoding, segments: int) -> None:
    body = prepare_body(text, Channel.SMS)
    assert (body.text, body.encoding, body.segments, body.replaced) == (
        text,
        encoding,
        segments,
        (),
    )


@pytest.mark.parametrize(
    "text", ["x" * (153 * MAX_SMS_SEGMENTS + 1), "ç" * (67 * MAX_SMS_SEGMENTS + 1)]
)
def test_an_sms_of_more_than_ten_segments_is_refused_saying_how_many(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"is 11 SMS segments \((gsm7|ucs2)\)") as refused:
        prepare_body(text, Channel.SMS)
    assert refused.value.field == "body"


def test_smart_encoding_replaces_look_alikes_only_when_asked() -> None:
    pasted = "“Votre colis” arrive — demain, entre 9 h et 12 h. Un livreur vous appellera."
    plain = prepare_body(pasted, Channel.SMS)
    smart = prepare_body(pasted, Channel.SMS, smart_encoding=True)
    assert (plain.text, plain.encoding, plain.segments, plain.replaced) == (
        pasted,
        Encoding.UCS2,
        2,
        (),
    )
    assert (smart.text, smart.encoding, smart.segments) == (
        '"Votre colis" arrive - demain, entre 9 h et 12 h. Un livreur vous appellera.',
        Encoding.GSM7,
        1,
    )
    assert smart.replaced == ("“", "”", "—")


@pytest.mark.parametrize(
    "text",
    [
        "“Merci” – à demain",  # one part either way: the sender's quotes are kept
        "Ça coûte 10 € — à régler “sur place”",  # ç keeps it UCS-2: a rewrite saves nothing
        "…" * 60,  # one UCS-2 part; 180 septets once rewritten: two parts
        "ça…" + "…" * 60,  # stays UCS-2 and grows: two parts instead of one
    ],
)
def test_smart_encoding_leaves_a_body_it_would_not_make_cheaper(text: str) -> None:
    body = prepare_body(text, Channel.SMS, smart_encoding=True)
    assert (body.text, body.replaced) == (text, ())
    assert body.segments == plan_segments(text).count


def test_smart_encoding_can_bring_a_body_under_the_limit() -> None:
    text = "’" * 700  # 700 UTF-16 units: 11 UCS-2 parts; 700 septets once replaced: 5
    with pytest.raises(InvalidInput):
        prepare_body(text, Channel.SMS)
    body = prepare_body(text, Channel.SMS, smart_encoding=True)
    assert (body.text, body.segments, body.replaced) == ("'" * 700, 5, ("’",))


def test_smart_encoding_leaves_other_channels_alone() -> None:
    body = prepare_body("“Bonjour”", Channel.RCS, smart_encoding=True)
    assert (body.text, body.encoding, body.segments, body.replaced) == ("“Bonjour”", None, 1, ())


@pytest.mark.parametrize(
    ("channel", "limit"), [(Channel.RCS, MAX_RCS_CHARACTERS), (Channel.EMAIL, MAX_EMAIL_CHARACTERS)]
)
def test_rcs_and_email_count_characters_up_to_their_limit(channel: Channel, limit: int) -> None:
    body = prepare_body("é" * limit, channel)
    assert (body.encoding, body.segments, len(body.text)) == (None, 1, limit)
    with pytest.raises(InvalidInput, match=f"{channel.value} allows at most {limit}"):
        prepare_body("é" * (limit + 1), channel)


@given(st.text(ANY, min_size=1, max_size=800), st.booleans())
def test_an_sms_costs_what_sms_encoding_counts_or_is_refused(text: str, smart: bool) -> None:
    sent = smart_encode_if_cheaper(text)[0] if smart else text
    if is_blank(sent):
        with pytest.raises(InvalidInput):
            prepare_body(text, Channel.SMS, smart_encoding=smart)
        return
    plan = plan_segments(sent)
    if plan.count > MAX_SMS_SEGMENTS:
        with pytest.raises(InvalidInput, match=f"is {plan.count} SMS segments"):
            prepare_body(text, Channel.SMS, smart_encoding=smart)
        return
    body = prepare_body(text, Channel.SMS, smart_encoding=smart)
    assert (body.text, body.encoding, body.segments) == (sent, plan.encoding, plan.count)
    assert "".join(plan.segments) == body.text
    assert set(body.replaced) <= set(text)


LOOKALIKE = st.sampled_from(sorted(GSM7_LOOKALIKES))
# Runs of a few characters repeated: reaches every segment boundary, and texts heavy in
# look-alikes ("……") where a rewrite costs more than it saves.
SMS_TEXTS = st.lists(
    st.tuples(st.text(GSM7 | LOOKALIKE | ANY, min_size=1, max_size=4), st.integers(1, 80)),
    min_size=1,
    max_size=8,
).map(lambda runs: "".join(chunk * times for chunk, times in runs)[:1600])


@given(SMS_TEXTS)
def test_smart_encoding_never_adds_a_segment(text: str) -> None:
    written = plan_segments(text).count
    try:
        body = prepare_body(text, Channel.SMS, smart_encoding=True)
    except InvalidInput:
        sent = smart_encode_if_cheaper(text)[0]
        assert is_blank(sent) or plan_segments(sent).count > MAX_SMS_SEGMENTS
        return
    assert body.segments <= written
    if body.replaced:
        assert body.segments < written
    else:
        assert body.text == text


@given(st.text(GSM7, min_size=1, max_size=1700))
def test_gsm7_text_is_one_part_up_to_160_septets_then_parts_of_at_most_153(text: str) -> None:
    assume(text.strip())  # a blank body is refused: see above
    septets = sum(2 if c in GSM7_EXTENSION else 1 for c in text)
    if septets <= 160:
        assert prepare_body(text, Channel.SMS).segments == 1
        return
    at_least = -(-septets // 153)  # an escape pair never split: sometimes one part more
    if at_least > MAX_SMS_SEGMENTS:
        with pytest.raises(InvalidInput):
            prepare_body(text, Channel.SMS)
        return
    plan = plan_segments(text)
    assert plan.count >= at_least
    assert all(sum(2 if c in GSM7_EXTENSION else 1 for c in s) <= 153 for s in plan.segments)
    if plan.count > MAX_SMS_SEGMENTS:
        with pytest.raises(InvalidInput):
            prepare_body(text, Channel.SMS)
    else:
        assert prepare_body(text, Channel.SMS).segments == plan.count
