"""The words on the wire: the decline event's enumerations (docs/EVENT.md) and a decision's
causes and actions (docs/DECISION.md), for the event reader, the record, the policy checks and the
collector. Two kinds live elsewhere, to keep them out of a terminal's heap when it does not use
them: the record's numbered catalogs (rule ids, subcauses, brands) in record.py, which the
classifier alone never loads, and the remedies and risk levels in override.py, the only module
that reads them (checking a policy). tests/test_vocab.py keeps each word list written once.

Orders are part of the record format (it stores enumerations, causes and actions by position, and
catalog names by number): append only.
"""

SOURCES = ("host", "terminal", "card", "none")
ENTRY_MODES = ("chip", "contactless", "swipe", "fallback_swipe", "manual")
CVV_RESULTS = ("match", "mismatch", "not_checked")
CIDS = ("AAC", "TC", "ARQC")
NETWORK_STATES = ("up", "down", "degraded")
TXN_TYPES = ("sale", "refund", "preauth", "void", "balance")

# what the rules blame, then the verdict when no cause scores enough
CAUSES = ("card_data_error", "card_compromised", "network_fault", "device_fault",
          "operator_error", "undetermined")
RULE_CAUSES = CAUSES[:-1]  # a rule never blames "undetermined"
ACTIONS = ("retain_card", "return_card", "reenter_card", "retry_online", "service_terminal",
           "call_acquirer")
