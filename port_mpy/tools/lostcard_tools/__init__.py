"""Tools that run beside a terminal's code, never on a terminal: the benchmarks, the demo's day
and the sync rehearsal. They run on MicroPython from the tools bundle (`mpybuild.build(tools=True)`)
and, for side-by-side figures, on CPython; `lostcard build-mpy` never ships them.
"""
