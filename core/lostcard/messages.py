"""Two-line texts for the terminal: what the operator does, what the cardholder is told.

Operator texts are keyed by subcause, then by cause; each names one of the few cardholder texts.
Limits fit a small terminal line: en <= 32 characters, zh <= 16. Text tables (see table.py) keep
these texts small in a MicroPython heap.
"""

from .table import row

# subcause or cause|operator zh|operator en|cardholder text
OPERATOR = (
    "\n"
    "card_compromised|可疑卡：请致电收单行|Suspect card: call acquirer|bank\n"
    "reported_lost|挂失卡：安全时请扣卡|Lost card: retain if safe|held\n"
    "reported_stolen|被盗卡：安全时请扣卡|Stolen card: retain if safe|held\n"
    "fraud_pickup|欺诈警示：安全时扣卡|Fraud alert: retain if safe|held\n"
    "pickup_requested|发卡行要求扣卡|Issuer: pick up card if safe|held\n"
    "terminal_hotlist|黑名单卡：请扣留卡片|Hot-listed card: retain card|held\n"
    "cloned_stripe|疑似克隆卡：请致电收单|Suspected clone: call acquirer|bank\n"
    "counterfeit_chip|芯片认证失败：致电收单|Chip auth failed: call acquirer|bank\n"
    "restricted_card|受限卡：请退还卡片|Restricted card: return card|restricted\n"
    "issuer_decline|发卡行拒绝：请退卡|Issuer declined: return card|declined\n"
    "card_data_error|卡信息错误：请核对重输|Card data error: re-enter|check_card\n"
    "invalid_pan|卡号错误：请核对重输|Card number wrong: re-enter|check_pan\n"
    "invalid_expiry|有效期错误：请重输|Expiry invalid: re-enter|check_expiry\n"
    "expired_card|卡片过期：请退还卡片|Card expired: return card|expired\n"
    "expired_pickup|过期卡：安全时请扣卡|Expired card: retain if safe|held\n"
    "not_yet_effective|卡片未生效：请退卡|Card not yet valid: return|not_active\n"
    "cvv_mismatch|安全码错误：请核对|CVV wrong: verify, re-enter|check_cvv\n"
    "wrong_pin|密码错误：请重新输入|Wrong PIN: ask to re-enter|wrong_pin\n"
    "pin_tries_exceeded|密码超限：请退还卡片|PIN tries exceeded: return|pin_locked\n"
    "card_read_error|读卡错误：请重新插卡|Card read error: insert again|insert_again\n"
    "network_fault|网络故障：请联机重试|Network fault: retry online|network\n"
    "link_down|网络断开：检查后重试|Link down: check network, retry|network\n"
    "late_answer|主机应答过时：请重试|Late host reply: retry online|network\n"
    "stale_hotlist|黑名单过期：请联机重试|Hot list stale: retry online|network\n"
    "issuer_unavailable|发卡行不可用：稍后重试|Issuer offline: retry later|bank_busy\n"
    "device_fault|终端故障：请联系维修|Terminal fault: call service|terminal\n"
    "clock_fault|终端时钟错误：请报修|Clock wrong: call service|terminal\n"
    "reader_fault|读卡器故障：请报修|Card reader fault: call service|terminal\n"
    "outdated_firmware|请更新终端软件|Terminal software outdated|terminal\n"
    "tamper_detected|终端被拆：停止使用|TAMPER: stop using terminal|terminal\n"
    "config_error|终端配置错误：请报修|Config error: call service|terminal\n"
    "operator_error|操作有误：请按流程重做|Handling error: redo correctly|retry\n"
    "training_mode|培训模式：退出后重试|Training mode on: exit, retry|retry\n"
    "forced_fallback|请插芯片，勿刷磁条|Insert chip, do not swipe|insert_chip\n"
    "repeated_attempts|尝试过多：停止并退卡|Too many tries: stop, return|other_payment\n"
    "wrong_txn_type|交易类型错误：请重做|Wrong txn type: check, redo|retry\n"
    "txn_not_permitted|该卡不允许此交易|Txn not allowed: return card|not_allowed\n"
    "undetermined|交易拒绝：请致电收单行|Declined: call acquirer|declined\n"
    "invalid_event|数据异常：请致电收单行|Bad decline data: call acquirer|declined\n"
)

# cardholder text|zh|en
CARDHOLDER = (
    "\n"
    "bank|请联系发卡银行|Please contact your bank\n"
    "held|卡片已暂扣，请联系银行|Card held: call your bank\n"
    "restricted|此卡受限，请联系银行|Card restricted: call your bank\n"
    "declined|交易被拒，请联系银行|Declined: contact your bank\n"
    "check_card|请核对卡片信息|Please check your card details\n"
    "check_pan|请核对卡号|Please check the card number\n"
    "check_expiry|请核对有效期|Please check the expiry date\n"
    "expired|卡片已过期，请换新卡|Card expired: ask bank for new\n"
    "not_active|卡片尚未生效|Card not yet active\n"
    "check_cvv|请核对卡背安全码|Please check the security code\n"
    "wrong_pin|密码错误，请重新输入|Wrong PIN, please try again\n"
    "pin_locked|密码已锁，请联系银行|PIN locked: contact your bank\n"
    "insert_again|请重新插卡|Please insert the card again\n"
    "network|网络问题，请稍候|Network issue, please wait\n"
    "bank_busy|银行系统繁忙，请稍候|Bank busy, please wait\n"
    "terminal|终端故障，敬请谅解|Terminal problem, sorry\n"
    "retry|抱歉，我们将重新操作|Sorry, we will retry\n"
    "insert_chip|请插入芯片|Please insert your chip\n"
    "other_payment|请使用其他支付方式|Please use another payment\n"
    "not_allowed|此交易不被允许|This payment is not allowed\n"
)


def texts(cause, subcause):
    """{"operator": {"zh", "en"}, "cardholder": {"zh", "en"}} for a decision."""
    op = row(OPERATOR, subcause) or row(OPERATOR, cause)
    ch = row(CARDHOLDER, op[2])
    return {"operator": {"zh": op[0], "en": op[1]}, "cardholder": {"zh": ch[0], "en": ch[1]}}
