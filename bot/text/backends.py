"""Typed, quiet wrappers around myanmartools (detection) and python-myanmar (conversion).

Neither library has type hints, so everything the bot takes from them passes through the two
functions here. Both are loaded on first use and kept: the detector reads its model file once,
the converter builds its tables from package data at import.

python-myanmar's converter prints the syllable it cannot map to standard output, and that
syllable is a person's words, which must never reach a log. Its module-level ``print`` is
therefore replaced by a function that raises: the failed conversion stops, nothing is printed,
and ``convert`` reports it as ``None`` instead of returning text with a syllable silently lost.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Literal, Protocol

Encoding = Literal["zawgyi", "unicode"]


class _Detector(Protocol):
    def get_zawgyi_probability(self, string: str) -> float: ...


class _ConversionMiss(Exception):
    """Raised in place of python-myanmar's diagnostic print."""


def _refuse_to_print(*_args: object, **_kwargs: object) -> None:
    raise _ConversionMiss


@functools.cache
def _detector() -> _Detector:
    from myanmartools import ZawgyiDetector

    # myanmartools 1.2 reads its model with importlib.resources.open_binary, deprecated since
    # Python 3.11; the warning says nothing about this program and would repeat in every log.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        detector: _Detector = ZawgyiDetector()
    return detector


@functools.cache
def _converter() -> Callable[[str, str, str], object]:
    from myanmar import converter

    converter.print = _refuse_to_print
    convert: Callable[[str, str, str], object] = converter.convert
    return convert


@functools.cache
def _unicode_to_zawgyi() -> Callable[[str], str]:
    from myanmar import converter, language

    _converter()  # installs the print guard before any syllable is converted
    source = converter.encoders["unicode"]
    target = converter.encoders["zawgyi"]

    def run(text: str) -> str:
        out: list[str] = []
        for syllable in language.MorphoSyllableBreak(text=text, encoding=source):
            whole = syllable["syllable"]
            if len(syllable) == 1:
                out.append(whole)
                continue
            if syllable.get("yayit") == _YAYIT_WASWAY:
                # The library's table maps ya-yit + wa to one key whose Zawgyi form is empty, so
                # the wa vanishes; as two marks, the ya-yit also gets its cut-below shape.
                syllable["yayit"], syllable["wasway"] = "\u103c", "\u103d"
            elif whole in source.reverse_table:
                key = source.reverse_table[whole]
                out.append(target.table[key.split("_", 1)[0]])
                continue
            out.append(converter.convert_syllable(syllable, "unicode", "zawgyi"))
        return "".join(out)

    return run


_YAYIT_WASWAY = "\u103c\u103d"


def unicode_to_zawgyi(text: str) -> str | None:
    """python-myanmar's syllable-by-syllable conversion, with ya-yit + wa kept (see ``run``)."""
    try:
        result = _unicode_to_zawgyi()(text)
    except Exception:  # noqa: BLE001 - as in ``convert``
        return None
    return result if isinstance(result, str) else None


def raw_zawgyi_probability(text: str) -> float:
    """The detector's answer as is: negative infinity when no character was Burmese."""
    return float(_detector().get_zawgyi_probability(text))


def convert(text: str, source: Encoding, target: Encoding) -> str | None:
    """``text`` re-encoded, or ``None`` when the converter's tables cannot read it."""
    try:
        result = _converter()(text, source, target)
    except Exception:  # noqa: BLE001 - the converter raises many kinds on input it lacks
        return None
    return result if isinstance(result, str) else None
