"""Reported languages as ISO 639-1 codes (STT-05)."""

import pytest

from integrations.stt.languages import iso_639_1


@pytest.mark.parametrize(
    ("reported", "code"),
    [
        ("russian", "ru"),
        ("English", "en"),
        ("haitian creole", "ht"),
        ("castilian", "es"),
        ("javanese", "jv"),
        ("ru", "ru"),
        ("RU", "ru"),
        ("pt-BR", "pt"),
        ("jw", "jv"),
        ("yue", "zh"),
        ("hawaiian", None),
        ("klingon", None),
        ("", None),
        (None, None),
    ],
)
def test_a_reported_language_becomes_its_iso_639_1_code_or_none(reported, code):
    assert iso_639_1(reported) == code
