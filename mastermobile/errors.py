"""Domain errors: what services refuse, with the problem type the API answers with.

Services and selectors raise subclasses of :class:`DomainError`; they know
nothing of HTTP.  The API's exception handler (``mastermobile.api.errors``)
turns each into problem+json with ``problem_type``; the admin shows
``str(error)`` as a message.  ``errors`` may name the fields at fault in the
``[{field, message}]`` shape of a validation problem.
"""

from __future__ import annotations


class DomainError(Exception):
    """A business rule refused an operation; ``problem_type`` is a slug of ``mastermobile.api.errors.PROBLEM_TYPES``."""

    problem_type = "conflict"

    def __init__(self, message: str, *, errors: list[dict[str, str]] | None = None):
        self.errors = errors or []
        super().__init__(message)


class NotFoundError(DomainError):
    problem_type = "not-found"


class ConflictError(DomainError):
    problem_type = "conflict"


class BadFilterError(DomainError):
    """A query filter that cannot be used; ``name`` is the parameter (400 naming it)."""

    problem_type = "bad-request"

    def __init__(self, name: str, message: str):
        self.name, self.message = name, message
        super().__init__(f"Invalid query parameter '{name}': {message}", errors=[{"field": name, "message": message}])


class InvalidStatusChange(DomainError):
    """A state machine refused a move; the answer names both statuses (422)."""

    problem_type = "invalid-transition"

    def __init__(self, message: str, *, current: str, requested: str):
        self.current, self.requested = current, requested
        super().__init__(message, errors=[{"field": "status", "message": message}])
