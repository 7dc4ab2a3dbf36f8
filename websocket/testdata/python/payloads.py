"""Payloads shared by the interop scripts: exact byte sizes, valid UTF-8 text
that mixes one- to four-byte characters, and reproducible binary data."""

import random

SIZES = [0, 125, 126, 65535, 65536, 1 << 20]

_CHARS = ["a", "\u00e9", "\u20ac", "\U0001F600", "z"]


def text_payload(n):
    """Return a str whose UTF-8 encoding is exactly n bytes long."""
    parts = []
    size = 0
    i = 0
    while size < n:
        c = _CHARS[i % len(_CHARS)]
        if size + len(c.encode()) > n:
            c = "x"
        parts.append(c)
        size += len(c.encode())
        i += 1
    return "".join(parts)


def binary_payload(n):
    """Return n pseudo-random bytes, the same for the same n."""
    return random.Random(n).randbytes(n)
