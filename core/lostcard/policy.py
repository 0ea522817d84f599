"""The classification policy: every threshold, weight and code meaning, as versioned data.

A decision names the policy version it was made under, so the risk team can tell which rules a
stored incident went through. Networks disagree on some response codes (42 "stolen" at some
acquirers), so `override.with_overrides` lets a per-acquirer file replace entries of the response-code map;
the result carries its own version.

The tables are text (see table.py) to keep the policy small in a MicroPython heap, and its words
are in texts.txt, read from flash; checking a policy and applying overrides live in override.py,
which a terminal imports only if it needs them.
"""


from .table import here, load

try:  # firmware (`lostcard build-firmware`) freezes the words, generated, in ROM: no file to copy
    from .words import TEXTS  # type: ignore[import-not-found]
except ImportError:  # .mpy files on flash: texts.txt beside them
    TEXTS = load(here(__file__, "texts.txt"))

# rule|cause|points|subcause (each rule's explanation is in texts.txt)
RULES = (
    "\n"
    "chip_card_swiped|card_compromised|70|cloned_stripe\n"
    "fallback_without_chip_failure|card_compromised|55|cloned_stripe\n"
    "track_cvv_mismatch|card_compromised|60|cloned_stripe\n"
    "oda_failed|card_compromised|75|counterfeit_chip\n"
    "oda_not_performed|card_compromised|10|counterfeit_chip\n"
    "exception_file|card_compromised|80|terminal_hotlist\n"
    "issuer_auth_failed|card_compromised|35|issuer_auth_failed\n"
    "card_refused_offline|card_compromised|15|card_refused\n"
    "pan_luhn_failed|card_data_error|80|invalid_pan\n"
    "pan_length_invalid|card_data_error|70|invalid_pan\n"
    "expiry_invalid|card_data_error|70|invalid_expiry\n"
    "card_expired|card_data_error|60|expired_card\n"
    "tvr_expired_application|card_data_error|55|expired_card\n"
    "tvr_not_yet_effective|card_data_error|45|not_yet_effective\n"
    "keyed_cvv_mismatch|card_data_error|60|cvv_mismatch\n"
    "icc_data_missing|card_data_error|35|card_read_error\n"
    "stale_answer|network_fault|80|late_answer\n"
    "link_down|network_fault|55|link_down\n"
    "link_degraded|network_fault|30|link_unstable\n"
    "host_contact_stale|network_fault|20|link_unstable\n"
    "repeated_timeouts|network_fault|40|link_unstable\n"
    "stale_hotlist|network_fault|60|stale_hotlist\n"
    "hotlist_not_updated|device_fault|60|hotlist_not_updated\n"
    "no_host_answer|network_fault|40|host_unreachable\n"
    "online_request_unanswered|network_fault|25|host_unreachable\n"
    "floor_limit_offline|network_fault|25|host_unreachable\n"
    "clock_fault|device_fault|70|clock_fault\n"
    "clock_implausible|device_fault|70|clock_fault\n"
    "reader_fault|device_fault|70|reader_fault\n"
    "chip_reader_suspect|device_fault|30|reader_fault\n"
    "outdated_firmware|device_fault|50|outdated_firmware\n"
    "tamper|device_fault|85|tamper_detected\n"
    "config_error|device_fault|60|config_error\n"
    "training_mode|operator_error|80|training_mode\n"
    "forced_fallback|operator_error|65|forced_fallback\n"
    "repeated_attempts|operator_error|35|repeated_attempts\n"
    "excessive_attempts|operator_error|55|repeated_attempts\n"
    "wrong_txn_type|operator_error|50|wrong_txn_type\n"
    "watchlist_hit|card_compromised|70|watchlist\n"
)

# undermining fact|share of points kept (%) by the evidence it undermines (notes in texts.txt)
DISCOUNTS = (
    "\n"
    "stale_answer|20\n"
    "training_no_issuer|10\n"
    "bad_clock_expiry|10\n"
    "stale_hotlist|20\n"
    "unfit_terminal|20\n"
    "keyed_data_wrong|20\n"
    "issuer_pickup|30\n"
    "expiry_says_valid|20\n"
    "forced_fallback_swipe|30\n"
    "device_explains_offline|30\n"
    "own_list_explains_offline|30\n"
    "chip_attempts_unknown|60\n"
    "entry_mode_unknown|60\n"
)

