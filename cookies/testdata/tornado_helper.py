"""Runs real Tornado for the cookies package tests.

    python3 tornado_helper.py vectors   print test vectors (JSON) made by Tornado
    python3 tornado_helper.py decode    decode a JSON batch from stdin with Tornado
    python3 tornado_helper.py serve     serve Tornado apps that set and read
                                        secure cookies; print their ports; exit
                                        when stdin closes

Only Tornado's public module functions and RequestHandler methods are used,
plus its private _create_signature_v1/_v2 to sign crafted (unusual but
correctly signed) values for the decode vectors.
"""

import asyncio
import base64
import json
import logging
import sys

import tornado
import tornado.httpserver
import tornado.netutil
import tornado.web
from tornado.web import (
    _create_signature_v1,
    _create_signature_v2,
    create_signed_value,
    decode_signed_value,
)

logging.getLogger("tornado").setLevel(logging.CRITICAL)

CLOCK = 1300000000
DAY = 86400


def secret_arg(s):
    """JSON secrets: a string, or an object of version -> secret."""
    if isinstance(s, dict):
        return {int(k): v for k, v in s.items()}
    return s


def decode_one(c):
    clock = c.get("clock", CLOCK)
    try:
        out = decode_signed_value(
            secret_arg(c["secret"]),
            c["name"],
            c["signed"],
            max_age_days=c.get("max_age_days", 31),
            clock=lambda: clock,
            min_version=c.get("min_version"),
        )
    except Exception as e:  # Tornado raises on some signed but odd values
        return {"raises": type(e).__name__}
    if out is None:
        return {"rejected": True}
    return {"ok_hex": out.hex()}


def sign_v2(secret, key_version, ts, name, b64):
    def field(s):
        return b"%d:%s" % (len(s), s)

    to_sign = b"|".join(
        [b"2", field(key_version), field(ts), field(name), field(b64), b""]
    )
    return (to_sign + _create_signature_v2(secret, to_sign)).decode("latin-1")


def sign_v1(secret, name, b64, ts):
    return (b64 + b"|" + ts + b"|" + _create_signature_v1(secret, name, b64, ts)).decode(
        "latin-1"
    )


