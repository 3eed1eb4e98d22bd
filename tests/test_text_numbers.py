"""Numbers, years and dates typed in ASCII, Burmese or Shan digits, with the common slips."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.text import parse_date, parse_rough_number, parse_whole_number, parse_year

TODAY = date(2025, 6, 1)

BURMESE_DIGITS = "၀၁၂၃၄၅၆၇၈၉"
SHAN_DIGITS = "႐႑႒႓႔႕႖႗႘႙"


def _in_digits(number: int, digits: str) -> str:
    return "".join(digits[int(char)] for char in str(number))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", 42),
        ("၄၂", 42),
        ("႔႒", 42),
        ("0", 0),
        ("၀", 0),
        ("007", 7),
        ("  ၂၅  ", 25),
        ("25.", 25),
        ("၂၅။", 25),
        ("၂၅ ။", 25),
        ("\u200b၂၅", 25),
        ("1,000", 1000),
        ("၁,၀၀၀,၀၀၀", 1_000_000),
        ("123456789", 123_456_789),
        ("၁၂3", 123),
    ],
)
def test_whole_numbers_in_any_digits(text: str, expected: int) -> None:
    assert parse_whole_number(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("၁ဝ", 10),  # wa typed for zero
        ("ဝ၅", 5),
        ("၂ဝဝ", 200),
        ("ဝ", 0),  # alone: the Burmese questions say "write ၀ for none"
        ("ရ", 7),
        ("ရဝ", None),  # two slips and no digit: letters
        ("ဝဝ", None),
        ("ရ၀", 70),  # ya-gaut typed for seven
        ("၁ရ", 17),
        ("1ဝ", 10),
    ],
)
def test_common_slips_count_only_among_digits(text: str, expected: int | None) -> None:
    assert parse_whole_number(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        ".",
        "ရဲ",  # police: letters, not digits
        "ရရ",
        "ဝန်",  # a word starting with wa
        "၁၀ နှစ်",  # "10 years": a word follows
        "ten",
        "-5",
        "+5",
        "1.5",
        "၁.၅",
        "1 000",
        "1,00",
        "1,0000",
        ",100",
        "100,",
        "1234567890",
        "၁၂၃၄၅၆၇၈၉၀",
        "12..",
        "٣",  # Arabic-Indic digit: not one of the accepted forms
        "５",  # fullwidth digit
    ],
)
def test_anything_else_is_not_a_number(text: str) -> None:
    assert parse_whole_number(text) is None


@given(st.integers(min_value=0, max_value=10**6))
def test_any_number_in_burmese_digits_parses_back(number: int) -> None:
    assert parse_whole_number(_in_digits(number, BURMESE_DIGITS)) == number


@given(st.integers(min_value=0, max_value=10**6))
def test_any_number_in_shan_digits_parses_back(number: int) -> None:
    assert parse_whole_number(_in_digits(number, SHAN_DIGITS)) == number


@given(st.integers(min_value=0, max_value=999_999_999))
def test_any_grouped_number_parses_back(number: int) -> None:
    assert parse_whole_number(f"{number:,}") == number
    assert parse_whole_number(_in_digits(number, BURMESE_DIGITS)) == number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1990", 1990),
        ("၁၉၉၀", 1990),
        ("၁၉၉ဝ", 1990),
        ("1950", 1950),
        ("2025", 2025),
        (" ၂၀၂၁. ", 2021),
        ("1949", None),
        ("2026", None),
        ("199", None),
        ("01990", None),
        ("1,990", None),
        ("၁၃၈၅", None),  # a Myanmar-era year is not a Western one
        ("ရဲ", None),
        ("nineteen ninety", None),
    ],
)
def test_years(text: str, expected: int | None) -> None:
    assert parse_year(text, today=TODAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-05-12", date(2023, 5, 12)),
        ("12/05/2023", date(2023, 5, 12)),
        ("12.05.2023", date(2023, 5, 12)),
        ("12-05-2023", date(2023, 5, 12)),
        ("1/2/2021", date(2021, 2, 1)),
        ("၁၂/၀၅/၂၀၂၃", date(2023, 5, 12)),
        ("၂၀၂၃-၀၅-၁၂", date(2023, 5, 12)),
        ("႑႒.႐႕.႒႐႒႓", date(2023, 5, 12)),
        ("၁၂/ဝ၅/၂ဝ၂၃", date(2023, 5, 12)),  # wa for zero
        ("ရ/၁/၂၀၂၃", date(2023, 1, 7)),  # ya-gaut for seven
        (" 12 / 05 / 2023 ", date(2023, 5, 12)),
        ("12/05/2023.", date(2023, 5, 12)),
        ("29/02/2024", date(2024, 2, 29)),
        ("01/06/2025", TODAY),
    ],
)
def test_dates(text: str, expected: date) -> None:
    assert parse_date(text, today=TODAY) == expected


@pytest.mark.parametrize(
    "text",
    [
        "31/02/2023",  # no such day
        "29/02/2023",  # not a leap year
        "00/01/2020",
        "12/13/2020",
        "02/06/2025",  # tomorrow
        "2030-01-01",
        "12/05-2023",  # mixed separators
        "2023/05/12",
        "12/05/23",  # two-digit year
        "12 05 2023",
        "1899-12-31",
        "ရ/ဝ/ရဝရဝ",  # slips only: letters, not a date
        "ရဲ",
        "",
        "yesterday",
    ],
)
def test_impossible_future_or_malformed_dates_are_rejected(text: str) -> None:
    assert parse_date(text, today=TODAY) is None


@given(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
def test_any_past_date_in_burmese_digits_parses_back(day: date) -> None:
    text = "/".join(
        _in_digits(part, BURMESE_DIGITS).rjust(width, "၀")
        for part, width in ((day.day, 2), (day.month, 2), (day.year, 4))
    )
    assert parse_date(text, today=TODAY) == day


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5", 5),
        ("ဝ", 0),
        ("၀", 0),
        ("about 5", 5),
        ("About 5.", 5),
        ("around 12", 12),
        ("~5", 5),
        ("5 years", 5),
        ("1 year", 1),
        ("5yrs", 5),
        ("about 5 years", 5),
        ("3 people", 3),
        ("2.5", 3),  # rounded half up, not to even
        ("3.5", 4),
        ("0.4", 0),
        ("၂.၅", 3),
        ("about 1.5 years", 2),
        ("၅ နှစ်", 5),
        ("၅နှစ်", 5),
        ("၁၀ ခန့်", 10),
        ("ခန့် ၁၀", 10),
        ("၅ နှစ်လောက်", 5),
        ("၅ နှစ် ဝန်းကျင်", 5),
        ("ခန့်မှန်းခြေ ၈ နှစ်", 8),
        ("၃ ယောက်", 3),
        ("၁ဝ နှစ်လောက်", 10),  # wa for zero inside, with words
        ("ရ နှစ်", 7),
        ("၁,၀၀၀ ယောက်", 1000),
        # Zawgyi spellings of the same words
        ("၅ ႏွစ္ေလာက္", 5),
        ("၁၀ ခန္႔", 10),
        ("၁၀ ခန့္", 10),
    ],
)
def test_rough_numbers_as_people_write_them(text: str, expected: int) -> None:
    assert parse_rough_number(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "about",
        "years",
        "နှစ်",  # "year", and also "two": a word alone is not a number
        "ခန့်",
        "ရဲ",
        "5 apples",
        "about five",
        "5-10",
        "5 or 6",
        "-5",
        "1.5.2",
        "၂။၅",  # the Burmese full stop ends a sentence, it is no decimal point
        "1.2345",
        "ten years",
    ],
)
def test_rough_numbers_still_need_a_number(text: str) -> None:
    assert parse_rough_number(text) is None


@given(st.integers(min_value=0, max_value=10**6))
def test_every_whole_number_is_also_a_rough_one(number: int) -> None:
    assert parse_rough_number(str(number)) == number
    assert parse_rough_number(_in_digits(number, BURMESE_DIGITS) + " နှစ်လောက်") == number
