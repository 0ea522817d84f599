"""The classification policy: every threshold, weight and code meaning, as versioned data.

A decision names the policy version it was made under, so the risk team can tell which rules a
stored incident went through. Networks disagree on some response codes (42 "stolen" at some
acquirers), so `override.with_overrides` lets a per-acquirer file replace entries of the response-code map;
the result carries its own version.

The tables are text (see table.py) to keep the policy small in a MicroPython heap; checking a
policy and applying overrides live in override.py, which a terminal imports only if it needs them.
"""


CAUSES = ("card_data_error", "card_compromised", "network_fault", "device_fault", "operator_error")

# rule|cause|points|subcause|why (a %-template filled in by rules.py)
RULES = (
    "\n"
    "chip_card_swiped|card_compromised|70|cloned_stripe|chip card (service code %s) swiped, no chip failure on record\n"
    "fallback_without_chip_failure|card_compromised|55|cloned_stripe|fallback swipe with no chip read failure\n"
    "track_cvv_mismatch|card_compromised|60|cloned_stripe|magstripe security code does not match\n"
    "oda_failed|card_compromised|75|counterfeit_chip|offline data authentication failed (%s)\n"
    "oda_not_performed|card_compromised|10|counterfeit_chip|chip read without offline data authentication\n"
    "exception_file|card_compromised|80|terminal_hotlist|card on the terminal hot list\n"
    "issuer_auth_failed|card_compromised|35|issuer_auth_failed|issuer authentication failed\n"
    "card_refused_offline|card_compromised|15|card_refused|the card itself declined (AAC)\n"
    "pan_luhn_failed|card_data_error|80|invalid_pan|card number fails the Luhn check\n"
    "pan_length_invalid|card_data_error|70|invalid_pan|card number has %d digits\n"
    "expiry_invalid|card_data_error|70|invalid_expiry|expiry %s is not a valid YYMM\n"
    "card_expired|card_data_error|60|expired_card|card expired %02d/%d\n"
    "tvr_expired_application|card_data_error|55|expired_card|card application expired\n"
    "tvr_not_yet_effective|card_data_error|45|not_yet_effective|card application not yet effective\n"
    "keyed_cvv_mismatch|card_data_error|60|cvv_mismatch|keyed security code does not match\n"
    "icc_data_missing|card_data_error|35|card_read_error|chip data missing\n"
    "stale_answer|network_fault|80|late_answer|answer STAN/RRN does not match the request\n"
    "link_down|network_fault|55|link_down|network link down\n"
    "link_degraded|network_fault|30|link_unstable|network link degraded\n"
    "host_contact_stale|network_fault|20|link_unstable|no host contact for %d s\n"
    "repeated_timeouts|network_fault|40|link_unstable|%d host timeouts in a row\n"
    "stale_hotlist|network_fault|60|stale_hotlist|hot list is %d h old\n"
    "no_host_answer|network_fault|40|host_unreachable|no answer from the host\n"
    "online_request_unanswered|network_fault|25|host_unreachable|the card asked to go online (ARQC) and no answer came\n"
    "floor_limit_offline|network_fault|25|host_unreachable|over the floor limit while the link is %s\n"
    "clock_fault|device_fault|70|clock_fault|terminal reports its clock is not set\n"
    "clock_implausible|device_fault|70|clock_fault|terminal clock reads an impossible date\n"
    "reader_fault|device_fault|70|reader_fault|card reader reports a fault\n"
    "chip_reader_suspect|device_fault|30|reader_fault|%d chip read failures in a row\n"
    "outdated_firmware|device_fault|50|outdated_firmware|firmware %s older than %s\n"
    "tamper|device_fault|85|tamper_detected|tamper sensor triggered\n"
    "config_error|device_fault|60|config_error|terminal configuration invalid\n"
    "training_mode|operator_error|80|training_mode|terminal in training mode\n"
    "forced_fallback|operator_error|65|forced_fallback|operator forced a swipe without a chip attempt\n"
    "repeated_attempts|operator_error|35|repeated_attempts|%d attempts with this card in 10 min\n"
    "excessive_attempts|operator_error|55|repeated_attempts|%d attempts with this card in 10 min\n"
    "wrong_txn_type|operator_error|50|wrong_txn_type|%s not allowed for a %s\n"
)

