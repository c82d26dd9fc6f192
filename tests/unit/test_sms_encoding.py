from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainon.domain.sms_encoding import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    GSM7_LOOKALIKES,
    Encoding,
    SegmentPlan,
    is_gsm7,
    plan_segments,
    septet_length,
    smart_encode,
    smart_encode_if_cheaper,
    ucs2_length,
)

# Written out independently of the module, straight from 3GPP TS 23.038 (ESC omitted).
BASIC_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENSION_TABLE = "\f^{}\\[~]|€"
GSM_ACCENTED = "éèùìòÇØøÅåÄÖÑÜäöñüàÉÆæß"


def gsm_units(text: str) -> int:
    return sum(2 if c in EXTENSION_TABLE else 1 for c in text)


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def segment_units(plan: SegmentPlan, segment: str) -> int:
    return gsm_units(segment) if plan.encoding is Encoding.GSM7 else utf16_units(segment)


# --- tables and counting ------------------------------------------------------------------


def test_tables_match_3gpp_23038() -> None:
    assert len(BASIC_TABLE) == 127
    assert set(BASIC_TABLE) == GSM7_BASIC
    assert set(EXTENSION_TABLE) == GSM7_EXTENSION
    assert not GSM7_BASIC & GSM7_EXTENSION


@pytest.mark.parametrize("char", ["ç", "`", "\x1b", "\t", "á", "—", "’", "😀", "\u2126", "µ"])
def test_non_gsm_characters(char: str) -> None:
    assert not is_gsm7(char)
    assert not is_gsm7("hello " + char)
    with pytest.raises(ValueError, match=r"GSM 03\.38"):
        septet_length("abc" + char)


def test_is_gsm7_accepts_both_tables() -> None:
    assert is_gsm7(BASIC_TABLE + EXTENSION_TABLE)
    assert is_gsm7("")
    assert is_gsm7("¤ and $ are both basic")


def test_septet_length() -> None:
    assert septet_length("€") == 2
    assert septet_length("a{b}\f") == 8
    assert septet_length("") == 0
    assert septet_length(BASIC_TABLE) == 127
    assert septet_length(EXTENSION_TABLE) == 20


def test_ucs2_length() -> None:
    assert ucs2_length("😀") == 2
    assert ucs2_length("a—😀b") == 5
    assert ucs2_length("") == 0


# --- segmentation examples ----------------------------------------------------------------


def test_160_gsm_chars_is_one_segment() -> None:
    plan = plan_segments("a" * 160)
    assert plan == SegmentPlan(Encoding.GSM7, ("a" * 160,), 160)
    assert plan.count == 1


def test_161_gsm_chars_is_two_segments() -> None:
    plan = plan_segments("a" * 161)
    assert plan.encoding is Encoding.GSM7
    assert [len(s) for s in plan.segments] == [153, 8]
    assert plan.units == 161


def test_70_ucs2_chars_is_one_segment() -> None:
    plan = plan_segments("ж" * 70)
    assert (plan.encoding, plan.count, plan.units) == (Encoding.UCS2, 1, 70)


def test_71_ucs2_chars_is_two_segments() -> None:
    plan = plan_segments("ж" * 71)
    assert plan.encoding is Encoding.UCS2
    assert [len(s) for s in plan.segments] == [67, 4]


def test_80_euro_signs_fit_one_segment() -> None:
    plan = plan_segments("€" * 80)
    assert (plan.encoding, plan.units, plan.count) == (Encoding.GSM7, 160, 1)
    assert plan_segments("€" * 81).count == 2


def test_escape_pair_is_not_split_across_segments() -> None:
    text = "a" * 152 + "€" + "b" * 10  # the € would take septets 153 and 154
    plan = plan_segments(text)
    assert plan.segments == ("a" * 152, "€" + "b" * 10)
    assert plan.units == 164


def test_escape_pair_exactly_filling_segment_stays() -> None:
    text = "a" * 151 + "€" + "b" * 10
    plan = plan_segments(text)
    assert plan.segments == ("a" * 151 + "€", "b" * 10)


def test_surrogate_pair_is_not_split_across_segments() -> None:
    text = "ж" * 66 + "😀" + "ж" * 10  # the emoji would take units 67 and 68
    plan = plan_segments(text)
    assert plan.encoding is Encoding.UCS2
    assert plan.segments == ("ж" * 66, "😀" + "ж" * 10)
    assert plan.units == 78


def test_single_non_gsm_char_switches_whole_message_to_ucs2() -> None:
    for odd in ("ç", "—"):
        plan = plan_segments("a" * 100 + odd)
        assert plan.encoding is Encoding.UCS2
        assert plan.units == 101
        assert [len(s) for s in plan.segments] == [67, 34]
    assert plan_segments("a" * 101).count == 1


def test_empty_text_is_one_empty_segment() -> None:
    plan = plan_segments("")
    assert plan == SegmentPlan(Encoding.GSM7, ("",), 0)
    assert plan.count == 1


# --- smart encoding -----------------------------------------------------------------------


def test_smart_encode_replaces_lookalikes() -> None:
    text = "It’s “great” – really…\u00a0ok"
    new, replaced = smart_encode(text)
    assert new == 'It\'s "great" - really... ok'
    assert replaced == ("’", "“", "”", "–", "…", "\u00a0")
    assert is_gsm7(new)
    assert not is_gsm7(text)


def test_smart_encode_keeps_gsm_accents() -> None:
    assert smart_encode("é") == ("é", ())
    assert smart_encode(GSM_ACCENTED) == (GSM_ACCENTED, ())


