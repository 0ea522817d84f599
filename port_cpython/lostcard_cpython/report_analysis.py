"""The report's analysis of opened incidents (report_data.load): the summary figures, incidents
binned over time, and what the acquirer must act on — terminals with repeated device faults,
operators with repeated errors, network hot spots, cards declined as compromised at several
terminals — each for the report's period, which `periods` picks with the one before it. Rows hold
codes, numbers and unix times; report_tables words them for people and for the exports.
"""

from bisect import bisect_left
from collections import Counter, defaultdict, namedtuple
from datetime import date, datetime, timezone

from lostcard.errors import LostcardError

REPEATED = 2  # a terminal's device faults or an operator's errors from this many on are listed
HOT_SPOTS = 10  # network hot spots listed
TOKEN_SHOWN = 8  # hex digits of a card token shown: enough to tell cards apart in one report
HOUR, DAY = 3600, 86400
NOT_AUTHENTIC = "authentication failed"  # how AuthenticationError's reasons start in quarantine
Period = namedtuple("Period", "window incidents")  # window: (start, end) unix times, or None


def utc(t, fmt="%Y-%m-%d %H:%M"):
    if t is None:
        return "clock not trusted"
    try:
        return datetime.fromtimestamp(t, timezone.utc).strftime(fmt)
    except (OverflowError, ValueError, OSError):  # a window --since/--until put past year 9999
        return "unix time %d" % t


def tally(values):
    """[(value, count)], most frequent first."""
    return Counter(values).most_common()


def span(incidents):
    times = [i["time"] for i in incidents if i["time"] is not None]
    return (min(times), max(times)) if times else (None, None)


def shown(token):
    """The first TOKEN_SHOWN hex digits of a card token: the exports' value (the page adds "…")."""
    return token.hex()[:TOKEN_SHOWN]


def when(text, option, end=False):
    """The unix time an option gives: a date (UTC, 2026-11-25 or 20261125; as an end, the day
    included), an ISO 8601 time (UTC unless it has an offset) or a unix time, none before 1970
    (no terminal reports one)."""
    try:
        digits = text.strip()
        if len(digits) == 8 and digits.isdigit():  # YYYYMMDD: as a unix time it would be 1970
            day = datetime.strptime(digits, "%Y%m%d").replace(tzinfo=timezone.utc)
            t = int(day.timestamp()) + (DAY if end else 0)
        elif digits.lstrip("-").isdigit():
            t = int(digits)
            datetime.fromtimestamp(t, timezone.utc)  # a time a date can show
        elif "T" not in text and " " not in digits:
            day = datetime.combine(date.fromisoformat(text), datetime.min.time(), timezone.utc)
            t = int(day.timestamp()) + (DAY if end else 0)
        else:
            moment = datetime.fromisoformat(text)
            t = int((moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc))
                    .timestamp())
    except (ValueError, OverflowError, OSError):
        raise LostcardError("%s %r is not a date (2026-11-25), a UTC time (2026-11-25T09:30) or "
                            "a unix time" % (option, text)) from None
    if t < 0:
        raise LostcardError("%s %r is before 1970: no terminal reports such a time"
                            % (option, text))
    return t


def periods(incidents, since, until, now):
    """(the report's Period, the Period of the same length just before it, incidents left out
    because their terminal's clock is not trusted). No bound: every incident, over the data's
    range; --since alone runs to now (or the last incident), --until alone from the data's
    first incident."""
    dated = [i for i in incidents if i["time"] is not None]
    first, last = span(dated)
    if since is None and until is None:
        window = (first, last) if first is not None else None
        before = (2 * first - last, first) if first is not None else None
        return Period(window, incidents), Period(before, []), 0
    start = first if since is None else since
    end = max(now, last or now) + 1 if until is None else until
    if start is None:  # only --until, and no incident has a trusted time
        return Period(None, []), Period(None, []), len(incidents)
    length = max(end - start, 0)
    return (Period((start, end), [i for i in dated if start <= i["time"] < end]),
            Period((start - length, start),
                   [i for i in dated if start - length <= i["time"] < start]),
            len(incidents) - len(dated))


def tampered(incidents):
    """{terminal: incidents} of the terminals that detected tampering."""
    found = Counter(i["device"] for i in incidents
                    if i["subcause"] == "tamper_detected" or i["facts"].get("tamper"))
    return dict(sorted(found.items()))


def not_authenticated(quarantine):
    """How many quarantined records failed authentication: sealed under another key (another
    fleet's secret, or a forgery) or damaged."""
    return sum(n for _, reason, n in quarantine if reason.startswith(NOT_AUTHENTIC))


def summary_figures(current, previous, quarantine, gaps):
    """(code, figure, value, value in the previous period) rows; the period's values are its
    windows. Quarantine and gaps carry no time, so they have no previous value."""
    def both(count):
        return count(current.incidents), count(previous.incidents)
    return [
        ("incidents", "Incidents") + both(len),
        ("terminals", "Terminals") + both(lambda found: len({i["device"] for i in found})),
        ("period", "Period (terminal clocks)", current.window, previous.window),
        ("clock_not_trusted", "Incidents whose terminal clock is not trusted") + both(
            lambda found: sum(1 for i in found if i["time"] is None)),
        ("quarantined", "Quarantined records", sum(n for _, _, n in quarantine), None),
        ("evicted_before_upload", "Records evicted by terminals before upload (lanes 1–3)",
         sum(sum(g[1:4]) for g in gaps), None),
        ("corrupt", "Corrupt records found by terminals", sum(g[4] for g in gaps), None),
        ("lost_to_restore", "Lost to a restore older than the terminals' retention window",
         sum(g[5] for g in gaps), None),
        ("not_opened", "Records that did not open with this fleet secret") + both(
            lambda found: sum(1 for i in found if not i["opened"])),
    ]


