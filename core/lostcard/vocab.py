"""The enumerations of the decline event (docs/EVENT.md), shared by the event reader and the record.

Their order is part of the record format (docs/RECORD.md stores them by position): append only.
"""

SOURCES = ("host", "terminal", "card", "none")
ENTRY_MODES = ("chip", "contactless", "swipe", "fallback_swipe", "manual")
CVV_RESULTS = ("match", "mismatch", "not_checked")
CIDS = ("AAC", "TC", "ARQC")
NETWORK_STATES = ("up", "down", "degraded")
TXN_TYPES = ("sale", "refund", "preauth", "void", "balance")
