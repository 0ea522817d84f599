"""A terminal on a board without a network, driven over its serial console (tests/firmware_boards.py).

    import board_driver; board_driver.main("lostcard.json")

Reads one command per line from the console: a decline event (JSON) is decided and stored, and its
decision printed as "D <json>"; "SYNC" brings the link back and syncs until the queue is empty, each
POST relayed by the host ("POST <path> <hex body>", answered "<status> <hex reply, or - if empty>"); "STATUS"
prints "S <json>"; "END" returns.
"""

import json
import sys

from lostcard.errors import SyncError
from lostcard_mpy.platform import Platform


class SerialTransport:
    def post(self, path, body, limit=256):
        print("POST", path, body.hex())
        reply = sys.stdin.readline().split()  # "<status> <hex body or ->"
        if len(reply) != 2 or not reply[0].isdigit():
            raise SyncError("serial: no reply from the host")
        try:
            return int(reply[0]), b"" if reply[1] == "-" else bytes.fromhex(reply[1])[:limit]
        except ValueError:
            raise SyncError("serial: a reply that is not hex")


class SerialPlatform(Platform):
    def transport(self, url, ca=None):
        return SerialTransport()


def main(config_path):
    import lostcard_mpy.terminal as mpy

    with open(config_path) as f:
        config = json.load(f)
    mpy.Platform = SerialPlatform  # the port's Terminal (gc threshold, phases) on the serial link
    terminal = mpy.Terminal(config)
    while True:
        line = sys.stdin.readline().strip()
        if line == "END":
            return
        if line == "SYNC":
            terminal.link_returned(0)
            while terminal.sync_step() or terminal.updating:
                pass
        if line in ("SYNC", "STATUS"):
            print("S", json.dumps(terminal.status()))
        elif line:
            print("D", json.dumps(terminal.on_decline(json.loads(line))))
