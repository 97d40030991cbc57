"""Customer country (ISO region) from an E.164 number, via ``phonenumbers`` (pure Python).

Parsing costs ~20 µs, so results are memoised per number, and calling codes that belong to
a single region (+91 is only IN) skip the parse entirely. Shared codes (+44, +7, ...) need
the full number to tell e.g. GB from JE. In the North American plan (+1) the area code alone
decides the country, so an area code found to be the US on one number answers for all its
numbers without parsing. Only US area codes are remembered: an invalid number falls back to
its calling code's main region, which for +1 is the US too, so the shortcut always agrees
with a full parse (a Canadian area code would not, for an invalid number).

Country codes that enter billing any other way (a rate-card row, an estimate, a fact that
states its country) must be known: :func:`check_country` accepts the 249 officially assigned
ISO 3166-1 alpha-2 codes and the three codes the telephone numbering plan adds (XK Kosovo,
AC Ascension, TA Tristan da Cunha), so every country :func:`country_of` returns is accepted.
``ZZ`` (ISO's "unknown or unspecified") and any other code are refused.
"""

from __future__ import annotations

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, NumberParseException

from billing.engine.errors import UnknownCountryError

# ISO 3166-1 alpha-2, officially assigned codes.
ISO_3166_ALPHA2 = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
    GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS YE YT ZA ZM ZW
    """.split()  # noqa: SIM905 - a table of 249 codes reads better as text
)
# Codes outside the official list that the numbering plan (and so country_of) uses.
NUMBERING_PLAN_CODES = frozenset({"XK", "AC", "TA"})
KNOWN_COUNTRIES = ISO_3166_ALPHA2 | NUMBERING_PLAN_CODES

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
    # ASCII digits only: str.isdigit() also accepts superscripts that int() refuses.
    if not number.startswith("+") or not (number[1:].isascii() and number[1:].isdigit()):
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


def is_known_country(code: object) -> bool:
    """Whether ``code`` is an accepted country code (exactly two capital ASCII letters)."""
    return isinstance(code, str) and code in KNOWN_COUNTRIES


def check_country(code: object) -> str:
    """``code`` if it is an accepted country code; else :class:`UnknownCountryError`."""
    if not is_known_country(code):
        raise UnknownCountryError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
    return str(code)


def clear_country_cache() -> None:
    """Forget memoised countries (benchmarks use it to measure a cold start)."""
    _cache.clear()
    _nanp_us_areas.clear()
