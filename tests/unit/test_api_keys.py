"""API keys: their shape, whatever characters the random secret happens to contain."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chainon.auth import hash_api_key, split_api_key

SECRET = st.text(alphabet="ABCabc019-_", min_size=1, max_size=40)


@given(st.text(alphabet="0123456789abcdef", min_size=12, max_size=12), SECRET)
def test_the_key_id_is_found_even_when_the_secret_holds_underscores(
    key_id: str, secret: str
) -> None:
    assert split_api_key(f"chn_{key_id}_{secret}") == key_id


def test_other_shapes_are_not_keys() -> None:
    for key in ("", "chn_", "chn_short_secret", "sk_0123456789ab_secret", "chn0123456789absecret"):
        assert split_api_key(key) is None


def test_the_stored_hash_is_not_the_key() -> None:
    key = "chn_0123456789ab_s3cr3t"
    assert hash_api_key(key) != key
    assert hash_api_key(key) == hash_api_key(key)
    assert len(hash_api_key(key)) == 64
