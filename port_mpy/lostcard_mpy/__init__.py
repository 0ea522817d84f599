"""lostcard's MicroPython port: what a terminal needs beyond the portable core.

Nothing here runs at import time; callers construct what they use.
"""
