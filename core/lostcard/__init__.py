"""lostcard: why did this POS terminal say "lost card" (挂失卡)? The portable decision core.

Runs unchanged on CPython and MicroPython. Ports supply platform services; the core never imports
a port.
"""

from .classify import classify

__version__ = "0.1.0"