# ISO 8583 field 39 or terminal ARC|rule|cause|points|subcause|flags|meaning
# flags: "e" = the code says the card is expired (undermined by a bad terminal clock),
# "p" = pick up the card (only the issuer's word justifies retaining it), "a" = the host's
# approval (arriving as a decline, an authorisation may stand at the issuer), "n" = the issuer
# will never approve (Visa category 1 with the pick-up codes: no retry with the same card)
RESPONSE_CODES = (
    "\n"
    "00|rc_approved|network_fault|40|answer_mismatch|a|approved\n"
    "Y1|rc_approved|network_fault|30|answer_mismatch||offline approved\n"
    "Y3|rc_approved|network_fault|30|answer_mismatch||unable to go online, offline approved\n"
    "04|rc_pickup|card_compromised|70|pickup_requested|p|pick up card\n"
    "05|rc_do_not_honour|card_compromised|25|issuer_decline||do not honour\n"
    "07|rc_fraud_pickup|card_compromised|90|fraud_pickup|p|pick up card, special condition (fraud)\n"
    "14|rc_invalid_card_number|card_data_error|70|invalid_pan||invalid card number\n"
    "15|rc_no_such_issuer|card_data_error|60|unknown_issuer|n|no such issuer\n"
    "33|rc_expired_pickup|card_data_error|60|expired_pickup|ep|expired card, pick up\n"
    "34|rc_fraud_pickup|card_compromised|85|fraud_pickup|p|suspected fraud, pick up\n"
    "41|rc_lost|card_compromised|90|reported_lost|p|lost card, pick up\n"
    "43|rc_stolen|card_compromised|95|reported_stolen|p|stolen card, pick up\n"
    "54|rc_expired|card_data_error|70|expired_card|e|expired card\n"
    "55|rc_incorrect_pin|card_data_error|60|wrong_pin||incorrect PIN\n"
    "57|rc_not_permitted_cardholder|operator_error|45|txn_not_permitted|n|transaction not permitted to cardholder\n"
    "58|rc_not_permitted_terminal|device_fault|45|config_error||transaction not permitted to terminal\n"
    "59|rc_suspected_fraud|card_compromised|80|suspected_fraud||suspected fraud\n"
    "62|rc_restricted|card_compromised|45|restricted_card|n|restricted card\n"
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
    "answer_mismatch|call_acquirer\n"
    "hotlist_not_updated|retry_online\n"
    "training_mode|retry_online\n"
    "device_fault|service_terminal\n"
    "operator_error|reenter_card\n"
    "repeated_attempts|return_card\n"
    "txn_not_permitted|return_card\n"
    "undetermined|call_acquirer\n"
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
    "answer_mismatch|medium|medium|low\n"
    "device_fault|low|high|low\n"
    "tamper_detected|high|high|medium\n"
    "operator_error|low|high|medium\n"
    "undetermined|medium|medium|low\n"
)

DEFAULT = {
    "version": "2026.11.2",
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
        # a watchlisted card seen compromised at this many terminals gets watchlist_hit's full
        # points; at fewer, their share (one terminal's sighting alone decides nothing)
        "watchlist_terminals_full": 3,
    },
    "rules": RULES,
    "response_codes": RESPONSE_CODES,
    # codes that mean "this kind of transaction is not allowed": a non-sale type points at the operator
    "wrong_txn_codes": ("57", "58"),
    # EMV authorisation response codes the terminal makes itself (tag 8A): never a host's answer
    "terminal_codes": ("Y1", "Y3", "Z1", "Z3"),
    "actions": ACTIONS_BY,
    # the words: explanations, notes, remedies and terminal texts (texts.txt)
    "texts": TEXTS,
    "risk": RISK,
}
