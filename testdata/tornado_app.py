"""A Tornado 6 application the root package's tests compare tornago with.

    python3 tornado_app.py     serve on 127.0.0.1, print the port, exit when
                               stdin closes

cookie_secret is "secret" and xsrf_cookies is on (the /xsrf POST checks it;
the other handlers opt out by overriding check_xsrf_cookie).
"""

import asyncio
import json
import logging
import sys

import tornado.httpserver
import tornado.netutil
import tornado.web

logging.getLogger("tornado").setLevel(logging.CRITICAL)


class NoXSRF(tornado.web.RequestHandler):
    def check_xsrf_cookie(self):
        pass


class SetCookie(NoXSRF):
    def get(self):
        self.set_secure_cookie(self.get_argument("name"), self.get_argument("value"))


class GetCookie(NoXSRF):
    def get(self):
        v = self.get_secure_cookie(self.get_argument("name"))
        if v is None:
            raise tornado.web.HTTPError(403)
        self.write(v)


class XSRF(tornado.web.RequestHandler):
    def get(self):
        self.write(self.xsrf_token)

    def post(self):
        self.write("ok")


class Arg(NoXSRF):
    def get(self):
        self.write(json.dumps(self.get_arguments("a")))

    def post(self):
        self.write(json.dumps(self.get_arguments("a")))


class Error(NoXSRF):
    def get(self, code):
        raise tornado.web.HTTPError(int(code), "a log message")


class Missing(NoXSRF):
    def get(self):
        self.get_argument("name")


class GetOnly(NoXSRF):
    def get(self):
        self.write("x")


async def main():
    app = tornado.web.Application(
        [
            (r"/set", SetCookie),
            (r"/get", GetCookie),
            (r"/xsrf", XSRF),
            (r"/arg", Arg),
            (r"/error/(\d+)", Error),
            (r"/missing", Missing),
            (r"/getonly", GetOnly),
        ],
        cookie_secret="secret",
        xsrf_cookies=True,
    )
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    print(sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    server.stop()


asyncio.run(main())
