"""The report's analysis of opened incidents (report_data.load): the summary figures, incidents
binned over time, and what the acquirer must act on — terminals with repeated device faults,
operators with repeated errors, network hot spots, cards declined as compromised at several
terminals. Rows hold plain texts and numbers; report.py escapes and draws them.
"""

from bisect import bisect_left
from collections import Counter, defaultdict
from datetime import datetime, timezone

REPEATED = 2  # a terminal's device faults or an operator's errors from this many on are listed
HOT_SPOTS = 10  # network hot spots listed
TOKEN_SHOWN = 8  # hex digits of a card token shown: enough to tell cards apart in one report
HOUR, DAY = 3600, 86400


def utc(t, fmt="%Y-%m-%d %H:%M"):
    if t is None:
        return "clock not trusted"
    return datetime.fromtimestamp(t, timezone.utc).strftime(fmt)


def tally(values):
    return ", ".join("%s ×%d" % (v, n) for v, n in Counter(values).most_common())


def span(incidents):
    times = [i["time"] for i in incidents if i["time"] is not None]
    return (min(times), max(times)) if times else (None, None)


def summary_figures(incidents, quarantine, gaps):
    """(figure, value) rows."""
    first, last = span(incidents)
    period = "%s – %s UTC" % (utc(first), utc(last)) if first is not None else "none"
    return [
        ("Incidents", len(incidents)), ("Terminals", len({i["device"] for i in incidents})),
        ("Period (terminal clocks)", period),
        ("Incidents whose terminal clock is not trusted",
         sum(1 for i in incidents if i["time"] is None)),
        ("Quarantined records", sum(n for _, _, n in quarantine)),
        ("Records evicted by terminals before upload (lanes 1–3)",
         sum(sum(g[1:4]) for g in gaps)),
        ("Corrupt records found by terminals", sum(g[4] for g in gaps)),
        ("Records that did not open with this fleet secret",
         sum(1 for i in incidents if not i["opened"])),
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
             ", ".join(sorted({i["facts"]["firmware"] for i in found
                               if "firmware" in i["facts"]})) or "not reported",
             utc(span(found)[1]))
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
             ", ".join(sorted({i["device"] for i in found})), utc(span(found)[1]))
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
        window = "%s – %s" % (utc(start), utc(start + HOUR, "%H:%M")) if times else utc(None)
        rows.append((device, len(found), tally(i["subcause"] for i in found), window, count,
                     tally(i["facts"]["network"] for i in found if "network" in i["facts"])
                     or "not reported"))
    rows.sort(key=lambda r: (-r[1], r[0]))
    return rows[:HOT_SPOTS]


def cards_at_several_terminals(incidents):
    """(token shown, last 4, brand, terminals, incidents) for each card declined as compromised
    at more than one terminal: a possible skimming ring."""
    by_card = defaultdict(list)
    for i in incidents:
        if i["cause"] == "card_compromised" and i["token"]:
            by_card[bytes(i["token"])].append(i)
    rows = [(token.hex()[:TOKEN_SHOWN] + "…", found[0]["last4"] or "",
             found[0]["brand"] or "", len({i["device"] for i in found}),
             "; ".join("%s at %s (%s)" % (i["device"], utc(i["time"]), i["subcause"])
                       for i in sorted(found, key=lambda i: (i["time"] or 0, i["device"]))))
            for token, found in by_card.items() if len({i["device"] for i in found}) > 1]
    rows.sort(key=lambda r: (-r[3], r[0]))
    return rows
