"""A flow's YAML read with its line numbers, so that a refusal names the line at fault.

The domain locates each fault by path (``steps[2].answer.max``); ruamel.yaml's round-trip
loader remembers where each key and item was written, so the path becomes a line. Every
text is then parsed by the campaigns' Jinja2 sandbox: a template that cannot parse is
refused at publication, not when a consumer reaches it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from io import StringIO
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from chainon.campaign_templates import Personalisation
from chainon.domain.errors import InvalidInput
from chainon.domain.flow import Fault, FlowDocument, InvalidFlow, Location, parse

MAX_DOCUMENT_BYTES = 256 * 1024


@dataclass(frozen=True)
class Refusal:
    """One fault of a flow file: its line (1-based), its field, what is wrong."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.line}: {self.field or 'flow'}: {self.message}"


class FlowRefused(InvalidInput):
    def __init__(self, refusals: list[Refusal]) -> None:
        first = refusals[0]
        super().__init__(f"line {first.line}: {first.message}", field=first.field or None)
        self.refusals = refusals


def load(source: str) -> FlowDocument:
    """The flow ``source`` writes, or ``FlowRefused`` naming each fault's line and field."""
    if len(source.encode()) > MAX_DOCUMENT_BYTES:
        raise FlowRefused([Refusal(1, "", f"a flow is at most {MAX_DOCUMENT_BYTES} bytes")])
    tree = _tree(source)
    try:
        document = parse(tree)
    except InvalidFlow as exc:
        raise FlowRefused([_located(tree, fault) for fault in exc.faults]) from None
    faults = list(_template_faults(document))
    if faults:
        raise FlowRefused([_located(tree, fault) for fault in faults])
    return document


def render(template: str, values: Mapping[str, str]) -> str:
    """A flow's text for one dialogue: the ``Render`` the dialogue engine is given."""
    return _compiled(template).render(values)


@functools.lru_cache(maxsize=1024)
def _compiled(template: str) -> Personalisation:
    return Personalisation(template, {})


def _tree(source: str) -> Any:
    yaml = YAML(typ="rt", pure=True)
    try:
        tree = yaml.load(StringIO(source))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        reason = " ".join(p for p in (exc.context, exc.problem) if p)
        raise FlowRefused([Refusal(line, "", f"not valid YAML: {reason}")]) from None
    except YAMLError as exc:
        raise FlowRefused([Refusal(1, "", f"not valid YAML: {exc}")]) from None
    if not isinstance(tree, dict):
        raise FlowRefused([Refusal(1, "", "a flow is a YAML mapping (name:, steps:...)")])
    return tree


def _template_faults(document: FlowDocument) -> list[Fault]:
    faults = []
    for location, text in document.templates():
        try:
            Personalisation(text, {})
        except InvalidInput as exc:
            faults.append(Fault(location, exc.detail))
    return faults


def _located(tree: Any, fault: Fault) -> Refusal:
    return Refusal(line_of(tree, fault.location), fault.field, fault.message)


def line_of(tree: Any, location: Location) -> int:
    """The line of the deepest part of ``location`` the document holds: a missing field
    is reported on the line of the mapping that lacks it."""
    node, line = tree, node_line(tree)
    for part in location:
        found = _child_line(node, part)
        if found is None:
            break
        line, node = found, node[part]
    return line


def node_line(node: Any) -> int:
    lc = getattr(node, "lc", None)
    return lc.line + 1 if lc is not None and lc.line is not None else 1


def _child_line(node: Any, part: str | int) -> int | None:
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    if isinstance(node, dict) and part in node:
        line: int = lc.key(part)[0]
        return line + 1
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        line = lc.item(part)[0]
        return line + 1
    return None
