"""A Python `websockets` server with permessage-deflate for tornago's
compression interop tests.

Usage: deflate_server.py

Listens on 127.0.0.1, one free port per configuration below, and prints
"PORT <config> <n>" for each, then "READY". Every connection first receives
a text message: a JSON object describing the extension the server
negotiated (or null), then the server echoes every message with its type
until the client closes. Exits when its standard input closes.

Configurations (RFC 7692 parameters the server imposes on every client):
  default        websockets.serve's own default: server and client windows
                 of 12 bits, memLevel 5
  plain          permessage-deflate honouring the offer, imposing nothing
  server-limits  server_no_context_takeover, server_max_window_bits=9
  client-limits  client_no_context_takeover, client_max_window_bits=9
Written for websockets 10.4 (Debian bookworm): asyncio API only.
"""

import asyncio
import json
import sys

import websockets
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)

CONFIGS = {
    "default": {},
    "plain": {"extensions": [ServerPerMessageDeflateFactory()]},
    "server-limits": {
        "extensions": [
            ServerPerMessageDeflateFactory(
                server_no_context_takeover=True, server_max_window_bits=9
            )
        ]
    },
    "client-limits": {
        "extensions": [
            ServerPerMessageDeflateFactory(
                client_no_context_takeover=True, client_max_window_bits=9
            )
        ]
    },
}


def describe(extensions):
    """Return the negotiated permessage-deflate parameters, or None."""
    for ext in extensions:
        if isinstance(ext, PerMessageDeflate):
            return {
                "remote_no_context_takeover": ext.remote_no_context_takeover,
                "local_no_context_takeover": ext.local_no_context_takeover,
                "remote_max_window_bits": ext.remote_max_window_bits,
                "local_max_window_bits": ext.local_max_window_bits,
            }
    return None


async def handler(ws):
    info = describe(ws.extensions)
    info_msg = {
        "extension": info,
        "offer": ws.request_headers.get("Sec-WebSocket-Extensions"),
        "answer": ws.response_headers.get("Sec-WebSocket-Extensions"),
    }
    try:
        await ws.send(json.dumps(info_msg))
        async for msg in ws:
            await ws.send(msg)
    except websockets.ConnectionClosed:
        pass


async def main():
    loop = asyncio.get_running_loop()
    servers = []
    for name, kwargs in CONFIGS.items():
        server = await websockets.serve(
            handler, "127.0.0.1", 0, max_size=None, ping_interval=None, **kwargs
        )
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        print(f"PORT {name} {port}", flush=True)
    print("READY", flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    for server in servers:
        server.close()
        await server.wait_closed()


if __name__ == "__main__":
    asyncio.run(main())
