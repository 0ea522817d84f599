"""Upload a queue directory to a collector until it is empty: `-m lostcard_tools.sync_once DIR URL`.

Used by `lostcard bench sync` for the MicroPython client's end-to-end rate; prints the count.
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
    queue = Queue(FlashStorage(path), writable=True)
    uploader = Uploader(queue, HttpTransport(url), kdf, os.urandom, queue.device_id,
                        queue.ack_key)
    print(uploader.run(time.sleep, lambda a, b: 0.0, max_failures=3))


main(sys.argv[1], sys.argv[2])
