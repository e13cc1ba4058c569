"""The smoke check's word error rate: word-level Levenshtein over normalised words (STT-54)."""

from __future__ import annotations

import pytest

from calls.smoke import normalised_words, word_error_rate


def test_case_and_punctuation_do_not_count():
    assert word_error_rate("Hello world, this is a smoke test.", "hello world this is a smoke test") == 0.0


def test_normalising_keeps_letters_of_every_script():
    assert normalised_words("Buenos días — ¿qué tal? Всё «хорошо»!") == [
        "buenos",
        "días",
        "qué",
        "tal",
        "всё",
        "хорошо",
    ]


@pytest.mark.parametrize(
    ("hypothesis", "rate"),
    [
        ("one two three four", 0.0),
        ("one two tree four", 0.25),  # a substitution
        ("one two four", 0.25),  # a deletion
        ("one two three and four", 0.25),  # an insertion
        ("four three two one", 1.0),
        ("", 1.0),
    ],
)
def test_substitutions_deletions_and_insertions_each_count_one_word(hypothesis, rate):
    assert word_error_rate("one two three four", hypothesis) == rate


def test_errors_are_divided_by_the_reference_so_a_long_hypothesis_can_exceed_one():
    assert word_error_rate("yes", "no no no") == 3.0


def test_an_empty_reference_is_matched_only_by_an_empty_hypothesis():
    assert word_error_rate("", "  ... ") == 0.0
    assert word_error_rate("", "Продолжение следует...") == 1.0
