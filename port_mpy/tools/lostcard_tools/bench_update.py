"""The heap of the sync steps that apply an update, through the Terminal's API: `lostcard bench
device` runs this on MicroPython (the .mpy bundle, phases) at growing heaps:

    -m lostcard_tools.bench_update QUEUE_DIR ENTRIES

A new queue in QUEUE_DIR (the port's flash storage, no backlog), the collector a transport in
this process that publishes a policy and a watchlist of ENTRIES entries (made for the device as a
collector makes them, each chunk computed when asked, so the collector's share of the heap stays a
few hundred bytes): the idle terminal checks in, fetches each object a chunk a sync step and
installs it. Prints one JSON line: steps, the installed versions, median and worst step. A
MemoryError (or a step that failed) ends it with exit status 1.
"""

import hashlib
import json
import sys

from time import ticks_diff, ticks_us

DEVICE = "BENCH-UPD-1"
KEY = b"\x5b" * 32
POLICY_JSON = (b'{"name": "bench-acquirer", "response_codes": {"05": null, '
               b'"42": ["rc_stolen", "card_compromised", 95, "reported_stolen", "p", '
               b'"stolen card, pick up (acquirer code 42)"]}}')


class Collector:
    """Version 1 of each kind; the watchlist's entries ascending, computed from their index."""

    def __init__(self, entries):
        from lostcard import kdf, protocol

        self.entries = entries
        self.spacing = (1 << 120) // (entries + 1)
        digest = hashlib.sha256()
        for n in range(entries):
            digest.update(self._entry(n))
        self.heads = {}
        for kind, length, body_digest in ((protocol.POLICY, len(POLICY_JSON),
                                           hashlib.sha256(POLICY_JSON).digest()),
                                          (protocol.WATCHLIST, entries * 16, digest.digest())):
            self.heads[kind] = (protocol.OBJECT_MAGIC + bytes((kind, 0, 0, 0))
                                + (1).to_bytes(4, "big") + length.to_bytes(4, "big")
                                + protocol.object_mac(kdf, KEY, DEVICE, kind, 1, body_digest))

    def _entry(self, n):
        return ((n + 1) * self.spacing).to_bytes(15, "big") + bytes((1 + n % 255,))

    def _part(self, kind, start, end):
        """Bytes start..end of `kind`'s object."""
        head = self.heads[kind]
        out = head[start:end]
        if end > 32:
            body_start, body_end = max(start, 32) - 32, end - 32
            if kind == 1:
                out += POLICY_JSON[body_start:body_end]
            else:
                body = b"".join(self._entry(n) for n in range(body_start // 16,
                                                                 min(self.entries,
                                                                     (body_end + 15) // 16)))
                skip = body_start % 16
                out += body[skip:skip + body_end - body_start]
        return out

    def post(self, path, body, limit=256):
        from lostcard import cbor

        request = cbor.decode(body)
        kind, version, offset = request[3], request[4], request[5]
        if version != 1:
            offset = 0
        total = 32 + (len(POLICY_JSON) if kind == 1 else self.entries * 16)
        reply = cbor.encode({1: 1, 2: total, 3: offset,
                             4: self._part(kind, offset, min(total, offset + 1024))})
        return 200, reply[:limit]


def _provision(path):
    from lostcard.queue import Queue
    from lostcard_mpy.storage import FlashStorage

    Queue.provision(FlashStorage(path), b"\x07" * 32, device_id=DEVICE, ack_key=KEY)


def main(path, entries):
    from lostcard_mpy import terminal as port

    _provision(path)
    for name in list(sys.modules):  # the terminal's phases load what they need
        if name.startswith("lostcard.") and name not in port.Platform.keep:
            del sys.modules[name]
    collector = Collector(entries)

    class Bench(port.Platform):
        def transport(self, url, ca=None):
            return collector

    setattr(port, "Platform", Bench)  # the port's Terminal (gc threshold, phases) on this link
    terminal = port.Terminal({"device_id": DEVICE, "queue_dir": path, "token_key": "77" * 32,
                              "collector_url": "http://collector", "sync_spread_s": 0})
    times = []
    for _ in range(2 + 2 * (entries * 16 // 1024 + 2)):
        t0 = ticks_us()
        terminal.sync_step()
        times.append(ticks_diff(ticks_us(), t0))
        if terminal.last_error:
            print("step failed:", terminal.last_error)
            sys.exit(1)
        status = terminal.status()
        if status["policy_version"] and status["watchlist_version"]:
            break
    ordered = sorted(times)
    print(json.dumps({"steps": len(times), "policy": status["policy_version"],
                      "watchlist": status["watchlist_version"],
                      "median_us": ordered[len(ordered) // 2], "worst_us": ordered[-1]}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
