"""What the `lostcard` commands share: argument types that refuse bad values at parse time (one
line, exit 2), the fleet-secret options and readers of messages."""

import argparse
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


def add_secret(p, what):
    p.add_argument("--fleet-secret-file", required=True,
                   help="%s: a file of hex digits, as `lostcard keygen` writes" % what)
    p.add_argument("--raw-secret", action="store_true",
                   help="the file holds the secret as raw bytes, not hex")


def read_secret(args):
    return fleet_secret.read(args.fleet_secret_file, args.raw_secret)


def _number(text, kind):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number: %r" % text) from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError("must be a finite number: %r" % text)
    return value


def wait_seconds(text):
    value = _number(text, float)
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError("must be from 0 to 3600 seconds: %r" % text)
    return value


def seconds(text):
    value = _number(text, float)
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 3600 seconds: %r" % text)
    return value


def positive(text):
    value = _number(text, int)
    if not 1 <= value <= 1 << 31:
        raise argparse.ArgumentTypeError("must be from 1 to 2**31: %r" % text)
    return value


def port(text):
    value = _number(text, int)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("a TCP port is 0 to 65535: %r" % text)
    return value


def unix_time(text):
    value = _number(text, int)
    if not 0 <= value < 1 << 63:  # what SQLite's integers hold
        raise argparse.ArgumentTypeError("a unix time is 0 or more, in seconds: %r" % text)
    return value


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