def vectors():
    rotation = {"0": "secret", "1": "newsecret"}
    encode_cases = [
        ("v2", "secret", None, 2, "name", b"value"),
        ("v1", "secret", None, 1, "name", b"value"),
        ("v2 rotation key 1", rotation, 1, 2, "name", b"value"),
        ("v2 rotation key 0", rotation, 0, 2, "name", b"value"),
        ("v2 non-ASCII", "secret", None, 2, "name", "h\u00e9llo w\u00f6rld \u2603 \u65e5\u672c"),
        ("v1 non-ASCII", "secret", None, 1, "name", "h\u00e9llo w\u00f6rld \u2603 \u65e5\u672c"),
        ("v2 binary", "secret", None, 2, "name", bytes(range(256))),
        ("v1 binary", "secret", None, 1, "name", bytes(range(256))),
        ("v2 empty", "secret", None, 2, "name", b""),
        ("v1 empty", "secret", None, 1, "name", b""),
        ("v2 name with separators", "secret", None, 2, "a|b:c", b"value"),
        ("v2 long", "newsecret", None, 2, "session", b"x" * 3000),
    ]
    encode = []
    for case, secret, key_version, version, name, value in encode_cases:
        signed = create_signed_value(
            secret_arg(secret),
            name,
            value,
            version=version,
            clock=lambda: CLOCK,
            key_version=key_version,
        )
        raw = value.encode("utf-8") if isinstance(value, str) else value
        encode.append(
            {
                "case": case,
                "secret": secret,
                "key_version": key_version,
                "version": version,
                "name": name,
                "value_hex": raw.hex(),
                "signed": signed.decode("latin-1"),
            }
        )

    def v2(value=b"value", secret="secret", ts=CLOCK, name="name", kv=0):
        ts_b = ts if isinstance(ts, bytes) else str(ts).encode()
        kv_b = kv if isinstance(kv, bytes) else str(kv).encode()
        return sign_v2(secret, kv_b, ts_b, name.encode(), base64.b64encode(value))

    def v1(value=b"value", secret="secret", ts=CLOCK, name="name"):
        ts_b = ts if isinstance(ts, bytes) else str(ts).encode()
        return sign_v1(secret, name, base64.b64encode(value), ts_b)

    good2 = v2()
    good1 = v1()
    sig_at = good2.rindex("|") + 1
    # A v1 value whose base64 ends in a digit, with that digit moved into
    # the timestamp (and back): the signature still matches.
    v1_digit = v1(value=b"\x00\x00\x35")  # "AAA1|1300000000|..."
    v1_zero = v1(value=b"\x00\x00\x34")  # "AAA0|1300000000|..."
    b64_1000 = base64.b64decode(b"1000")  # v1 value that looks like version 1000
    decode_cases = [
        ("v2 valid", "secret", "name", good2, {}),
        ("v1 valid", "secret", "name", good1, {}),
        ("v2 rotation key 1", rotation, "name", v2(secret="newsecret", kv=1), {}),
        ("v2 rotation old key 0", rotation, "name", v2(kv=0), {}),
        ("v2 tampered value", "secret", "name", good2.replace("dmFsdWU=", "dmFsdWX="), {}),
        ("v2 tampered signature", "secret", "name",
         good2[:sig_at] + ("0" if good2[sig_at] != "0" else "1") + good2[sig_at + 1:], {}),
        ("v2 truncated signature", "secret", "name", good2[:-1], {}),
        ("v2 missing signature", "secret", "name", good2[:sig_at], {}),
        ("v2 wrong secret", "secret", "name", v2(secret="other"), {}),
        ("v2 unknown key version", rotation, "name", v2(secret="x", kv=7), {}),
        ("v2 wrong name", "secret", "other", good2, {}),
        ("v2 expired", "secret", "name", good2, {"clock": CLOCK + 31 * DAY + 1}),
        ("v2 at max age", "secret", "name", good2, {"clock": CLOCK + 31 * DAY}),
        ("v2 expired max age 1 day", "secret", "name", good2, {"clock": CLOCK + 2 * DAY, "max_age_days": 1}),
        ("v2 future timestamp", "secret", "name", v2(ts=CLOCK + 100 * DAY), {}),
        ("v2 min version 2", "secret", "name", good2, {"min_version": 2}),
        ("v2 malformed length", "secret", "name", "2|x:0|" + good2[6:], {}),
        ("v2 truncated", "secret", "name", good2[:30], {}),
        ("v2 newline inside", "secret", "name", good2[:12] + "\n" + good2[12:], {}),
        ("v2 empty payload", "secret", "name", v2(value=b""), {}),
        ("v2 binary payload", "secret", "name", v2(value=bytes(range(256))), {}),
        ("v2 leading zero length (signed)", "secret", "name", None, {"resign_v2": "2|01:0|10:1300000000|4:name|8:dmFsdWU=|"}),
        ("v2 bad base64 (signed)", "secret", "name", None, {"resign_v2": "2|1:0|10:1300000000|4:name|4:!!!!|"}),
        ("v2 plain secret other key version", "secret", "name", v2(kv=5), {}),
        ("v1 expired", "secret", "name", good1, {"clock": CLOCK + 31 * DAY + 1}),
        ("v1 wrong name", "secret", "other", good1, {}),
        ("v1 wrong secret", "secret", "name", v1(secret="other"), {}),
        ("v1 tampered", "secret", "name", good1.replace("dmFsdWU=", "dmFsdWX="), {}),
        ("v1 future timestamp", "secret", "name", v1(ts=CLOCK + 32 * DAY), {}),
        ("v1 future within 31 days", "secret", "name", v1(ts=CLOCK + 30 * DAY), {}),
        ("v1 leading zero timestamp", "secret", "name", v1(ts=b"0" + str(CLOCK).encode()), {}),
        ("v1 digit moved into timestamp", "secret", "name", v1_digit.replace("AAA1|", "AAA|1", 1), {}),
        ("v1 zero moved into timestamp", "secret", "name", v1_zero.replace("AAA0|", "AAA|0", 1), {}),
        ("v1 digit moved into value", "secret", "name", v1_digit.replace("AAA1|1", "AAA11|", 1), {}),
        ("v1 version-like base64", "secret", "name", v1(value=b64_1000), {}),
        ("v1 min version 2", "secret", "name", good1, {"min_version": 2}),
        ("v1 with rotation secrets", rotation, "name", good1, {}),
        ("v1 with one-key dict secret", {"0": "secret"}, "name", good1, {}),
        ("v1 two fields", "secret", "name", "dmFsdWU=|1300000000", {}),
        ("version 3", "secret", "name", "3|" + good2[2:], {}),
        ("empty", "secret", "name", "", {}),
    ]
    decode = []
    for case, secret, name, signed, opts in decode_cases:
        opts = dict(opts)
        resign = opts.pop("resign_v2", None)
        if resign is not None:
            signed = resign + _create_signature_v2("secret", resign.encode()).decode()
        c = {"case": case, "secret": secret, "name": name, "signed": signed}
        c.update(opts)
        c["tornado"] = decode_one(c)
        decode.append(c)
    json.dump(
        {"tornado_version": tornado.version, "clock": CLOCK, "encode": encode, "decode": decode},
        sys.stdout,
        indent=1,
        ensure_ascii=True,
    )
    sys.stdout.write("\n")


def decode_batch():
    batch = json.load(sys.stdin)
    json.dump([decode_one(c) for c in batch], sys.stdout)


class SetHandler(tornado.web.RequestHandler):
    def get(self):
        value = bytes.fromhex(self.get_argument("hex"))
        version = int(self.get_argument("version", "2"))
        self.set_secure_cookie(self.get_argument("name"), value, version=version)
        self.write("set")


class GetHandler(tornado.web.RequestHandler):
    def get(self):
        mv = self.get_argument("min_version", None)
        out = self.get_secure_cookie(
            self.get_argument("name"), min_version=int(mv) if mv else None
        )
        if out is None:
            self.set_status(403)
            self.write("rejected")
            return
        self.write(out.hex())


async def serve():
    apps = {
        "plain": {"cookie_secret": "secret"},
        "rotated": {"cookie_secret": {0: "secret", 1: "newsecret"}, "key_version": 1},
    }
    ports = {}
    for label, settings in apps.items():
        app = tornado.web.Application([("/set", SetHandler), ("/get", GetHandler)], **settings)
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        tornado.httpserver.HTTPServer(app).add_sockets(sockets)
        ports[label] = sockets[0].getsockname()[1]
    print(json.dumps(ports), flush=True)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(sys.stdin.fileno(), lambda: sys.stdin.buffer.read1(4096) or done.set())
    await done.wait()


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "vectors":
        vectors()
    elif cmd == "decode":
        decode_batch()
    elif cmd == "serve":
        asyncio.run(serve())
    else:
        sys.exit(__doc__)
