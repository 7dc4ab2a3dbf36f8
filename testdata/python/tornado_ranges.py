"""Asks Tornado's StaticFileHandler for one file with each Range header.

Usage: tornado_ranges.py DIR FILE < headers.json

Serves DIR with tornado.web.StaticFileHandler on 127.0.0.1, GETs /FILE once
per Range header of the JSON list on stdin over HTTP, and prints a JSON list
of {"status", "content_range", "body"} in the same order: Tornado's own
verdicts, which static_range_interop_test.go compares tornago's with.
"""

import asyncio
import json
import logging
import sys

import tornado.httpclient
import tornado.httpserver
import tornado.netutil
import tornado.web

logging.getLogger("tornado").setLevel(logging.CRITICAL)


async def main(root, name, headers):
    app = tornado.web.Application([(r"/(.*)", tornado.web.StaticFileHandler, {"path": root})])
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    url = "http://127.0.0.1:%d/%s" % (sockets[0].getsockname()[1], name)
    client = tornado.httpclient.AsyncHTTPClient()
    out = []
    for h in headers:
        resp = await client.fetch(url, headers={"Range": h}, raise_error=False)
        out.append(
            {
                "status": resp.code,
                "content_range": resp.headers.get("Content-Range", ""),
                "body": resp.body.decode("latin-1"),
            }
        )
    server.stop()
    print(json.dumps(out))


asyncio.run(main(sys.argv[1], sys.argv[2], json.load(sys.stdin)))
