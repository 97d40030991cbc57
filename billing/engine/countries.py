"""Customer country (ISO region) from an E.164 number, via ``phonenumbers`` (pure Python).

Parsing costs ~20 µs, so results are memoised per number, and calling codes that belong to
a single region (+91 is only IN) skip the parse entirely. Shared codes (+44, +7, ...) need
the full number to tell e.g. GB from JE. In the North American plan (+1) the area code alone
decides the country, so an area code found to be the US on one number answers for all its
numbers without parsing. Only US area codes are remembered: an invalid number falls back to
its calling code's main region, which for +1 is the US too, so the shortcut always agrees
with a full parse (a Canadian area code would not, for an invalid number).
"""

from __future__ import annotations

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, NumberParseException

from billing.engine.errors import UnknownCountryError

_UNKNOWN = "ZZ"
_CACHE_LIMIT = 1_000_000
_cache: dict[str, str] = {}
_NANP_MAIN = "US"
_nanp_us_areas: set[str] = set()  # "+1NPA" prefixes seen on valid US numbers


def country_of(number: str) -> str:
    """ISO 3166 region code (e.g. ``"US"``, ``"IN"``) of an E.164 number.

    A number whose calling code is known but whose range is unassigned gets the calling
    code's main region (``+1 555…`` → ``US``). Raises :class:`UnknownCountryError` if the
    number is not E.164 or its calling code is unknown.
    """
    region = _cache.get(number)
    if region is None:
        region = _resolve(number)
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()  # bounded memory; a cold cache is only slower
        _cache[number] = region
    return region


def _resolve(number: str) -> str:
    if not number.startswith("+") or not number[1:].isdigit():
        raise UnknownCountryError(f"customer number {number!r} is not in E.164 form")
    digits = number[1:]
    if number[:5] in _nanp_us_areas:
        return _NANP_MAIN
    for width in (1, 2, 3):  # calling codes are prefix-free, 1-3 digits
        regions = COUNTRY_CODE_TO_REGION_CODE.get(int(digits[:width]))
        if regions:
            if len(regions) == 1 and regions[0] != "001":
                return str(regions[0])
            break
    try:
        parsed = phonenumbers.parse(number, None)
    except NumberParseException as exc:
        raise UnknownCountryError(f"customer number {number!r}: {exc}") from None
    region = phonenumbers.region_code_for_number(parsed)
    if region == _NANP_MAIN:
        _nanp_us_areas.add(number[:5])
    if (region is None or region == _UNKNOWN) and parsed.country_code is not None:
        region = phonenumbers.region_code_for_country_code(parsed.country_code)
    if region is None or region in (_UNKNOWN, "001"):
        raise UnknownCountryError(f"customer number {number!r} has no country")
    return str(region)


def clear_country_cache() -> None:
    """Forget memoised countries (benchmarks use it to measure a cold start)."""
    _cache.clear()
    _nanp_us_areas.clear()
