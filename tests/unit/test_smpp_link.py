"""An SMPP link's validity period, in SMPP 3.4's relative time format."""

from __future__ import annotations

import pytest

from chainon.adapters.channels.smpp.link import relative_time


@pytest.mark.parametrize(
    ("seconds", "field"),
    [
        (60, "000000000100000R"),
        (3600, "000000010000000R"),
        (48 * 3600, "000002000000000R"),
        (86400 + 3600 + 61, "000001010101000R"),
    ],
)
def test_a_validity_period_is_days_hours_minutes_seconds_from_now(seconds: int, field: str) -> None:
    assert relative_time(seconds) == field
    assert len(field) == 16


@pytest.mark.parametrize("seconds", [0, -5, 100 * 86400])
def test_a_validity_period_out_of_range_is_refused(seconds: int) -> None:
    with pytest.raises(ValueError, match="relative SMPP time"):
        relative_time(seconds)
