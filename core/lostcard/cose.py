"""COSE_Encrypt0 (RFC 9052 §5.2) with AES-CCM-16-64-128 (COSE algorithm 10).

    COSE_Encrypt0 = [ protected : bstr .cbor {1: 10}, unprotected : {? 4: kid, 5: IV},
                      ciphertext : bstr ]                     ; tagged 16
    Enc_structure = [ "Encrypt0", protected, external_aad ]   ; the AEAD's associated data

`aead` is the platform's AES-CCM-16-64-128 under one key (Aead in lostcard/platform.py).
Nonce management is not here: callers pass the IV, derived by keys.iv() from the device and the
sequence number, so that one place owns the guarantee that it never repeats.
"""

from . import cbor
from .errors import AuthenticationError, CBORError

TAG = 16
ALG_AES_CCM_16_64_128 = 10
PROTECTED = b"\xa1\x01\x0a"  # {1: 10}, deterministic
IV_LEN = 13


def _aad(protected, external_aad):
    return cbor.encode(["Encrypt0", protected, external_aad])


def seal(aead, plaintext, iv, kid=None, external_aad=b""):
    """The tagged COSE_Encrypt0 message, deterministic CBOR."""
    if len(iv) != IV_LEN:
        raise ValueError("IV must be %d bytes" % IV_LEN)
    unprotected = {5: bytes(iv)}
    if kid is not None:
        unprotected[4] = bytes(kid)
    sealed = aead.seal(iv, plaintext, _aad(PROTECTED, external_aad))
    return cbor.encode(cbor.Tag(TAG, [PROTECTED, unprotected, sealed]))


def _fail(why):
    raise AuthenticationError("authentication failed: " + why)


def parse(message, decode=cbor.decode):
    """(protected, unprotected, ciphertext) of a COSE_Encrypt0, checked for shape only.

    Raises AuthenticationError for anything that is not an AES-CCM-16-64-128 COSE_Encrypt0.
    `decode` is the CBOR decoder (a port may pass a native one that keeps these rules).
    """
    try:
        item = decode(message)
    except CBORError as exc:
        _fail("not CBOR (%s)" % exc.args[0])
    if isinstance(item, cbor.Tag):
        if item.number != TAG:
            _fail("CBOR tag %d is not COSE_Encrypt0" % item.number)
        item = item.value
    if not isinstance(item, list) or len(item) != 3:
        _fail("not a COSE_Encrypt0 array")
    protected, unprotected, ciphertext = item
    if not isinstance(protected, bytes) or not isinstance(unprotected, dict) \
            or not isinstance(ciphertext, bytes):
        _fail("malformed COSE_Encrypt0")
    try:
        header = cbor.decode(protected) if protected else {}
    except CBORError:
        header = None
    if not isinstance(header, dict):
        _fail("malformed protected header")
    if 2 in header:  # crit: we understand no critical header parameters
        _fail("critical header parameters are not supported")
    alg = header.get(1, unprotected.get(1))
    if alg != ALG_AES_CCM_16_64_128 or (1 in header and 1 in unprotected):
        _fail("algorithm is not AES-CCM-16-64-128")
    iv = unprotected.get(5)
    if not isinstance(iv, bytes) or len(iv) != IV_LEN:
        _fail("missing or malformed IV")
    kid = unprotected.get(4)
    if kid is not None and not isinstance(kid, bytes):
        _fail("malformed kid")
    return protected, unprotected, ciphertext


def open(aead, message, external_aad=b"", parsed=None):
    """The plaintext of a COSE_Encrypt0 sealed under `aead`'s key; AuthenticationError if not.
    `parsed` is parse(message) when the caller has it already."""
    protected, unprotected, ciphertext = parsed or parse(message)
    return aead.open(unprotected[5], ciphertext, _aad(protected, external_aad))
