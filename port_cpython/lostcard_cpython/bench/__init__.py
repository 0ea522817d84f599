"""`lostcard bench classify|records|queue|sync|device|backlog|firmware|fleet`: the core on CPython beside the same core
on real MicroPython (the .mpy bundle, as a terminal runs it), one module per benchmark.

`device` is the terminal's budgets: the .mpy bundle beside CPython, then `firmware`'s table (the .mpy
bundle, a ROMFS image, frozen unix32, frozen Cortex-M3 in QEMU). harness.py runs MicroPython and prints the side-by-side tables; the bundle is compiled before
any timed region. Benchmarks print; they never assert.
"""


def run(what, out, runs, declines, source=None, incidents=5000, fleet=None):
    """One benchmark by name, printed to `out`; `fleet` holds bench fleet's options."""
    if what == "fleet":
        from .fleet import run as storm

        storm(out, **fleet)
    elif what == "firmware":
        from .firmware import run as firmware

        firmware(out, source)
    elif what == "device":  # the .mpy bundle beside CPython, then the deployments side by side
        from .device import run as device
        from .firmware import run as firmware

        device(out, declines)
        out.write("\n")
        firmware(out, source)
    elif what == "backlog":
        from .backlog import run as backlog

        backlog(out, declines)
    elif what == "records":
        from .records import run as records

        records(out, runs)
    elif what == "queue":
        from .queue import run as queue

        queue(out, runs)
    elif what == "sync":
        from .sync import run as sync

        sync(out, incidents)
    else:
        from .classify import run as classify

        classify(out, runs)