def over_time(dated):
    """Incidents with a trusted time binned by hour (a span under two days) or by day:
    (bin size in seconds, first bin's start, number of bins, {bin start: Counter of causes})."""
    first, last = span(dated)
    size = HOUR if last - first < 2 * DAY else DAY
    counts = defaultdict(Counter)
    for i in dated:
        counts[i["time"] - i["time"] % size][i["cause"]] += 1
    start = first - first % size
    return size, start, (last - last % size - start) // size + 1, counts


def repeated_device_faults(incidents):
    """(terminal, faults, subcauses, firmware, last) for terminals with REPEATED device faults."""
    by_device = defaultdict(list)
    for i in incidents:
        if i["cause"] == "device_fault":
            by_device[i["device"]].append(i)
    rows = [(device, len(found), tally(i["subcause"] for i in found),
             sorted({i["facts"]["firmware"] for i in found if "firmware" in i["facts"]}),
             span(found)[1])
            for device, found in by_device.items() if len(found) >= REPEATED]
    rows.sort(key=lambda r: (-r[1], r[0]))
    return rows


def repeated_operator_errors(incidents):
    """((operator, errors, subcauses, terminals, last) rows for operators with REPEATED errors,
    how many operator errors carry no operator id)."""
    by_operator = defaultdict(list)
    anonymous = 0
    for i in incidents:
        if i["cause"] == "operator_error":
            if "operator_id" in i["facts"]:
                by_operator[i["facts"]["operator_id"]].append(i)
            else:
                anonymous += 1
    rows = [(operator, len(found), tally(i["subcause"] for i in found),
             sorted({i["device"] for i in found}), span(found)[1])
            for operator, found in by_operator.items() if len(found) >= REPEATED]
    rows.sort(key=lambda r: (-r[1], r[0]))
    return rows, anonymous


def network_hot_spots(incidents):
    """(terminal, faults, subcauses, busiest hour, faults in it, link states) for the HOT_SPOTS
    terminals with the most network faults."""
    by_device = defaultdict(list)
    for i in incidents:
        if i["cause"] == "network_fault":
            by_device[i["device"]].append(i)
    rows = []
    for device, found in by_device.items():
        # the busiest hour from any incident on: an outage keeps no clock hours
        times = sorted(i["time"] for i in found if i["time"] is not None)
        windows = [(bisect_left(times, t + HOUR) - n, t) for n, t in enumerate(times)]
        count, start = max(windows, key=lambda w: (w[0], -w[1]), default=(0, None))
        rows.append((device, len(found), tally(i["subcause"] for i in found), start, count,
                     tally(i["facts"]["network"] for i in found if "network" in i["facts"])))
    rows.sort(key=lambda r: (-r[1], r[0]))
    return rows[:HOT_SPOTS]


def compromised_cards(incidents, min_terminals=2):
    """(card token, last 4, brand, terminals, incidents by time) for each card declined as
    compromised at `min_terminals` or more: the skimming ring's table, and the watchlist's
    tokens (`lostcard collector watchlist`)."""
    by_card = defaultdict(list)
    for i in incidents:
        if i["cause"] == "card_compromised" and i["token"]:
            by_card[bytes(i["token"])].append(i)
    return [(token, found[0]["last4"] or "", found[0]["brand"] or "",
             len({i["device"] for i in found}),
             sorted(found, key=lambda i: (i["time"] or 0, i["device"])))
            for token, found in by_card.items()
            if len({i["device"] for i in found}) >= min_terminals]


def cards_at_several_terminals(incidents):
    """(token shown, last 4, brand, terminals, incidents) for each card declined as compromised
    at more than one terminal: a possible skimming ring."""
    rows = [(shown(token), last4, brand, n,
             [(i["device"], i["time"], i["subcause"]) for i in found])
            for token, last4, brand, n, found in compromised_cards(incidents)]
    rows.sort(key=lambda r: (-r[3], r[0]))
    return rows


def terminals(current, previous, quarantine, gaps):
    """(terminal, incidents, in the previous period, causes, tampering, last, quarantined, lost
    before upload) for every terminal the report names, in the order of their ids."""
    mine = defaultdict(list)
    for i in current:
        mine[i["device"]].append(i)
    before = Counter(i["device"] for i in previous)
    held = Counter()
    for device, _, n in quarantine:
        held[device] += n
    lost = {g[0]: sum(g[1:]) for g in gaps}
    alarms = tampered(current)
    names = sorted(set(mine) | set(before) | set(held) | {d for d, n in lost.items() if n})
    return [(device, len(mine[device]), before[device],
             tally(i["cause"] for i in mine[device]), alarms.get(device, 0),
             span(mine[device])[1], held[device], lost.get(device, 0)) for device in names]
