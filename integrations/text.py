"""Text from other systems made storable: Bitrix24 items, transcripts, chat answers."""

from __future__ import annotations

import re

# NUL, which PostgreSQL cannot store in text or jsonb (a row with it fails to save, on every
# retry), and lone surrogates, which UTF-8 cannot encode (nor a file written from the text).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` without NUL characters, a lone surrogate replaced by U+FFFD, trimmed.

    For text that is read by people: a NUL carries nothing.  Payloads kept for
    the record use :func:`integrations.services.storable` instead, which
    writes them as visible escapes.
    """
    return UNSTORABLE.sub(lambda match: "" if match.group() == "\x00" else "\ufffd", text).strip()
