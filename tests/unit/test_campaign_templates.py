"""A campaign's template renders a recipient's text, and no template can hold the server:
each limit it passes fails that render with the reason, at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from chainon.campaign_templates import MAX_OUTPUT, MAX_TEMPLATE, Personalisation
from chainon.domain.errors import InvalidInput


def within(seconds: float, render: Callable[[], object]) -> object:
    """The render's result or its error, failing the test if it takes longer: a daemon
    thread, so that a template that does hang cannot hold the test run too."""
    done: list[object] = []

    def run() -> None:
        try:
            done.append(render())
        except Exception as exc:
            done.append(exc)

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert done, f"the render still runs after {time.monotonic() - started:.1f}s"
    return done[0]


def refused(template: str, attributes: dict[str, str] | None = None) -> str:
    error = within(5, lambda: Personalisation(template, {}).render(attributes or {}))
    assert isinstance(error, InvalidInput), error
    assert error.field == "template"
    return error.detail


def test_a_normal_template_still_renders() -> None:
    text = Personalisation(
        "Bonjour {{ first_name|title }}, -{{ discount }} % chez {{ shop ~ ' ' ~ city }}"
        "{% for i in range(3) %}!{% endfor %} {{ 'STOP SMS'|replace('SMS', 'SMS') }}",
        {"first_name": "client", "discount": "20"},
    )
    assert text.render({"first_name": "léa", "shop": "Maison", "city": "Lyon"}) == (
        "Bonjour Léa, -20 % chez Maison Lyon!!! STOP SMS"
    )
    assert text.render({"shop": "Maison", "city": ""}) == (
        "Bonjour Client, -20 % chez Maison !!! STOP SMS"
    )


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{{ 'x' * 10**9 }}", "at most 20000 characters"),
        ("{{ ['x'] * 10**9 }}", "at most 20000 characters"),
        ("{{ 10 ** (10**9) }}", "bits"),
        ("{% set n = 10**100 %}" + "{% set n = n * n %}" * 6, "bits"),
        ("{{ range(10**9)|list }}", "a range is at most 1000 items"),
        (
            "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
            "{% endfor %}{% endfor %}{% endfor %}",
            "steps",
        ),
        ("{% for a in range(1000) %}{% for b in range(1000) %}x{% endfor %}{% endfor %}", "steps"),
        (
            "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
            "{{ f(60) }}",
            "steps",
        ),
        ("{% set s = 'x' * 10000 %}{{ s ~ s ~ s }}", "at most 20000 characters"),
        ("{{ '%0999999999d' % 1 }}", "string formatting"),
        ("{{ 'x'.ljust(10**9) }}", "ljust"),
        ("{{ '{:>999999999}'.format('x') }}", "format"),
        ("{% set s = 'x' * 1000 %}{{ s|replace('x', s) }}", "at most 20000 characters"),
    ],
)
def test_a_template_past_a_limit_fails_its_render_with_the_reason(
    template: str, reason: str
) -> None:
    assert reason in refused(template)


def test_the_output_is_held_to_its_limit_whatever_builds_it() -> None:
    page = "y" * 900
    assert "at most" in refused(
        "{% for i in range(30) %}{{ page }}{% endfor %}", {"page": page}
    )  # 27,000 characters, each piece small
    ok = Personalisation("{% for i in range(20) %}{{ page }}{% endfor %}", {})
    assert len(ok.render({"page": page})) == 18_000 < MAX_OUTPUT


@pytest.mark.parametrize("template", ["{{ 'x'|center(10**9) }}", "{{ lipsum(10**9) }}"])
def test_filters_and_globals_that_build_from_a_size_are_not_there(template: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Personalisation(template, {}).render({})
    assert caught.value.field == "template"


def test_a_template_over_its_size_is_refused_before_parsing() -> None:
    with pytest.raises(InvalidInput, match=f"at most {MAX_TEMPLATE} characters"):
        Personalisation("x" * (MAX_TEMPLATE + 1), {})
