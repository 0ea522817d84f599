"""The platform contract: everything a port provides to the core, in one place.

    port_mpy/lostcard_mpy/platform.py          LittleFS, socket and tls, cryptolib
    port_cpython/lostcard_cpython/platform.py  fsynced files, httpx, pyca/cryptography

A port implements each shape below with classes or modules of its own. This module is that list
and nothing else: a docstring, which mpy-cross leaves out, so it costs a terminal no flash to
speak of and nothing imports it there. tests/test_platform.py reads the `.name(arguments)` lines
and checks that both ports and the test fakes provide each one, taking those arguments.

On failure, storage raises OSError (the errno in args[0]), the network SyncError, and a failed
authentication AuthenticationError: anything else a hook raises is a bug in the port.

Platform: what `Terminal(config, platform)` runs on (core/lostcard/terminal.py).
  .keep
      A tuple of the modules (sys.modules names) that stay loaded when a phase ends: the
      packages, lostcard.errors, lostcard.terminal, and the port's terminal, platform and storage
      modules, which the Terminal holds between calls. Unused when resident (docs/DEVICE.md).
  .crypto()
      The crypto module (Crypto). Asked each time the queue opens to append (the store phase),
      so it may import on demand: only that phase loads the AES code.
  .hmac()
      A module with Crypto's hmac_sha256, for card tokens and acknowledgements, asked in the
      decide and sync phases; it may be the crypto module where loading that costs nothing.
  .storage(path)
      The Storage of directory `path`, created if missing. Asked once, by Terminal().
  .transport(url, ca)
      A Transport to the collector at base URL `url`. Asked at each sync step that is due (once
      when resident); opens no connection. `ca` is the config's collector_ca (None if absent):
      the path of a PEM file, the CA (or the collector's own self-signed certificate) that an
      https collector's certificate must verify against, its host name too; without one the
      port's trust store, if it has one (a terminal has none: https needs collector_ca).
  .clock()
      Seconds since the epoch, int or float. May be wrong, jump or go back: the queue stores it
      clamped to 0..2**32-1, and the Terminal never waits past its longest backoff.
  .random_bytes(n)
      `n` bytes from a cryptographically secure source: sync nonces (which must never repeat)
      and the jitter of retries.

Storage: the queue's flat directory of files (docs/QUEUE.md, "Storage"). Names are short, without
'/'; one queue writes a directory at a time. After a power cut or an error, each file holds what
the calls that returned left, plus what a failed or cut call may have added.
  .list()
      The names in the directory, `*.tmp` left out. May be lazy; callers read it to the end (a
      dropped listing can keep the directory open).
  .read(name)
      The whole file as bytes; OSError (ENOENT, 2) if there is none.
  .append(name, data)
      Add `data` at the end of the file, creating it. Durable when it returns. On an error or a
      cut the file may hold any prefix of `data`, or be left empty if it was new. A full flash
      raises OSError (ENOSPC, 28), which the queue answers by evicting and retrying (LittleFS
      says ENAMETOOLONG, 36, when a full flash has no room for a new file's name: the queue's
      names are short, so it takes that as ENOSPC too).
  .replace(name, data)
      Make `data` the file's whole content: atomic and durable when it returns (after a cut, the
      old content or the new, never a mix). A full flash raises OSError (ENOSPC, 28).
  .read_at(name, offset, n)
      At most `n` bytes of the file from `offset` (fewer at its end, none past it); OSError
      (ENOENT, 2) if there is none. Lets a reader search a large file (the watchlist) without
      holding it in the heap.
  .reader(name)
      The file open for reading, as a context manager with `seek(offset)` and `readinto(buf)`
      (bytes read: fewer only at its end); OSError (ENOENT, 2) if there is none. A search that
      reads one file many times (the watchlist's, at every decline) opens it once and reads
      into one buffer: each open and each read's bytes cost the heap.
  .rename(old, new)
      The file `old` becomes `new`, replacing any file `new` in one step: atomic and durable when
      it returns (after a cut, `new` is the old file or the renamed one, never a mix, never
      missing if either existed). OSError (ENOENT, 2) if there is no `old`.
  .remove(name)
      Delete the file; durable when it returns.
  .free()
      Bytes the directory's file system can still take, as its own accounting says (statvfs:
      free blocks times their size, less what the file system keeps for itself), so the queue
      makes room before the flash is full. Optional: a storage without it, or whose free()
      raises OSError, is full only when a write raises ENOSPC.

Transport: HTTP or https to the collector (docs/SYNC.md). Records are sealed and
acknowledgements MAC'd, and the caller verifies both, so plain HTTP loses no incident; TLS keeps
the metadata private and proves the collector is the acquirer's.
  .post(path, body, limit)
      POST `body` (CBOR, a batch of ~1.5 KiB) to `path` under the base URL; return (HTTP status,
      reply bytes). Each network operation (connect, send, each read) waits at most the port's
      timeout, so a step blocks for a bounded time; reads at most `limit` bytes of the reply
      (default 256: an acknowledgement is ~30 bytes, a fetch reply with its chunk of an update
      ~1,060, and its caller passes ~1,100), so a hostile server cannot fill the heap. A 429
      raises SyncError("collector busy (429)", seconds): `seconds` the Retry-After header as an
      int clamped to 0..300, None if absent or not a number of seconds. Any network failure (a
      refused certificate included, its reason on one line) or broken reply raises
      SyncError(message), never anything else.

Aead: AES-CCM-16-64-128 (COSE algorithm 10) under one 16-byte key (core/lostcard/cose.py).
  .seal(nonce, plaintext, aad)
      Ciphertext || 8-byte tag of `plaintext`, authenticating `aad` too. `nonce` is 13 bytes and
      never repeats under a key (keys.iv() sees to it).
  .open(nonce, sealed, aad)
      The plaintext of `sealed`; AuthenticationError if it does not verify (another key, nonce or
      `aad`, altered bytes, too short to hold a tag).

Crypto: the crypto module a port passes as `crypto`: module-level functions.
  .aead(key)
      An Aead under `key`; ValueError unless it is 16 bytes.
  .hmac_sha256(key, message)
      HMAC-SHA256 (RFC 2104), 32 bytes, for a key of any length.
  .hkdf_sha256(ikm, salt, info, length)
      HKDF-SHA256 (RFC 5869), `length` bytes (at most 255 * 32); an empty salt means 32 zero
      bytes.
"""
