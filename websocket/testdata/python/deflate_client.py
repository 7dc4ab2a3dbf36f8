"""A Python `websockets` client with its default permessage-deflate offer,
for tornago's compression interop tests.

Usage: deflate_client.py URL

Connects with websockets.connect(URL) as it comes (whose default offer is
"permessage-deflate; client_max_window_bits"), sends every message in
MESSAGES and checks that each comes back intact with its type, then closes
with 1000. Prints one JSON object on stdout: how many messages were echoed,
the extension the client negotiated (ws.extensions) and the response header.
Any mismatch exits with status 1 and a message on stderr.
Written for websockets 10.4 (Debian bookworm): asyncio API only.
"""

import asyncio
import json
import random
import sys

import websockets
from websockets.extensions.permessage_deflate import PerMessageDeflate

from payloads import binary_payload, text_payload

WORDS = ["hello", "world", "room", "typing", "online", "tornago",
         "message", "status", "ok", "lunch", "h\u00e9llo", "\u20acuro"]


def chat(n, seed):
    """Return about n bytes of chat-like JSON lines as str (exactly n bytes
    of UTF-8: a character cut at the end is replaced by spaces)."""
    rng = random.Random(seed)
    lines = []
    size = 0
    while size < n:
        line = json.dumps({
            "type": rng.choice(WORDS), "room": f"r{rng.randrange(20)}",
            "user": f"u{rng.randrange(500)}",
            "text": f"{rng.choice(WORDS)} {rng.choice(WORDS)}",
            "ts": 1700000000 + rng.randrange(10**6),
        }, ensure_ascii=False) + "\n"
        lines.append(line)
        size += len(line.encode())
    data = "".join(lines).encode()[:n]
    text = data.decode(errors="ignore")
    return text + " " * (n - len(text.encode()))


def messages():
    """Compressible and incompressible text and binary, up to 1 MiB, some
    repeated so that context takeover has earlier messages to refer to."""
    out = [text_payload(0), text_payload(1), chat(127, 1), chat(128, 2)]
    for i in range(6):
        out.append(chat(300 + 700 * i, 10 + i))
    out.append(chat(300 + 700 * 2, 12))  # a repeat
    out += [
        chat(4096, 20), chat(4096, 20).encode(),
        text_payload(65536), binary_payload(65536),
        chat(40000, 21), chat(40000, 21).encode(),
        chat(1 << 20, 22), binary_payload(1 << 20), text_payload(1 << 20),
        chat(4096, 23),
    ]
    return out


def describe(extensions):
    for ext in extensions:
        if isinstance(ext, PerMessageDeflate):
            return {
                "remote_no_context_takeover": ext.remote_no_context_takeover,
                "local_no_context_takeover": ext.local_no_context_takeover,
                "remote_max_window_bits": ext.remote_max_window_bits,
                "local_max_window_bits": ext.local_max_window_bits,
            }
    return None


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


async def run(url):
    async with websockets.connect(url, max_size=None) as ws:
        count = 0
        for i, msg in enumerate(messages()):
            await ws.send(msg)
            got = await ws.recv()
            if type(got) is not type(msg):
                fail(f"message {i}: echo is {type(got).__name__}, want {type(msg).__name__}")
            if got != msg:
                fail(f"message {i}: echo differs ({len(got)} items back, {len(msg)} sent)")
            count += 1
        await ws.close(code=1000, reason="py-done")
        return {
            "echoed": count,
            "extension": describe(ws.extensions),
            "answer": ws.response_headers.get("Sec-WebSocket-Extensions"),
            "close_code": ws.close_code,
        }


def main():
    if len(sys.argv) != 2:
        fail(__doc__)
    print(json.dumps(asyncio.run(run(sys.argv[1]))), flush=True)


if __name__ == "__main__":
    main()
