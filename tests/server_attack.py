"""Helpers of the attack tests on the collector's server (tests/test_attack_server_*.py): a
collector process and its resident memory, watched while a hostile client works."""

import threading
import time


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    raise AssertionError("no VmRSS for %d" % pid)


class PeakRss(threading.Thread):
    """The largest resident size of process `pid` seen while it runs, sampled every 20 ms."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.stop = pid, threading.Event()
        self.base = self.peak = rss_mib(pid)

    def run(self):
        while not self.stop.wait(0.02):
            try:
                self.peak = max(self.peak, rss_mib(self.pid))
            except OSError:
                return

    def growth(self, seconds):
        """Watch `seconds` more, then the growth in MiB over the start."""
        time.sleep(seconds)
        self.stop.set()
        self.join()
        return self.peak - self.base
