"""Small checks on card and terminal data: Luhn, expiry, TVR bits, firmware versions.

Pure functions on already-validated values; integer arithmetic only, so results are the same on
CPython and MicroPython.
"""


def luhn_ok(digits):
    total = 0
    double = False
    for i in range(len(digits) - 1, -1, -1):
        d = ord(digits[i]) - 48
        if double:
            d = d * 2
            if d > 9:
                d -= 9
        total += d
        double = not double
    return total % 10 == 0


def parse_expiry(yymm):
    """'2812' -> (2028, 12); None when it is not a valid YYMM."""
    if len(yymm) != 4:
        return None
    month = int(yymm[2:])
    if month < 1 or month > 12:
        return None
    return 2000 + int(yymm[:2]), month


def civil_year_month(unix_s):
    """(year, month) of a unix time in UTC, without the time module (days-from-civil inverse)."""
    z = unix_s // 86400 + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (1 if month <= 2 else 0)
    return year, month


def tvr_bit(tvr, byte, bit):
    """EMV tag 95 bit: byte 1..5, bit 8 (most significant) .. 1, as DOMAIN.md numbers them."""
    value = int(tvr[(byte - 1) * 2:byte * 2], 16)
    return (value >> (bit - 1)) & 1 == 1


def older_version(have, need):
    """True if version `have` is older than `need` ("2.4" equals "2.4.0"), False if not; None
    if either has no readable number. Leading digits of each dotted part count ("3rc1" is 3)."""
    versions = []
    for text in (have, need):
        parts = []
        for part in text.split("."):
            digits = 0
            while digits < len(part) and "0" <= part[digits] <= "9":
                digits += 1
            if not digits:
                return None
            parts.append(int(part[:digits]))
        versions.append(parts)
    a, b = versions
    width = max(len(a), len(b))
    return a + [0] * (width - len(a)) < b + [0] * (width - len(b))
