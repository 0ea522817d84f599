"""lostcard's CPython port: the emulator's CLI, the collector and its report, benchmarks.

It runs the same core as the device, and drives the real MicroPython interpreter where a command
compares the two.
"""
