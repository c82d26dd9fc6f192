"""A campaign's personalisation: Jinja2 in its sandbox, with the campaign's defaults.

A template is the brand's text, not code it may run: the sandbox refuses attribute access
to Python internals, and a recipient's attributes are plain strings. A recipient without
an attribute gets the campaign's default for it, then the empty string, so a missing
first name reads "Bonjour client", never "Bonjour None".
"""

from __future__ import annotations

from collections.abc import Mapping

from jinja2 import TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment

from chainon.domain.errors import InvalidInput

_ENVIRONMENT = SandboxedEnvironment(undefined=Undefined, autoescape=False)


class Personalisation:
    def __init__(self, template: str, defaults: Mapping[str, str]) -> None:
        try:
            self._template = _ENVIRONMENT.from_string(template)
        except TemplateError as exc:
            raise InvalidInput(f"not a valid template: {exc}", field="template") from None
        self._defaults = dict(defaults)

    def render(self, attributes: Mapping[str, str]) -> str:
        """The recipient's text; a template that fails for this recipient (a filter on a
        value it cannot take) is an ``InvalidInput`` the caller reports for the recipient."""
        given = {k: v for k, v in attributes.items() if v != ""}
        try:
            return self._template.render({**self._defaults, **given}).strip()
        except TemplateError as exc:
            raise InvalidInput(f"the template failed: {exc}", field="template") from None
