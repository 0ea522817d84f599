"""Print the decision for every scenario of a JSON Lines file, one compact JSON line each.

Runs on MicroPython and CPython alike; tests/test_micropython.py compares the two outputs.
Reads one line at a time so the file never has to fit in a small heap.
"""

import json
import sys

from lostcard.decision import classify

with open(sys.argv[1]) as f:
    for line in f:
        if line.strip():
            print(json.dumps(classify(json.loads(line)["event"])))
