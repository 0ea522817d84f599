"""The one exception tree of lostcard; ports translate their own errors into it."""


class LostcardError(Exception):
    """Root of every error lostcard raises on purpose."""


class PolicyError(LostcardError):
    """A policy or a per-acquirer override is malformed; raised when it is built, never mid-decision."""


class CBORError(LostcardError):
    """Input is not CBOR that lostcard accepts (truncated, malformed, non-shortest, too deep...)."""


class RecordError(LostcardError):
    """A sealed incident opened but is not a record this version understands."""


class AuthenticationError(LostcardError):
    """A sealed message did not open: tampered, truncated, wrong key, or not a COSE_Encrypt0.

    One error for every failure, as `cryptography`'s InvalidTag: callers cannot tell a forged tag
    from a damaged header, and need not.
    """


class SyncError(LostcardError):
    """An upload did not go through (network, collector, or an acknowledgement that did not
    verify). Nothing was forgotten; retry later."""


class ConfigError(LostcardError):
    """A terminal configuration that cannot work: said at construction, not mid-queue."""
