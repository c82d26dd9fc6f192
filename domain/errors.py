"""The domain's exception hierarchy.

Every refusal names what was wrong, so that the edges (HTTP problem+json, the CLI, a
dead-letter record) can say it precisely without guessing.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal the domain makes."""

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class InvalidInput(DomainError):
    """The input cannot be accepted as it is (a malformed number, an empty body...)."""


class NotFound(DomainError):
    """The thing asked for does not exist, or belongs to another brand."""


class TransitionRefused(DomainError):
    """The aggregate is in a state where this change is not allowed."""


class Conflict(DomainError):
    """The request collides with something already recorded (an address owned by another
    contact, an idempotency key reused with another body)."""
