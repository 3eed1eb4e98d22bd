"""Burmese text as applicants type it and as their phones show it.

``zawgyi``
    ``normalize_input`` decides what to store for typed text (Zawgyi converted to Unicode,
    the doubtful kept as typed and flagged), ``to_zawgyi`` renders bot texts for Zawgyi phones,
    ``detect_zawgyi_probability`` exposes the detector's score.
``numbers``
    ``parse_whole_number``, ``parse_rough_number``, ``parse_year``, ``parse_date``: ASCII, Burmese
    and Shan digits.
``graphemes``
    ``clusters``, ``length``, ``shorten``: letters as a reader counts them, cuts between syllables.
``alarm``
    ``ALARMING_WORDS`` and the checks that keep them out of notification previews.

Only the myanmartools model and python-myanmar's tables are ever read, once, on first use.
"""

from bot.text.alarm import ALARMING_WORDS, alarming_words_in, check_first_line, first_line
from bot.text.numbers import parse_date, parse_rough_number, parse_whole_number, parse_year
from bot.text.zawgyi import (
    CONVERT_AT,
    UNCERTAIN_FROM,
    NormalizedText,
    detect_zawgyi_probability,
    normalize_input,
    to_zawgyi,
    zawgyi_to_unicode,
)

__all__ = [
    "ALARMING_WORDS",
    "CONVERT_AT",
    "UNCERTAIN_FROM",
    "NormalizedText",
    "alarming_words_in",
    "check_first_line",
    "detect_zawgyi_probability",
    "first_line",
    "normalize_input",
    "parse_date",
    "parse_rough_number",
    "parse_whole_number",
    "parse_year",
    "to_zawgyi",
    "zawgyi_to_unicode",
]
