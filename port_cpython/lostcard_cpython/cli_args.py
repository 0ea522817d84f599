"""What the `lostcard` commands share: argument types that refuse bad values at parse time (one
line, exit 2), the fleet-secret options, readers of messages and the success line."""

import argparse
import logging
import math
import re
import sys

from . import fleet_secret

HOST = re.compile(r"[A-Za-z0-9._:%-]+")  # a name, IPv4, or IPv6 (urlsplit drops the brackets)


def read_message(source):
    """One COSE message from a file or stdin, as binary or as hex text."""
    if source in (None, "-"):
        data = sys.stdin.buffer.read()
    else:
        with open(source, "rb") as f:
            data = f.read()
    text = data.strip()
    try:
        return bytes.fromhex(text.decode("ascii")) if text else data
    except (UnicodeDecodeError, ValueError):
        return data


def read_cose(source):
    """read_message, refusing at once what is not CBOR at all (empty, text, a database): bad
    input, not a message that failed to authenticate."""
    from lostcard import cbor
    from lostcard.errors import CBORError, LostcardError

    message = read_message(source)
    try:
        cbor.decode(message)
    except CBORError as exc:
        raise LostcardError("%s: not a COSE message (not CBOR: %s)"
                            % ("standard input" if source in (None, "-") else source, exc)) from None
    return message


def done(message):
    """A command's success line on stderr, at info level: -q or --log-level warning silence it.
    Plain, without the log lines' time and level: it is the command's answer, not a diagnostic."""
    if logging.getLogger("lostcard").isEnabledFor(logging.INFO):
        print(message, file=sys.stderr)


def add_secret(p, what):
    p.add_argument("--fleet-secret-file", required=True,
                   help="%s: a file of hex digits, as `lostcard keygen` writes" % what)
    p.add_argument("--raw-secret", action="store_true",
                   help="the file holds the secret as raw bytes, not hex")


def read_secret(args):
    return fleet_secret.read(args.fleet_secret_file, args.raw_secret)


def _in_range(kind, ok, words):
    """An argument type: a number of `kind` (finite, if a float) for which `ok` holds."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError("not a number: %r" % text) from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError("must be a finite number: %r" % text)
        if not ok(value):
            raise argparse.ArgumentTypeError("%s: %r" % (words, text))
        return value
    return parse


wait_seconds = _in_range(float, lambda v: 0 <= v <= 3600, "must be from 0 to 3600 seconds")
seconds = _in_range(float, lambda v: 0 < v <= 3600, "must be more than 0 and at most 3600 seconds")
# a request cannot succeed in less: a smaller --timeout only turns every attempt into a failure
timeout = _in_range(float, lambda v: 0.1 <= v <= 3600, "must be from 0.1 to 3600 seconds")
positive = _in_range(int, lambda v: 1 <= v <= 1 << 31, "must be from 1 to 2**31")
port = _in_range(int, lambda v: 0 <= v <= 65535, "a TCP port is 0 to 65535")


def watch(text):
    """VERSION:TERMINALS, a watchlist hit as a terminal passes it to classify: the version of a
    published watchlist (1..2**32-1, as its object header holds it) and the terminals that saw
    the card compromised (1..255, as a watchlist entry holds it)."""
    found = re.fullmatch(r"([0-9]{1,10}):([0-9]{1,3})", text)
    version, terminals = (int(n) for n in found.groups()) if found else (0, 0)
    if not (1 <= version < 1 << 32 and 1 <= terminals <= 255):
        raise argparse.ArgumentTypeError("want VERSION:TERMINALS, a version 1..4294967295 and "
                                         "1..255 terminals: %r" % text)
    return version, terminals


def collector_url(text):
    """An http(s) URL with a plausible host and port: retrying cannot fix any other."""
    from urllib.parse import urlsplit

    try:
        url = urlsplit(text)
        host, port_ = url.hostname, url.port  # .port raises ValueError for a bad port
    except ValueError as exc:
        raise argparse.ArgumentTypeError("not a URL: %r (%s)" % (text, exc)) from None
    if url.scheme not in ("http", "https") or not host:
        raise argparse.ArgumentTypeError("want http://HOST[:PORT] or https://...: %r" % text)
    if not HOST.fullmatch(host) or port_ == 0:
        raise argparse.ArgumentTypeError("not a usable host and port: %r" % text)
    return text
