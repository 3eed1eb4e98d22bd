"""Whole numbers, years and dates as applicants type them: in ASCII, Burmese or Shan digits.

Two slips are common enough to accept: the letter wa (ဝ, U+101D) typed for zero (၀, U+1040),
which looks the same in most fonts, and the letter ya-gaut (ရ, U+101B) for seven (၇, U+1047),
which Zawgyi keyboards put close together and Zawgyi-to-Unicode converters swap for the same
reason. They are read as digits inside a string that is otherwise digits and holds at least one
real digit, or alone: the Burmese questions say "write ၀ for none", and ဝ is what many keyboards
give for it. Two slips without a digit, or a slip in a word ("ရဲ", "police"), are never a number.

``parse_whole_number`` takes digits and nothing else. ``parse_rough_number`` is what a question
asking for a rough count accepts: the same number wrapped in the words people add to one ("about
5", "5 years", "၅ နှစ်လောက်", "ခန့် ၁၀") or with a decimal ("2.5", rounded half up). Anything
else (signs, ranges, number words) gives ``None``: the caller asks again.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

_DIGIT_VALUES: dict[str, int] = {
    **{chr(0x30 + value): value for value in range(10)},
    **{chr(0x1040 + value): value for value in range(10)},  # Burmese ၀-၉
    **{chr(0x1090 + value): value for value in range(10)},  # Shan ႐-႙
}
_SLIP_VALUES: dict[str, int] = {"\u101d": 0, "\u101b": 7}
_DIGIT_CLASS = "0-9\u1040-\u1049\u1090-\u1099\u101d\u101b"

MAX_DIGITS = 9
EARLIEST_YEAR = 1950
EARLIEST_DATE_YEAR = 1900

_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
_FULL_STOPS = (".", "\u104b")  # "." and the Burmese full stop "။"
_D = f"[{_DIGIT_CLASS}]"
_GROUPED = re.compile(rf"{_D}{{1,3}}(?:,{_D}{{3}})+")
_ISO_DATE = re.compile(rf"({_D}{{4}})-({_D}{{1,2}})-({_D}{{1,2}})")
_DAY_FIRST_DATE = re.compile(rf"({_D}{{1,2}})([/.\-])({_D}{{1,2}})\2({_D}{{4}})")
_SPACED_SEPARATOR = re.compile(r"\s*([/.\-])\s*")
_DECIMAL = re.compile(rf"({_D}{{1,{MAX_DIGITS}}})\.({_D}{{1,3}})")

#: Words that make a number rough or name its unit, in English and Burmese; the Burmese as
#: Unicode and as Zawgyi keyboards type it (dot below and asat come in either order there).
_ABOUT_WORDS = (
    "approximately",
    "approx.",
    "approx",
    "roughly",
    "around",
    "about",
    "nearly",
    "almost",
    "maybe",
    "perhaps",
    "more or less",
    "or so",
    "~",
    "ခန့်မှန်းခြေ",
    "ခန့်",
    "လောက်",
    "ဝန်းကျင်",
    "နီးပါး",
    "ခန္႔မွန္းေျခ",
    "ခန္႔",
    "ခန႔္",
    "ခန့္",
    "ေလာက္",
    "ဝန္းက်င္",
)
_UNIT_WORDS = (
    "years",
    "year",
    "yrs",
    "yr",
    "people",
    "persons",
    "person",
    "နှစ်",
    "ယောက်",
    "ဦး",
    "ႏွစ္",
    "ေယာက္",
)
_ROUGH_WORDS = re.compile(
    "|".join(
        re.escape(word) for word in sorted((*_ABOUT_WORDS, *_UNIT_WORDS), key=len, reverse=True)
    )
)


def parse_whole_number(text: str) -> int | None:
    """A non-negative integer of at most ``MAX_DIGITS`` digits, or ``None``.

    Commas are accepted only as thousands separators between groups of three ("1,000").
    """
    cleaned = _clean(text)
    if "," in cleaned:
        if _GROUPED.fullmatch(cleaned) is None:
            return None
        cleaned = cleaned.replace(",", "")
    digits = _to_ascii_digits(cleaned)
    if digits is None or len(digits) > MAX_DIGITS:
        return None
    return int(digits)


def parse_rough_number(text: str) -> int | None:
    """A non-negative whole number as a person writes a rough one, or ``None``.

    The words around the number are dropped only when what is left is a number, so a text that
    is words alone ("နှစ်", which is also "two") or holds any other word stays ``None``.
    """
    core = _clean(_ROUGH_WORDS.sub(" ", _clean(text).casefold()))
    exact = parse_whole_number(core)
    if exact is not None:
        return exact
    decimal = _DECIMAL.fullmatch(core)
    if decimal is None:
        return None
    whole, fraction = (_to_ascii_digits(part) for part in decimal.group(1, 2))
    if whole is None or fraction is None or len(whole) > MAX_DIGITS:
        return None
    return int(Decimal(f"{whole}.{fraction}").quantize(Decimal(1), rounding=ROUND_HALF_UP))


def parse_year(text: str, *, today: date) -> int | None:
    """A four-digit year from ``EARLIEST_YEAR`` to ``today``'s year, or ``None``."""
    digits = _to_ascii_digits(_clean(text))
    if digits is None or len(digits) != 4:
        return None
    year = int(digits)
    return year if EARLIEST_YEAR <= year <= today.year else None


def parse_date(text: str, *, today: date) -> date | None:
    """A real calendar date no later than ``today``, or ``None``.

    Accepted forms: YYYY-MM-DD, DD/MM/YYYY, DD.MM.YYYY and DD-MM-YYYY, day and month with one
    or two digits. Day first is the Myanmar order; a month-first date that happens to be valid
    cannot be told apart and is read day first.
    """
    cleaned = _SPACED_SEPARATOR.sub(r"\1", _clean(text))
    if not any(char in _DIGIT_VALUES for char in cleaned):
        return None
    if (iso := _ISO_DATE.fullmatch(cleaned)) is not None:
        year_text, month_text, day_text = iso.group(1, 2, 3)
    elif (day_first := _DAY_FIRST_DATE.fullmatch(cleaned)) is not None:
        day_text, month_text, year_text = day_first.group(1, 3, 4)
    else:
        return None
    year, month, day = (_digit_run_value(part) for part in (year_text, month_text, day_text))
    if year < EARLIEST_DATE_YEAR:
        return None
    try:
        parsed = date(year, month, day)
    except ValueError:
        return None
    return parsed if parsed <= today else None


def _clean(text: str) -> str:
    """Drop surrounding space, zero-width marks and one closing full stop."""
    cleaned = text.translate({ord(char): None for char in _INVISIBLE}).strip()
    if cleaned.endswith(_FULL_STOPS):
        cleaned = cleaned[:-1].rstrip()
    return cleaned


def _to_ascii_digits(run: str) -> str | None:
    """``run`` as ASCII digits if it is one slip alone, or digits and slips with a real digit."""
    if len(run) == 1 and run in _SLIP_VALUES:
        return str(_SLIP_VALUES[run])
    if not run or not any(char in _DIGIT_VALUES for char in run):
        return None
    values = [_char_value(char) for char in run]
    if any(value is None for value in values):
        return None
    return "".join(str(value) for value in values)


def _digit_run_value(run: str) -> int:
    """The value of a run the date patterns already matched (digits and slips only)."""
    value = 0
    for char in run:
        digit = _char_value(char)
        if digit is None:
            raise ValueError("not a digit run")
        value = value * 10 + digit
    return value


def _char_value(char: str) -> int | None:
    return _DIGIT_VALUES.get(char, _SLIP_VALUES.get(char))
