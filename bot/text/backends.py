"""Typed, quiet wrappers around myanmartools (detection) and python-myanmar (conversion).

Neither library has type hints, so everything the bot takes from them passes through the two
functions here. Both are loaded on first use and kept: the detector reads its model file once,
the converter builds its tables from package data at import.

python-myanmar's converter is driven one syllable at a time here (``_syllable_converter``) to
correct two of its mistakes. It prints the syllable it cannot map to standard output, and that
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
def _syllable_converter(source_name: Encoding, target_name: Encoding) -> Callable[[str], str]:
    """python-myanmar's ``convert`` loop, syllable by syllable, with two of its mistakes put
    right: ya-yit + wa lost its wa, and a written tall or short aa was re-chosen."""
    from myanmar import converter, language

    # The converter's diagnostic print would put a person's words on standard output.
    converter.print = _refuse_to_print
    source = converter.encoders[source_name]
    target = converter.encoders[target_name]

    def run(text: str) -> str:
        out: list[str] = []
        for syllable in language.MorphoSyllableBreak(text=text, encoding=source):
            whole = syllable["syllable"]
            if len(syllable) == 1:
                out.append(whole)
                continue
            if source_name == "unicode" and syllable.get("yayit") == _YAYIT_WASWAY:
                # The library's table maps ya-yit + wa to one key whose Zawgyi form is empty, so
                # the wa vanished; as two marks, the ya-yit also gets its cut-below shape.
                syllable["yayit"], syllable["wasway"] = "\u103c", "\u103d"
            elif whole in source.reverse_table:
                key = source.reverse_table[whole]
                out.append(target.table[key.split("_", 1)[0]])
                continue
            written_aa = syllable.get("aaVowel")
            converted = converter.convert_syllable(syllable, source_name, target_name)
            out.append(_keep_aa(converted, written_aa))
        return "".join(out)

    return run


_YAYIT_WASWAY = "\u103c\u103d"
_SHORT_AA, _TALL_AA, _TALL_AA_ASAT = "\u102c", "\u102b", "\u105a"


def _keep_aa(converted: str, written_aa: str | None) -> str:
    """Both encodings spell the tall and the short aa apart, and the writer's choice stands;
    the library re-chooses it from the consonant, and so turned "ဓာတ်" into "ဓါတ်"."""
    if written_aa == _SHORT_AA:
        return converted.replace(_TALL_AA_ASAT, _SHORT_AA + "\u1039").replace(_TALL_AA, _SHORT_AA)
    if written_aa == _TALL_AA:
        return converted.replace(_SHORT_AA, _TALL_AA)
    return converted


def raw_zawgyi_probability(text: str) -> float:
    """The detector's answer as is: negative infinity when no character was Burmese."""
    return float(_detector().get_zawgyi_probability(text))


def convert(text: str, source: Encoding, target: Encoding) -> str | None:
    """``text`` re-encoded, or ``None`` when the converter's tables cannot read it."""
    try:
        result = _syllable_converter(source, target)(text)
    except Exception:  # noqa: BLE001 - the converter raises many kinds on input it lacks
        return None
    return result if isinstance(result, str) else None
