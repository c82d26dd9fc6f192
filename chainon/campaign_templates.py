"""A campaign's personalisation: Jinja2 in its sandbox, with the campaign's defaults.

A template is the brand's text, not code it may run: the sandbox refuses attribute access
to Python internals, and a recipient's attributes are plain strings. A recipient without
an attribute gets the campaign's default for it, then the empty string, so a missing
first name reads "Bonjour client", never "Bonjour None".

Nor may a template hold the server: the sandbox alone lets ``{{ 'x' * 10**9 }}`` take a
gigabyte and three nested ``range`` loops run for an hour. So a template is at most
``MAX_TEMPLATE`` characters, a ``range`` at most ``MAX_RANGE`` items, a render at most
``MAX_STEPS`` loop turns and calls and ``MAX_OUTPUT`` characters, and no operator, filter
or string method may build a value longer than that (or a number past ``MAX_BITS``).
Past a limit, the render fails with the reason, for that recipient, as any template error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from jinja2 import TemplateError, Undefined, nodes, pass_eval_context
from jinja2.exceptions import SecurityError
from jinja2.filters import do_replace
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from chainon.domain.errors import InvalidInput

MAX_TEMPLATE = 10_000  # characters of template
MAX_OUTPUT = 20_000  # characters a render, or any value in it, may reach
MAX_RANGE = 1_000
MAX_STEPS = 10_000  # loop turns and calls in one render
MAX_BITS = 4_096  # of a number built by * or **
# Filters and string methods that build a value from a size the template gives: padding,
# printf-style widths, batches filled up to a count. Personalisation needs none of them.
REMOVED_FILTERS = ("center", "indent", "format", "batch", "slice", "wordwrap")
UNSAFE_METHODS = frozenset(
    {"center", "ljust", "rjust", "zfill", "expandtabs", "format", "format_map", "replace"}
)

_steps: ContextVar[list[int]] = ContextVar("template_steps")


def _spend() -> None:
    left = _steps.get(None)
    if left is None:  # outside a render (the optimiser folding constants): nothing to count
        return
    left[0] -= 1
    if left[0] < 0:
        raise SecurityError(f"the template takes more than {MAX_STEPS} steps")


def _counted(items: Iterable[Any]) -> Iterator[Any]:
    for item in items:
        _spend()
        yield item


def _range(*args: int) -> range:
    found = range(*args)
    if len(found) > MAX_RANGE:
        raise SecurityError(f"a range is at most {MAX_RANGE} items")
    return found


def _sized(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple) else 0


def _bits(value: Any) -> int:
    return abs(value).bit_length() if isinstance(value, int) else 0


def _too_long(size: int) -> None:
    if size > MAX_OUTPUT:
        raise SecurityError(f"a value is at most {MAX_OUTPUT} characters or items")


def _multiply(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int):
        if _bits(left) + _bits(right) > MAX_BITS:
            raise SecurityError(f"a number is at most {MAX_BITS} bits")
    elif isinstance(right, int) and _sized(left):
        _too_long(_sized(left) * right)
    elif isinstance(left, int) and _sized(right):
        _too_long(_sized(right) * left)
    return left * right


def _power(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int) and _bits(left) * right > MAX_BITS:
        raise SecurityError(f"a number is at most {MAX_BITS} bits")
    try:
        return left**right
    except OverflowError:
        raise SecurityError("a number too large") from None


def _add(left: Any, right: Any) -> Any:
    if _sized(left) and _sized(right):
        _too_long(_sized(left) + _sized(right))
    return left + right


def _modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str):  # printf-style: a width would build any length
        raise SecurityError("string formatting with % is not allowed")
    return left % right


def _bounded(text: str) -> str:
    _too_long(len(text))
    return text


@pass_eval_context
def _replace(
    eval_ctx: EvalContext, value: str, old: str, new: str, count: int | None = None
) -> str:
    text, old, new = str(value), str(old), str(new)
    if len(new) > len(old):
        _too_long(len(text) + text.count(old) * (len(new) - len(old)))
    return str(do_replace(eval_ctx, value, old, new, count))


class _Environment(SandboxedEnvironment):
    """The sandbox with every operator, loop, call and concatenation held to the limits."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    _operators: Mapping[str, Callable[[Any, Any], Any]] = {
        "*": _multiply,
        "**": _power,
        "+": _add,
        "%": _modulo,
    }

    def __init__(self) -> None:
        super().__init__(undefined=Undefined, autoescape=False)
        self.globals["range"] = _range
        del self.globals["lipsum"]
        for name in REMOVED_FILTERS:
            del self.filters[name]
        self.filters["replace"] = _replace

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        held = self._operators.get(operator)
        if held is None:
            return super().call_binop(context, operator, left, right)
        return held(left, right)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and attr in UNSAFE_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        return None  # str.format is refused as unsafe (its widths), not sandboxed

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _spend()  # a macro calling itself twice would otherwise run for ever
        return SandboxedEnvironment.call(__self, __context, __obj, *args, **kwargs)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Every loop counted, every concatenation (``~``) held to the output's limit."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Call(
                nodes.EnvironmentAttribute("counted"), [loop.iter], [], None, None
            )
        for joined in list(tree.find_all(nodes.Concat)):
            joined.nodes = [
                nodes.Call(
                    nodes.EnvironmentAttribute("bounded"),
                    [nodes.Concat(joined.nodes)],
                    [],
                    None,
                    None,
                )
            ]
        return tree

    counted = staticmethod(_counted)
    bounded = staticmethod(_bounded)


_ENVIRONMENT = _Environment()


class Personalisation:
    def __init__(self, template: str, defaults: Mapping[str, str]) -> None:
        if len(template) > MAX_TEMPLATE:
            raise InvalidInput(f"at most {MAX_TEMPLATE} characters", field="template")
        try:
            self._template = _ENVIRONMENT.from_string(template)
        except TemplateError as exc:
            raise InvalidInput(f"not a valid template: {exc}", field="template") from None
        self._defaults = dict(defaults)

    def render(self, attributes: Mapping[str, str]) -> str:
        """The recipient's text; a template that fails for this recipient (a filter on a
        value it cannot take, a limit it passes) is an ``InvalidInput`` the caller reports
        for the recipient."""
        given = {k: v for k, v in attributes.items() if v != ""}
        budget = _steps.set([MAX_STEPS])
        try:
            out: list[str] = []
            size = 0
            for chunk in self._template.generate({**self._defaults, **given}):
                size += len(chunk)
                _too_long(size)
                out.append(chunk)
            return "".join(out).strip()
        except TemplateError as exc:
            raise InvalidInput(f"the template failed: {exc}", field="template") from None
        finally:
            _steps.reset(budget)
