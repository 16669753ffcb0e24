"""Coordinates as people type them: decimal degrees, degrees-minutes-seconds, packed ddd.mmss.

Registers write a longitude as ``87.688``, ``87°41′18.6″``, ``87°41'18.6"``, ``87度41分18.6秒``,
``87.41.18.6``, ``87:41:18.6``, ``87 41 18.6``, ``E87°41′18.6″`` or ``东经87°41′18.6″``, and
sometimes as ``87.4119`` meaning 87°41′19″ ("packed" DMS, as some GPS units and old survey
tables print it). A packed value read as decimal degrees lands tens of kilometres off (0.4119° vs
0.6886° is 0.27° of longitude, about 22 km at 43°N; latitude errors reach 48 km), yet it looks like
an ordinary number, so :func:`looks_packed` flags candidates and the caller decides with the
whole column in view (see ``docs/importing.md``).
"""

from __future__ import annotations

import math
import re
import unicodedata

#: Separators people put between degrees, minutes and seconds (after NFKC normalisation).
_DMS = re.compile(
    r"""^\s*(?P<hemi1>[NSEW]|东经|西经|北纬|南纬)?\s*
    (?P<deg>\d{1,3}(?:\.\d+)?)\s*(?:°|度|:|\s)\s*
    (?:(?P<min>\d{1,2}(?:\.\d+)?)\s*(?:'|分|:|\s)?\s*)?
    (?:(?P<sec>\d{1,2}(?:\.\d+)?)\s*(?:″|"|''|秒)?\s*)?
    (?P<hemi2>[NSEW])?\s*$""",
    re.VERBOSE,
)
#: ``87.41.18.6``: degrees, minutes and seconds separated by dots (seconds may have decimals).
_DOTTED = re.compile(r"^([NSEW]|东经|西经|北纬|南纬)?(\d{1,3})\.(\d{1,2})\.(\d{1,2}(?:\.\d+)?)([NSEW])?$")
_DECIMAL = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)\s*$")
_NEGATIVE_HEMISPHERES = {"S", "W", "西经", "南纬"}


class CoordinateError(ValueError):
    """A coordinate cell that cannot be read; the message is the reason shown to the user."""


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip().upper()
    # Typographic primes and their look-alikes all mean minutes / seconds.
    for mark in ("′", "’", "‘", "´", "`"):
        text = text.replace(mark, "'")
    for mark in ("“", "”"):
        text = text.replace(mark, '"')
    return text.replace("º", "°").replace("˚", "°")


def parse_coordinate(value: object) -> float:
    """Decimal degrees of a coordinate cell (a number, decimal text or one of the DMS forms).

    Raises :class:`CoordinateError` with the reason (minutes or seconds of 60 or more, text that is
    no coordinate). Decimal numbers are returned as they are; whether they look like packed
    ddd.mmss is for :func:`looks_packed` to say.
    """
    if isinstance(value, bool):
        raise CoordinateError("coordinate is not a number")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise CoordinateError("coordinate is not a number")
        return float(value)
    text = _normalise(str(value))
    if _DECIMAL.match(text):
        return float(text)
    dotted = _DOTTED.match(text.replace(" ", ""))
    if dotted is not None:
        hemi1, deg, mins, secs, hemi2 = dotted.groups()
        text = f"{hemi1 or ''}{deg}°{mins}'{secs}\"{hemi2 or ''}"
    match = _DMS.match(text)
    if match is None or (
        match["min"] is None and match["sec"] is None and "°" not in text and "度" not in text
    ):
        if not re.search("[°度分秒'\":]", text):
            raise CoordinateError("coordinate is not a number")
        raise CoordinateError(
            "coordinate is neither a number nor degrees-minutes-seconds (e.g. 87.688 or 87°41′18.6″)"
        )
    degrees = float(match["deg"])
    minutes = float(match["min"] or 0)
    seconds = float(match["sec"] or 0)
    if match["sec"] is not None and match["min"] is not None and "." in match["min"]:
        raise CoordinateError("minutes with decimals cannot be followed by seconds")
    if minutes >= 60 or seconds >= 60:
        raise CoordinateError("minutes and seconds must be below 60")
    if (match["min"] is not None or match["sec"] is not None) and not degrees.is_integer():
        raise CoordinateError("degrees with decimals cannot be followed by minutes or seconds")
    sign = -1.0 if {match["hemi1"], match["hemi2"]} & _NEGATIVE_HEMISPHERES else 1.0
    return sign * (degrees + minutes / 60.0 + seconds / 3600.0)


def is_dms_text(value: object) -> bool:
    """Whether a cell was written as degrees-minutes-seconds (not a plain decimal number)."""
    return isinstance(value, str) and not _DECIMAL.match(_normalise(value))


def decimal_places(value: object) -> int:
    """Digits after the decimal point of a plain decimal cell as written (0 for DMS text)."""
    if isinstance(value, float):
        text = repr(value)
    elif isinstance(value, str) and _DECIMAL.match(_normalise(value)):
        text = _normalise(value)
    else:
        return 0
    return len(text.split(".", 1)[1]) if "." in text else 0


def looks_packed(value: object) -> bool:
    """Whether a decimal coordinate could be packed ddd.mmss: 4 to 6 decimals, minutes and seconds < 60.

    Plain decimal degrees pass this test about a third of the time, so one value proves nothing:
    the caller looks at both coordinates of a row and at the whole column.
    """
    places = decimal_places(value)
    if not 4 <= places <= 6:
        return False
    number = abs(parse_coordinate(value))
    fraction = f"{number:.{places}f}".split(".")[1].ljust(6, "0")
    return int(fraction[0:2]) < 60 and int(fraction[2:4]) < 60


def unpack(value: float) -> float:
    """Decimal degrees of a packed ddd.mmss(s) number (``87.4119`` → 87°41′19″ = 87.68861…)."""
    sign = -1.0 if value < 0 else 1.0
    text = f"{abs(value):.8f}"
    whole, fraction = text.split(".")
    minutes = int(fraction[0:2])
    seconds = float(f"{fraction[2:4]}.{fraction[4:]}")
    if minutes >= 60 or seconds >= 60:
        raise CoordinateError("not packed ddd.mmss: minutes or seconds are 60 or more")
    return sign * (int(whole) + minutes / 60.0 + seconds / 3600.0)
