"""The device side of the sync tests: upload a queue directory on this interpreter.

    sync_client.py QUEUE_DIR URL STEPS [CA_FILE]

Runs up to STEPS upload steps through lostcard_mpy's HTTP transport, printing one line per step:
"sent N", "refused: why", and "done" once the queue is empty.
"""

import os
import sys

from lostcard.errors import SyncError
from lostcard.queue import Queue
from lostcard.sync import Uploader
from lostcard import kdf  # the uploader only MACs: HMAC without the AES code
from lostcard_mpy.storage import FlashStorage
from lostcard_mpy.transport import HttpTransport


def main(path, url, steps, ca=None):
    queue = Queue(FlashStorage(path), writable=True)
    uploader = Uploader(queue, HttpTransport(url, ca, timeout=5), kdf, os.urandom,
                        queue.device_id, queue.ack_key, batch_bytes=700)
    for _ in range(steps):
        try:
            sent = uploader.step()
        except SyncError as exc:
            print("refused:", exc.args[0])
            continue
        if sent == 0:
            print("done")
            return
        print("sent", sent)


main(sys.argv[1], sys.argv[2], int(sys.argv[3]), *sys.argv[4:])
