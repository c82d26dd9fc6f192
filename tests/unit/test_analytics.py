"""The analytics read model's pure helpers: a country from an address, percentiles."""

from __future__ import annotations

import pytest

from chainon.projections.analytics import country_of, percentile

FR, US = "+33612345678", "+12025550143"


@pytest.mark.parametrize(
    ("address", "country"),
    [(FR, "FR"), (US, "US"), ("lea@example.com", ""), ("brand-agent@rbm.goog", ""), ("+1", "")],
)
def test_country_of(address: str, country: str) -> None:
    assert country_of(address) == country


def test_nearest_rank_percentiles() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 90) == 7.0
    values = [float(v) for v in range(1, 11)]  # 1..10
    assert (percentile(values, 50), percentile(values, 90), percentile(values, 91)) == (
        5.0,
        9.0,
        10.0,
    )
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
