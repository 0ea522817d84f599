"""lostcard: why did this POS terminal say "lost card" (挂失卡)? The portable decision core.

Runs unchanged on CPython and MicroPython. Ports supply platform services; the core never imports
a port. The package imports nothing by itself, so a terminal loads only the modules it uses:
`from lostcard.decision import classify` for the classifier, `lostcard.cose` to seal, and so on.
"""

__version__ = "0.1.0"
