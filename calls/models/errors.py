"""The exception the calls app's state machines raise (runs and records)."""


class InvalidTransition(Exception):
    """A status change the state machine does not allow."""