# undermining fact|share of points kept (%)|why, appended to the undermined evidence
DISCOUNTS = (
    "\n"
    "stale_answer|20|the answer is for another request\n"
    "training_host_code|40|terminal in training mode\n"
    "bad_clock_expiry|10|terminal clock not trusted\n"
    "stale_hotlist|40|hot list is stale\n"
    "forced_fallback_swipe|30|operator chose to swipe\n"
    "device_explains_offline|30|a terminal fault keeps it offline\n"
    "chip_attempts_unknown|60|no record of chip read attempts\n"
    "entry_mode_unknown|60|entry mode unknown\n"
)

# ISO 8583 field 39 or terminal ARC|rule|cause|points|subcause|flags|meaning
# flags: "e" = the code says the card is expired (undermined by a bad terminal clock)
RESPONSE_CODES = (
    "\n"
    "00|rc_approved|network_fault|30|answer_mismatch||approved\n"
    "Y1|rc_approved|network_fault|30|answer_mismatch||offline approved\n"
    "Y3|rc_approved|network_fault|30|answer_mismatch||unable to go online, offline approved\n"
    "04|rc_pickup|card_compromised|70|pickup_requested||pick up card\n"
    "05|rc_do_not_honour|card_compromised|25|issuer_decline||do not honour\n"
    "07|rc_fraud_pickup|card_compromised|90|fraud_pickup||pick up card, special condition (fraud)\n"
    "14|rc_invalid_card_number|card_data_error|70|invalid_pan||invalid card number\n"
    "15|rc_no_such_issuer|card_data_error|60|unknown_issuer||no such issuer\n"
    "33|rc_expired_pickup|card_data_error|60|expired_pickup|e|expired card, pick up\n"
    "34|rc_fraud_pickup|card_compromised|85|fraud_pickup||suspected fraud, pick up\n"
    "41|rc_lost|card_compromised|90|reported_lost||lost card, pick up\n"
    "43|rc_stolen|card_compromised|95|reported_stolen||stolen card, pick up\n"
    "54|rc_expired|card_data_error|70|expired_card|e|expired card\n"
    "55|rc_incorrect_pin|card_data_error|60|wrong_pin||incorrect PIN\n"
    "57|rc_not_permitted_cardholder|operator_error|45|txn_not_permitted||transaction not permitted to cardholder\n"
    "58|rc_not_permitted_terminal|device_fault|45|config_error||transaction not permitted to terminal\n"
    "59|rc_suspected_fraud|card_compromised|80|suspected_fraud||suspected fraud\n"
    "62|rc_restricted|card_compromised|45|restricted_card||restricted card\n"
    "68|rc_late_response|network_fault|85|late_answer||response received too late\n"
    "75|rc_pin_tries_exceeded|card_data_error|60|pin_tries_exceeded||PIN tries exceeded\n"
    "91|rc_issuer_unavailable|network_fault|80|issuer_unavailable||issuer or switch inoperative\n"
    "96|rc_system_malfunction|network_fault|60|host_malfunction||system malfunction\n"
    "Z1|rc_offline_declined|card_compromised|0|card_refused||offline declined\n"
    "Z3|rc_host_unreachable|network_fault|70|host_unreachable||unable to go online, offline declined\n"
)

