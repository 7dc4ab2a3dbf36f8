"""The BENCH.md echo and broadcast server written with Tornado 6.2.

Tornado is the framework tornago ports, so this is the porting baseline:
WebSocketHandler subclasses as Tornado's documentation and chat demo write
them, default check_origin (same origin), default max_message_size (10 MiB).

    python3 server.py -addr 127.0.0.1:0

prints "listening on HOST:PORT" once it accepts connections.
"""

import argparse
import asyncio
import socket
import sys

import tornado.httpserver
import tornado.netutil
import tornado.web
import tornado.websocket


class EchoHandler(tornado.websocket.WebSocketHandler):
    """GET /echo: every message back with its type; ?close=CODE&reason=TEXT
    closes right after the handshake."""

    def open(self):
        code = self.get_argument("close", None)
        if code is not None:
            self.close(int(code), self.get_argument("reason", ""))

    def on_message(self, message):
        try:
            self.write_message(message, binary=isinstance(message, bytes))
        except tornado.websocket.WebSocketClosedError:
            pass


class BroadcastHandler(tornado.websocket.WebSocketHandler):
    """GET /broadcast: every message to every client, the sender included."""

    clients = set()

    def open(self):
        BroadcastHandler.clients.add(self)

    def on_close(self):
        BroadcastHandler.clients.discard(self)

    def on_message(self, message):
        binary = isinstance(message, bytes)
        for client in list(BroadcastHandler.clients):
            try:
                client.write_message(message, binary=binary)
            except tornado.websocket.WebSocketClosedError:
                BroadcastHandler.clients.discard(client)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-addr", default="127.0.0.1:8888")
    args = parser.parse_args()
    host, _, port = args.addr.rpartition(":")
    app = tornado.web.Application([(r"/echo", EchoHandler), (r"/broadcast", BroadcastHandler)])
    sockets = tornado.netutil.bind_sockets(int(port), address=host, family=socket.AF_INET, backlog=4096)
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    bound = sockets[0].getsockname()
    print("listening on %s:%d" % (bound[0], bound[1]), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
