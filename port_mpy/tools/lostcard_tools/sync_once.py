"""Upload a queue directory to a collector until it is empty: `-m lostcard_tools.sync_once DIR URL`.

Used by `lostcard bench sync` for the MicroPython client's end-to-end rate; prints, as JSON, the
records synced and the seconds from the queue opened to the last ack (the interpreter's start
and the imports are not the sync's).
"""

import os
import sys
import time

from lostcard.queue import Queue
from lostcard.sync import Uploader
from lostcard import kdf  # the uploader only MACs: HMAC without the AES code
from lostcard_mpy.storage import FlashStorage
from lostcard_mpy.transport import HttpTransport


def main(path, url):
    t0 = time.ticks_ms()
    queue = Queue(FlashStorage(path), writable=True)
    uploader = Uploader(queue, HttpTransport(url), kdf, os.urandom, queue.device_id,
                        queue.ack_key)
    synced = uploader.run(time.sleep, lambda a, b: 0.0, max_failures=3)
    # by hand: the json module would take heap that the uploader needs
    print('{"synced": %d, "s": %f}' % (synced, time.ticks_diff(time.ticks_ms(), t0) / 1000))


main(sys.argv[1], sys.argv[2])
