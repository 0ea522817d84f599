"""The report's words for the codes it shows: causes in English and Chinese (docs/DECISION.md's
table, which tests/test_report.py holds them to), actions, and subcauses spelled out. The exports
keep the codes; only people read these.
"""

CAUSE = {"card_data_error": "Card data error", "card_compromised": "Card compromised",
         "network_fault": "Network fault", "device_fault": "Device fault",
         "operator_error": "Operator error", "undetermined": "Undetermined"}
CAUSE_ZH = {"card_data_error": "银行卡信息错误", "card_compromised": "银行卡被非法复制或克隆",
            "network_fault": "网络连接问题", "device_fault": "软件或硬件故障",
            "operator_error": "操作员误操作", "undetermined": "无法判定"}
ACTION = {"retain_card": "Retain the card", "return_card": "Return the card",
          "reenter_card": "Re-enter the card", "retry_online": "Retry online",
          "service_terminal": "Service the terminal", "call_acquirer": "Call the acquirer"}
# words a subcause's name abbreviates; an acquirer's policy may add subcauses, spelled out alike
WORDS = {"cvv": "CVV", "pin": "PIN", "pan": "PAN", "txn": "transaction", "hotlist": "hot list",
         "config": "configuration", "pickup": "pick-up"}


def cause(code):
    return CAUSE.get(code) or subcause(code)


def action(code):
    return ACTION.get(code) or subcause(code)


def subcause(code):
    """`tamper_detected` -> "Tamper detected", `cvv_mismatch` -> "CVV mismatch"."""
    text = " ".join(WORDS.get(word, word) for word in str(code).split("_"))
    return text[:1].upper() + text[1:]
