"""The API's JSON parser: DRF's, refusing bodies the rest of the stack cannot handle.

Two kinds of JSON are valid by RFC 8259 yet unusable here, and used to end in
a 500:

- **Deep nesting.**  ``[[[[…]]]]`` 10 000 levels deep overflows Python's
  recursion limit in the decoder (``RecursionError``).  The depth is counted
  on the raw text before decoding, so no body reaches the decoder, the
  serializers or the integration log deeper than :data:`MAX_DEPTH` levels
  (400 ``bad-request``).
- **Lone surrogates.**  ``"\\ud800"`` decodes to a string that has no UTF-8
  form: hashing it for the idempotency fingerprint, storing it or logging it
  fails.  Such a string, as a value or as a key, is refused with 422
  ``validation`` naming the field (I-JSON, RFC 7493 §2.1, forbids them too).
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.utils import json

# Arrays and objects inside one another; a return (object → items → line → photos) needs 4.
MAX_DEPTH = 64

_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]++")
_SURROGATE = re.compile("[\ud800-\udfff]")
_NUL = re.compile("\x00")
SURROGATE_MESSAGE = "Contains a lone UTF-16 surrogate; send valid Unicode text."


class JSONParser(parsers.JSONParser):
    """``application/json`` with at most :data:`MAX_DEPTH` levels and well-formed Unicode strings."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
        except (UnicodeDecodeError, LookupError) as error:
            raise ParseError(f"JSON parse error - {error}") from None
        if nesting_depth(text) > MAX_DEPTH:
            raise ParseError(f"JSON nesting too deep: more than {MAX_DEPTH} levels of arrays and objects.")
        try:
            data = json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except ValueError as error:
            raise ParseError(f"JSON parse error - {error}") from None
        broken = surrogate_paths(data)
        if broken:
            raise ValidationError({path: [SURROGATE_MESSAGE] for path in broken})
        return data


def nesting_depth(text: str) -> int:
    """How deeply arrays and objects nest in the JSON ``text`` (0 for a scalar); brackets inside strings do not count."""
    depth = deepest = 0
    for bracket in _NOT_A_BRACKET.sub("", _STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > MAX_DEPTH:
                break
    return deepest


def surrogate_paths(value: Any, path: str = "") -> list[str]:
    """Paths (``items[0].sku``, ``""`` for the body) of strings and keys holding a lone surrogate.

    The paths themselves show a bad key with escapes (``\\ud800``) so that the
    error response can be encoded.
    """
    return _paths_matching(value, _SURROGATE, path)


def nul_paths(value: Any, path: str = "") -> list[str]:
    """Paths, as :func:`surrogate_paths` gives them, of strings and keys holding a NUL character.

    Valid JSON, but PostgreSQL stores NUL in neither text nor ``jsonb``: a body
    kept whole (an inbound webhook's) is refused when this finds anything.
    """
    return _paths_matching(value, _NUL, path)


def _paths_matching(value: Any, pattern: re.Pattern[str], path: str) -> list[str]:
    if isinstance(value, str):
        return [path] if pattern.search(value) else []
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            name = key.encode("utf-8", "backslashreplace").decode("utf-8")
            child = f"{path}.{name}" if path else name
            found.extend([child] if pattern.search(key) else _paths_matching(item, pattern, child))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths_matching(item, pattern, f"{path}[{index}]"))
    return found
