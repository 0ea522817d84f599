"""A listener on 127.0.0.1 for the transport tests' fake servers: each connection goes to
`handle(conn)` in a thread of its own, until close()."""

import socket
import threading


class LoopbackServer:
    def __init__(self, handle, url="http://127.0.0.1:%d"):
        self.handle = handle
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = url % self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:  # closed: the test is over
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def close(self):
        self.listener.close()
