"""A Python `websockets` server for tornago's interop tests.

Usage: ws_server.py

Listens on 127.0.0.1 on a free port and prints "PORT <n>" when ready.
Paths:
  /echo   echo every message with its type until the client closes.
  /close  close at once with 4005 "py-server-bye".
When a connection ends it prints one JSON line: the path and the close
code and reason that the client sent (echo) or sent back (close).
Exits when its standard input closes.
Written for websockets 10.4 (Debian bookworm): asyncio API only.
"""

import asyncio
import json
import sys

import websockets


def report(**fields):
    print(json.dumps(fields), flush=True)


async def handler(ws):
    if ws.path == "/echo":
        try:
            async for msg in ws:
                await ws.send(msg)
        except websockets.ConnectionClosed:
            pass
        report(path=ws.path, code=ws.close_code, reason=ws.close_reason)
    elif ws.path == "/close":
        await ws.close(code=4005, reason="py-server-bye")
        report(path=ws.path, code=ws.close_code, reason=ws.close_reason)
    else:
        await ws.close(code=1008, reason="unknown path")


async def main():
    loop = asyncio.get_running_loop()
    async with websockets.serve(handler, "127.0.0.1", 0, max_size=4 << 20, ping_interval=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)
        await loop.run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main())
