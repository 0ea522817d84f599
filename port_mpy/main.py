"""Example main.py: lostcard inside a terminal's payment application (README, "Flashing a terminal").

The payment application calls `on_host_decline(event)` when the host (or the terminal itself)
declines with a lost-card style code, shows the two operator lines, and lets `sync_forever`
upload the backlog whenever the link is up. Configuration lives in lostcard.json on flash.

Rehearsal, as the tests and the emulator use it:
    micropython main.py CONFIG.json [DECLINES.jsonl]
plays each decline of the file (one event per line), tries one sync after each, then syncs
until the queue is empty or the link fails, and prints the status as the last line (JSON).
"""

import json
import sys

from lostcard_mpy import Terminal, sync_forever

CONFIG = "lostcard.json"
TOKEN_KEY = "token.key"


def platform_token_key():
    # Replace with your platform's key store (secure element, the payment application's keys):
    # the fleet-wide card-token key must not sit in lostcard.json (docs/SECURITY.md). The unix
    # port's rehearsal reads it from a file.
    with open(TOKEN_KEY) as f:
        return f.read().strip()


def load_config(path=CONFIG):
    with open(path) as f:
        config = json.load(f)
    if "token_key" not in config:
        config["token_key"] = platform_token_key()
    return config


def show(line1, line2):
    # the terminal's two-line display; here, the console
    print(line1)
    print(line2)


def on_host_decline(terminal, event):
    decision = terminal.on_decline(event)  # durable before it returns; never the network
    operator = decision["messages"]["operator"]
    show(operator["zh"], operator["en"])
    if not decision["stored"]:
        show("事件未存储", "incident not stored")
    return decision


def rehearse(terminal, declines_path):
    with open(declines_path) as f:
        for line in f:
            if line.strip():
                on_host_decline(terminal, json.loads(line))
                terminal.sync_step()  # a no-op while the link is down and backing off


def sync_until_empty(terminal):
    # then the chunks of an update the collector offers, if any: a request each
    while terminal.sync_step() or terminal.updating:
        pass


def run_forever(terminal):
    # firmware with asyncio: the payment application's own tasks run beside this one
    import asyncio

    asyncio.run(sync_forever(terminal))


def main(argv):
    terminal = Terminal(load_config(argv[1] if len(argv) > 1 else CONFIG))
    if len(argv) > 2:
        rehearse(terminal, argv[2])
    if len(argv) > 1:
        terminal.link_returned(0)  # one terminal, rehearsing: no fleet to spread out
        sync_until_empty(terminal)
        print(json.dumps(terminal.status()))
    else:
        run_forever(terminal)


main(sys.argv)
