"""The platform contract: everything a port provides to the core, in one place.

    lostcard_mpy/platform.py       MicroPython: LittleFS, micropython-lib requests, cryptolib
    lostcard_cpython/platform.py   CPython: fsynced files, httpx, pyca/cryptography

A port implements these shapes with classes and modules of its own (it need not subclass them);
tests/test_platform.py checks that both ports and the test fakes provide every method with this
arity. Documentation only: nothing on a terminal imports this module, and the bodies are
docstrings, which mpy-cross leaves out.

Errors: storage raises OSError (errno in args[0]); the network raises SyncError; a failed
authentication raises AuthenticationError. What else a hook raises is a bug in the port.
"""


class Platform:
    """What `Terminal(config, platform)` runs on (core/lostcard/terminal.py).

    `keep`: the names of the modules (sys.modules keys) that stay loaded when a phase ends: the
    packages, lostcard.errors, lostcard.terminal, and the port's terminal, platform and storage
    modules, which the Terminal holds between calls. Ignored when resident (docs/DEVICE.md).
    """

    keep = ()

    def crypto(self):
        """The crypto module (`Crypto`). Asked each time the queue opens to append (the store
        phase), so it may import on demand: only that phase loads the AES code."""

    def hmac(self):
        """A module with hmac_sha256 (as `Crypto`'s) for card tokens and acknowledgements, asked
        in the decide and sync phases; may be the crypto module where loading it costs nothing."""

    def storage(self, path):
        """The `Storage` of directory `path`, created if missing. Asked once, by Terminal()."""

    def transport(self, url):
        """A `Transport` to the collector at base URL `url`. Asked at each sync step that is
        due (once when resident); opens no connection."""

    def clock(self):
        """Seconds since the epoch, int or float. May be wrong, jump or go back: the queue stores
        it clamped to 0..2**32-1, and the Terminal never waits past its longest backoff."""

    def random_bytes(self, n):
        """`n` bytes from a cryptographically secure source: sync nonces (which must never
        repeat) and the jitter of retries."""


class Storage:
    """The queue's flat directory of files (docs/QUEUE.md, "Storage"). Names are short, without
    '/'; one queue writes a directory at a time. After a power cut or an error, each file holds
    what its last call that returned left, plus what a failed or cut call may have added."""

    def list(self):
        """The names in the directory, `*.tmp` left out; may be lazy, and callers read it to the
        end (a dropped listing can keep the directory open)."""

    def read(self, name):
        """The whole file as bytes; OSError (ENOENT, 2) if there is none."""

    def append(self, name, data):
        """Add `data` at the end of the file, creating it. Durable when it returns. On error or
        a cut the file may hold any prefix of `data`, or be left empty if it was new; a full
        flash raises OSError(ENOSPC, 28), which the queue answers by evicting and retrying."""

    def replace(self, name, data):
        """Make `data` the file's whole content: atomic and durable when it returns (after a cut,
        the old content or the new, never a mix). A full flash raises OSError(ENOSPC, 28)."""

    def remove(self, name):
        """Delete the file; durable when it returns."""


class Transport:
    """HTTP to the collector (docs/SYNC.md). Needs no TLS: records are sealed and
    acknowledgements MAC'd, and the caller verifies both."""

    def post(self, path, body):
        """POST `body` (CBOR bytes, a batch of ~1.5 KiB) to `path` under the base URL; return
        (HTTP status, reply bytes). Blocks at most for its timeout; reads at most a few hundred
        bytes of the reply (an acknowledgement is ~30), so a hostile server cannot fill the heap.
        Any network failure or broken reply raises SyncError, never anything else."""


class Aead:
    """AES-CCM-16-64-128 (COSE algorithm 10) under one 16-byte key (core/lostcard/cose.py)."""

    def seal(self, nonce, plaintext, aad):
        """Ciphertext || 8-byte tag of `plaintext`, authenticating `aad` too; `nonce` is 13
        bytes and never repeats under a key (keys.iv() sees to it)."""

    def open(self, nonce, sealed, aad):
        """The plaintext of `sealed`; AuthenticationError if it does not verify (another key,
        nonce or `aad`, altered bytes, too short to hold a tag)."""


class Crypto:
    """The shape of the crypto module a port passes as `crypto`: module-level functions."""

    @staticmethod
    def aead(key):
        """An `Aead` under `key`; ValueError unless it is 16 bytes."""

    @staticmethod
    def hmac_sha256(key, message):
        """HMAC-SHA256 (RFC 2104), 32 bytes, for a key of any length."""

    @staticmethod
    def hkdf_sha256(ikm, salt, info, length):
        """HKDF-SHA256 (RFC 5869), `length` bytes (at most 255 * 32); an empty salt means 32
        zero bytes."""