# subcause or cause|next action
ACTIONS_BY = (
    "\n"
    "card_compromised|call_acquirer\n"
    "reported_lost|retain_card\n"
    "reported_stolen|retain_card\n"
    "fraud_pickup|retain_card\n"
    "pickup_requested|retain_card\n"
    "terminal_hotlist|retain_card\n"
    "restricted_card|return_card\n"
    "issuer_decline|return_card\n"
    "card_data_error|reenter_card\n"
    "expired_card|return_card\n"
    "expired_pickup|retain_card\n"
    "not_yet_effective|return_card\n"
    "pin_tries_exceeded|return_card\n"
    "network_fault|retry_online\n"
    "device_fault|service_terminal\n"
    "operator_error|reenter_card\n"
    "repeated_attempts|return_card\n"
    "txn_not_permitted|return_card\n"
    "undetermined|call_acquirer\n"
)

# subcause or cause|DOMAIN.md measures, comma-separated
REMEDIES_BY = (
    "\n"
    "card_data_error|verify_card_info,notify_customer\n"
    "expired_card|update_card_info,notify_customer\n"
    "expired_pickup|update_card_info,notify_customer,contact_issuer\n"
    "not_yet_effective|update_card_info,notify_customer\n"
    "pin_tries_exceeded|contact_issuer,notify_customer\n"
    "unknown_issuer|verify_card_info,update_card_info,notify_customer\n"
    "card_compromised|contact_issuer,monitor_suspicious,report_police\n"
    "cloned_stripe|strengthen_security,monitor_suspicious,report_police,contact_issuer\n"
    "counterfeit_chip|strengthen_security,monitor_suspicious,report_police,contact_issuer\n"
    "restricted_card|contact_issuer,notify_customer\n"
    "issuer_decline|contact_issuer,notify_customer\n"
    "card_refused|contact_issuer,monitor_suspicious\n"
    "network_fault|check_network,restart_device,update_drivers\n"
    "stale_hotlist|check_network,update_software\n"
    "device_fault|professional_repair,update_software,replace_device\n"
    "outdated_firmware|update_software,update_drivers\n"
    "config_error|update_software,professional_repair\n"
    "tamper_detected|professional_repair,replace_device,report_police,monitor_suspicious\n"
    "operator_error|train_operator,follow_procedure,correct_and_apologize\n"
    "undetermined|contact_issuer,follow_procedure\n"
)

# subcause or cause|funds|operational|legal
RISK = (
    "\n"
    "card_compromised|high|low|medium\n"
    "restricted_card|medium|low|medium\n"
    "issuer_decline|medium|low|low\n"
    "card_refused|medium|low|low\n"
    "card_data_error|low|low|low\n"
    "expired_pickup|medium|low|medium\n"
    "network_fault|low|medium|low\n"
    "device_fault|low|high|low\n"
    "tamper_detected|high|high|medium\n"
    "operator_error|low|high|medium\n"
    "undetermined|medium|medium|low\n"
)

DEFAULT = {
    "version": "2026.11.1",
    # below this many points for the best cause, the decision is `undetermined`
    "min_points": 30,
    # a cause scoring this much with no rival gets full confidence
    "confidence_full_at": 100,
    # share of its points that evidence keeps when another fact undermines it, and why
    "discounts": DISCOUNTS,
    "limits": {
        "hotlist_max_age_s": 172800,
        "host_contact_stale_s": 900,
        "timeouts_min": 2,
        "attempts_warn": 3,
        "attempts_high": 5,
        "chip_failures_fallback_min": 1,
        "chip_failures_reader_suspect": 3,
        "plausible_time_min": 1577836800,   # 2020-01-01: an RTC that lost power reads earlier
        "plausible_time_max": 2208988800,   # 2040-01-01: or one that jumped far ahead
    },
    "rules": RULES,
    "response_codes": RESPONSE_CODES,
    # codes that mean "this kind of transaction is not allowed": a non-sale type points at the operator
    "wrong_txn_codes": ("57", "58"),
    # EMV authorisation response codes the terminal makes itself (tag 8A): never a host's answer
    "terminal_codes": ("Y1", "Y3", "Z1", "Z3"),
    "actions": ACTIONS_BY,
    "remedies": REMEDIES_BY,
    "risk": RISK,
}