def test_smart_encode_misc() -> None:
    assert smart_encode("a\u200bb\ufeff") == ("ab", ("\u200b", "\ufeff"))
    assert smart_encode("«oui»") == ('"oui"', ("«", "»"))
    assert smart_encode("ＡＢ！｀") == ("AB!'", ("Ａ", "Ｂ", "！", "｀"))
    assert smart_encode("• x")[0] == "- x"
    # Letters are never rewritten, so the result may legitimately stay UCS-2.
    assert smart_encode("ça’") == ("ça'", ("’",))


def test_lookalike_replacements_are_gsm7() -> None:
    for original, replacement in GSM7_LOOKALIKES.items():
        assert not is_gsm7(original), original
        assert is_gsm7(replacement), original


# --- properties ---------------------------------------------------------------------------

basic = st.sampled_from(BASIC_TABLE)
extension = st.sampled_from(EXTENSION_TABLE)
bmp_other = st.sampled_from("çáЖжΩ中文—’é€") | st.characters(
    min_codepoint=0x4E00, max_codepoint=0x9FFF
)
astral = st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF)


@st.composite
def texts_of(draw: st.DrawFn, chars: st.SearchStrategy[str], max_size: int = 480) -> str:
    """Long texts built from repeated short runs: reaches every segment boundary cheaply."""
    runs = st.tuples(st.text(chars, min_size=1, max_size=4), st.integers(1, 60))
    text = "".join(chunk * times for chunk, times in draw(st.lists(runs, max_size=12)))
    return text[: draw(st.integers(min_value=0, max_value=max_size))]


gsm_texts = texts_of(st.one_of(basic, basic, basic, extension))
mixed_texts = texts_of(st.one_of(basic, extension, bmp_other, astral), max_size=250)
any_texts = st.one_of(gsm_texts, mixed_texts, st.text(max_size=300))


@settings(max_examples=200)
@given(any_texts)
def test_plan_invariants(text: str) -> None:
    plan = plan_segments(text)
    assert "".join(plan.segments) == text
    assert plan.encoding is (Encoding.GSM7 if is_gsm7(text) else Encoding.UCS2)
    sizes = [segment_units(plan, s) for s in plan.segments]
    assert plan.units == sum(sizes)
    single, per_part = (160, 153) if plan.encoding is Encoding.GSM7 else (70, 67)
    if plan.count == 1:
        assert plan.units <= single
    else:
        assert plan.units > single
        assert all(0 < size <= per_part for size in sizes)
        # Greedy packing: only a 2-unit character can push a part one unit short.
        assert all(size >= per_part - 1 for size in sizes[:-1])
    for segment in plan.segments:
        assert segment.encode("utf-16-le", "strict").decode("utf-16-le") == segment
        if segment:
            assert not 0xDC00 <= ord(segment[0]) <= 0xDFFF
            assert not 0xD800 <= ord(segment[-1]) <= 0xDBFF


@settings(max_examples=200)
@given(texts_of(basic))
def test_pure_basic_gsm_count_formula(text: str) -> None:
    n = len(text)
    plan = plan_segments(text)
    assert plan.encoding is Encoding.GSM7
    assert plan.units == n
    assert plan.count == (1 if n <= 160 else math.ceil(n / 153))


@settings(max_examples=200)
@given(texts_of(bmp_other.filter(lambda c: not is_gsm7(c)), max_size=250))
def test_pure_bmp_ucs2_count_formula(text: str) -> None:
    n = len(text)
    plan = plan_segments(text)
    assert plan.units == n
    if n:
        assert plan.encoding is Encoding.UCS2
    assert plan.count == (1 if n <= 70 else math.ceil(n / 67))


lookalike = st.sampled_from(sorted(GSM7_LOOKALIKES))


@settings(max_examples=200)
@given(texts_of(st.one_of(basic, extension, lookalike), max_size=200))
def test_smart_encode_makes_gsm7(text: str) -> None:
    new, replaced = smart_encode(text)
    assert is_gsm7(new)
    assert replaced == tuple(dict.fromkeys(c for c in text if not is_gsm7(c)))
    assert smart_encode(new) == (new, ())


@settings(max_examples=200)
@given(st.text(max_size=100) | texts_of(st.one_of(bmp_other, astral, lookalike), max_size=50))
def test_smart_encode_only_touches_lookalikes(text: str) -> None:
    new, replaced = smart_encode(text)
    assert replaced == tuple(dict.fromkeys(c for c in text if c in GSM7_LOOKALIKES))
    assert new == "".join(GSM7_LOOKALIKES.get(c, c) for c in text)


@settings(max_examples=300)
@given(texts_of(st.one_of(basic, extension, bmp_other, astral, lookalike), max_size=700))
def test_smart_encoding_never_increases_the_segment_count(text: str) -> None:
    sent, replaced = smart_encode_if_cheaper(text)
    written, rewritten = plan_segments(text).count, plan_segments(sent).count
    assert rewritten <= written
    if replaced:
        assert (sent, replaced) == smart_encode(text)
        assert rewritten < written
    else:
        assert sent == text


def test_an_ellipsis_that_would_add_a_segment_is_kept() -> None:
    text = "Merci…" * 12  # 72 septets; UCS-2 for the ellipsis: 72 units, two parts
    assert smart_encode_if_cheaper(text) == ("Merci..." * 12, ("…",))
    longer = "…" * 60  # one UCS-2 part; rewritten, 180 septets: two parts
    assert smart_encode_if_cheaper(longer) == (longer, ())
    kept_ucs2 = "ça “va” ?"  # stays UCS-2 either way: left as written
    assert smart_encode_if_cheaper(kept_ucs2) == (kept_ucs2, ())
