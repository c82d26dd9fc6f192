"""The application's exception hierarchy: what the operator fixes, not the code.

A setting Chainon cannot use, a server it cannot reach, a store that is not there: each
edge says it in one line (the CLI's ``error: …``), never with a traceback. Kept free of
imports, so that the CLI can catch these without loading the runtime.
"""

from __future__ import annotations


class OperatorError(Exception):
    """Base of the failures an operator fixes (a setting, a server, a directory)."""


class CannotStart(OperatorError):
    """Chainon cannot start as configured; ``setting`` names what to change."""

    def __init__(self, detail: str, *, setting: str) -> None:
        super().__init__(f"{setting}: {detail}")
        self.detail = detail
        self.setting = setting


class DemoFailed(OperatorError):
    """The story cannot be told: a directory in use, or a receipt that never came."""


class Unhealthy(OperatorError):
    """``chainon healthcheck`` got no healthy answer (the container is marked unhealthy)."""
