"""One stretch of a terminal's day for `lostcard demo`, on MicroPython or CPython alike:

    -m lostcard_tools.demo_day CONFIG DECLINES FIRST LAST MODE [CUT]

Boots the Terminal (recovering its queue), handles declines FIRST..LAST-1 of the file and prints
one JSON line per decline. MODE "online" tries a sync step after each decline, "offline" too (the
link is down, the steps fail and back off), "sync" handles none and syncs until the queue is empty,
one JSON line per batch. CUT=k cuts the power in the middle of the k-th append: half the frame
reaches the file, then the process dies (exit 3) before on_decline returns.
"""

import json
import sys

from lostcard_tools.cut_storage import CutStorage
from lostcard_tools.fake_flash import PowerCut

if sys.implementation.name == "micropython":
    from lostcard_mpy import Terminal
else:
    from lostcard_cpython.terminal import Terminal


def _declines(path, first, last):
    with open(path) as f:
        n = 0
        for line in f:
            if line.strip():
                if first <= n < last:
                    yield n, json.loads(line)
                n += 1


def main(config_path, declines, first, last, mode, cut=0):
    with open(config_path) as f:
        terminal = Terminal(json.load(f))
    if cut:
        terminal.storage = CutStorage(terminal.storage, cut, appends_only=True)
    try:
        _run(terminal, declines, first, last, mode)
    except PowerCut as exc:
        print(json.dumps({"power_cut": exc.args[0]}))
        sys.exit(3)


def _run(terminal, declines, first, last, mode):
    if mode == "sync":
        terminal.link_returned()
        while True:
            done = terminal.sync_step()
            status = terminal.status()
            print(json.dumps({"synced": done, "left": status["queued"], "link": status["link"]}))
            if not done and not terminal.updating:  # an update's chunks come one a step
                break
    else:
        for n, event in _declines(declines, first, last):
            d = terminal.on_decline(event)
            print(json.dumps({"n": n, "cause": d["cause"], "action": d["action"],
                              "subcause": d["subcause"], "seq": d.get("seq"),
                              "stored": d["stored"], "zh": d["messages"]["operator"]["zh"],
                              "rules": [e["rule"] for e in d["evidence"]],
                              "en": d["messages"]["operator"]["en"]}))
            terminal.sync_step()
    print(json.dumps({"status": terminal.status()}))


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0], args[1], int(args[2]), int(args[3]), args[4], int(args[5]) if len(args) > 5 else 0)
