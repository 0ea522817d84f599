"""What the `lostcard` commands share: argument types and readers of secrets and messages."""

import argparse
import sys

from lostcard.errors import LostcardError


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


def read_secret(path):
    """The fleet secret from a file: hex text (as provisioning tools write it) or raw bytes."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        secret = bytes.fromhex(data.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        secret = data
    if len(secret) < 16:
        raise LostcardError("fleet secret in %s is shorter than 16 bytes" % path)
    return secret


def non_negative(text):
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
