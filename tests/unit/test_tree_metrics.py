"""Merging ``chainon serve``'s children's metrics into the parent's exposition."""

from __future__ import annotations

from collections import Counter as Tally

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import Metric

from chainon.tree_metrics import Missed, families, merge

CHILD = "child:dispatch+relay+views"


def exposition(registry: CollectorRegistry) -> list[Metric]:
    return families(generate_latest(registry).decode())


def process(relayed: float) -> CollectorRegistry:
    """The same families in each process, as every process imports the same modules."""
    registry = CollectorRegistry()
    Counter("chainon_relay_events_total", "Events relayed.", registry=registry).inc(relayed)
    Counter("chainon_embedded_child_restarts_total", "Restarts.", ["role"], registry=registry)
    Histogram("chainon_latency_seconds", "Latency.", registry=registry).observe(0.2)
    return registry


def parsed(text: bytes) -> dict[str, Metric]:
    found = families(text.decode())
    names = Tally(family.name for family in found)
    assert all(count == 1 for count in names.values()), names
    types = [line.split()[2] for line in text.decode().splitlines() if line.startswith("# TYPE")]
    assert len(types) == len(set(types)), "a TYPE line twice"
    return {family.name: family for family in found}


def values(family: Metric, sample: str) -> dict[str, float]:
    return {s.labels.get("process", "parent"): s.value for s in family.samples if s.name == sample}


def test_each_family_once_the_parent_as_it_was_and_the_child_labelled() -> None:
    merged = parsed(merge(exposition(process(0)), {CHILD: exposition(process(3))}))
    relayed = merged["chainon_relay_events"]
    assert values(relayed, "chainon_relay_events_total") == {"parent": 0.0, CHILD: 3.0}
    # a family with no sample in either process keeps its HELP and TYPE, once
    assert merged["chainon_embedded_child_restarts"].samples == []
    buckets = [s for s in merged["chainon_latency_seconds"].samples if s.labels.get("le") == "0.25"]
    assert sorted(s.labels.get("process", "") for s in buckets) == ["", CHILD]


def test_the_parents_samples_keep_their_text() -> None:
    own = process(0)
    Gauge("chainon_only_here", "Parent only.", ["brand"], registry=own).labels("b").set(2)
    text = merge(exposition(own), {CHILD: exposition(process(3))}).decode()
    assert 'chainon_only_here{brand="b"} 2.0' in text.splitlines()
    assert f'chainon_relay_events_total{{process="{CHILD}"}} 3.0' in text.splitlines()


def test_two_children_with_the_same_family_give_two_series() -> None:
    views = "child:views"
    merged = parsed(
        merge(
            exposition(process(0)), {views: exposition(process(1)), CHILD: exposition(process(5))}
        )
    )
    relayed = merged["chainon_relay_events"]
    assert values(relayed, "chainon_relay_events_total") == {"parent": 0.0, views: 1.0, CHILD: 5.0}


def test_a_childs_family_of_another_type_is_left_out() -> None:
    child = CollectorRegistry()
    Gauge("chainon_relay_events_total", "Not a counter here.", registry=child).set(9)
    Gauge("chainon_child_only", "Child only.", registry=child).set(4)
    merged = parsed(merge(exposition(process(0)), {CHILD: exposition(child)}))
    assert merged["chainon_relay_events"].type == "counter"
    assert "chainon_relay_events_total" not in merged
    assert values(merged["chainon_child_only"], "chainon_child_only") == {CHILD: 4.0}


def test_the_same_series_twice_is_written_once() -> None:
    own = exposition(process(2))
    text = merge(own, {}).decode()
    assert merge([*own, *exposition(process(7))], {}).decode() == text


@pytest.mark.parametrize(
    "text",
    [
        "chainon_relay_events_total{process=child} 3\n",
        "chainon_relay_events_total three\n",
        'chainon_relay_events_total{role="a} 1\n',
    ],
)
def test_a_childs_text_that_does_not_parse_is_refused(text: str) -> None:
    with pytest.raises(Missed) as refused:
        families(text)
    assert refused.value.reason == "malformed"
