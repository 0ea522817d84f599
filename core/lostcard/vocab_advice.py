"""The words of a decision's advice that a policy's tables may name: remedies and risk levels
(docs/DECISION.md); the rest of the vocabulary is in vocab.py.

Apart from vocab.py, which every terminal loads, because only checking a policy (override.py)
needs them: as a tuple of names, the remedies alone hold ~1 KiB of a MicroPython heap.
"""

REMEDIES = ("verify_card_info", "update_card_info", "notify_customer", "strengthen_security",
            "monitor_suspicious", "report_police", "contact_issuer", "check_network",
            "restart_device", "update_drivers", "professional_repair", "replace_device",
            "update_software", "train_operator", "follow_procedure", "correct_and_apologize")
LEVELS = ("low", "medium", "high")
