"""gunicorn's access log without credentials or (with PII_MASKING_ENABLED) phone numbers.

gunicorn writes the raw request line, query string and Referer; a client that
puts ``?access_token=eyJ…`` or ``&phone=+79…`` in a URL would leave them in
every log it reaches.  :class:`MaskingLogger` passes every atom of the access
log format through the same :class:`~mastermobile.observability.logging.Redactor`
as the application's logs, whatever ``access_log_format`` says.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from functools import cached_property
from typing import Any

from gunicorn.glogging import Logger

from mastermobile.observability.logging import Redactor

# Atoms that hold a URL or a request target, and those that hold a bare query string.
_URL_ATOMS = frozenset({"f", "{referer}i", "{http_referer}e", "{raw_uri}e", "{path_info}e", "U"})
_QUERY_ATOMS = frozenset({"q", "{query_string}e"})


def _is_credential_header(atom: str) -> bool:
    return atom.startswith("{") and ("authorization" in atom or "cookie" in atom or "api-key" in atom)


class MaskingLogger(Logger):
    """gunicorn's logger whose access-log atoms are masked (``logger_class`` in mastermobile.gunicorn_conf)."""

    @cached_property
    def redactor(self) -> Redactor:
        # Built in the worker on its first request, once Django's settings are loaded.
        from django.conf import settings

        config = settings.APP_CONFIG
        return Redactor(config.secrets, mask_pii=config.pii_masking_enabled)

    # gunicorn's atoms with the values masked; Any, as the stubs' TypedDict of those keys is private.
    def atoms(self, resp: Any, req: Any, environ: MutableMapping[str, Any], request_time: Any) -> Any:
        atoms = super().atoms(resp, req, environ, request_time)
        return {name: self.mask(name, value) for name, value in atoms.items()}

    def mask(self, atom: str, value: Any) -> Any:
        if not isinstance(value, str) or not value or value == "-":
            return value
        if _is_credential_header(atom):
            return "***"
        if atom == "r":
            method, _, rest = value.partition(" ")
            target, _, protocol = rest.rpartition(" ")
            return f"{method} {self.redactor.url(target)} {protocol}" if target else self.redactor.url(value)
        if atom in _URL_ATOMS:
            return self.redactor.url(value)
        if atom in _QUERY_ATOMS:
            return self.redactor.query(value)
        return self.redactor.text(value)
