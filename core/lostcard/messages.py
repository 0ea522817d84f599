"""Two-line texts for the terminal: what the operator does, what the cardholder is told.

The texts are rows of the policy's texts.txt: `operator:` rows by subcause, then by cause, each
naming one of a few `cardholder:` rows. Limits fit a small terminal line: en <= 32 characters,
zh <= 16 (checked by the tests for every row).
"""

from .table import row


def texts(table, cause, subcause):
    """{"operator": {"zh", "en"}, "cardholder": {"zh", "en"}} for a decision."""
    op = row(table, "operator:" + subcause) or row(table, "operator:" + cause)
    ch = row(table, "cardholder:" + op[2])
    return {"operator": {"zh": op[0], "en": op[1]}, "cardholder": {"zh": ch[0], "en": ch[1]}}
