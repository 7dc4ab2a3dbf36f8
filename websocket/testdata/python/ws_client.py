"""A Python `websockets` client for tornago's interop tests.

Usage: ws_client.py MODE URL

  echo        send text and binary messages of every size in SIZES, check
              that each comes back intact with its type, then close with
              4002 "py-bye".
  wait-close  wait for the server to close the connection.

Each mode prints one JSON object on stdout describing what it saw; any
mismatch exits with status 1 and a message on stderr.
Written for websockets 10.4 (Debian bookworm): asyncio API only.
"""

import asyncio
import json
import sys
import time

import websockets

from payloads import SIZES, binary_payload, text_payload


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def close_info(exc):
    rcvd = exc.rcvd
    return {
        "code": rcvd.code if rcvd else None,
        "reason": rcvd.reason if rcvd else None,
    }


async def echo(url):
    async with websockets.connect(url, max_size=4 << 20, ping_interval=None) as ws:
        count = 0
        for make in (text_payload, binary_payload):
            for n in SIZES:
                msg = make(n)
                await ws.send(msg)
                got = await ws.recv()
                if type(got) is not type(msg):
                    fail(f"{make.__name__}({n}): echo is {type(got).__name__}, want {type(msg).__name__}")
                if got != msg:
                    fail(f"{make.__name__}({n}): echo differs (got {len(got)} items, want {len(msg)})")
                count += 1
        start = time.monotonic()
        await ws.close(code=4002, reason="py-bye")
        elapsed = time.monotonic() - start
        return {
            "echoed": count,
            "reply_code": ws.close_code,
            "reply_reason": ws.close_reason,
            "close_seconds": elapsed,
        }


async def wait_close(url):
    async with websockets.connect(url, ping_interval=None) as ws:
        try:
            msg = await ws.recv()
        except websockets.ConnectionClosed as exc:
            info = close_info(exc)
            info["ok"] = isinstance(exc, websockets.ConnectionClosedOK)
            return info
        fail(f"received a message instead of a close: {msg!r}")


def main():
    if len(sys.argv) != 3:
        fail(__doc__)
    mode, url = sys.argv[1], sys.argv[2]
    modes = {"echo": echo, "wait-close": wait_close}
    if mode not in modes:
        fail(f"unknown mode {mode!r}")
    result = asyncio.run(modes[mode](url))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
