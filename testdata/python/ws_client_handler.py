"""Drives a tornago WebSocketHandler with Python's `websockets` client.

Usage: ws_client_handler.py URL

The handler under test (websocket_handler_interop_test.go) greets with the
secure cookie it got back, or "new" and a Set-Cookie on the first visit;
echoes text and binary; and answers "close" with a close frame of its own.
The script prints one JSON object on stdout with what it saw.
"""

import asyncio
import json
import sys

import websockets


async def main(url):
    seen = {}
    async with websockets.connect(url) as ws:
        cookie = ws.response_headers.get("Set-Cookie", "")
        seen["set_cookie"] = cookie
        seen["first_greeting"] = await ws.recv()
    seen["first_close_code"] = ws.close_code

    # Send the cookie back, as a browser would.
    pair = cookie.split(";", 1)[0]
    async with websockets.connect(url, extra_headers={"Cookie": pair}) as ws:
        seen["second_greeting"] = await ws.recv()

        text = "héllo, wörld 😀"
        await ws.send(text)
        seen["text_echo_ok"] = (await ws.recv()) == text

        data = bytes(range(256)) * 300  # 75 KiB, a 64-bit length frame
        await ws.send(data)
        got = await ws.recv()
        seen["binary_echo_ok"] = isinstance(got, bytes) and got == data

        pong = await ws.ping(b"py")
        await asyncio.wait_for(pong, 5)
        seen["pong"] = True

        await ws.send("close")
        try:
            await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed:
            pass
        await ws.wait_closed()
        seen["close_code"] = ws.close_code
        seen["close_reason"] = ws.close_reason
    print(json.dumps(seen))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
