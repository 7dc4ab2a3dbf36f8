// harness.js drives js/reconnect.js from Node for reconnectjs_test.go:
//
//   node harness.js URL OPTIONS_JSON
//
// The WebSocket is Node's own (undici) unless TORNAGO_WS_IMPL=ws asks for
// the ws npm package of websocket/testdata/node, which is also used when
// Node has none (before 20.10, or 20.x without --experimental-websocket).
//
// It prints one JSON line per event on stdout ({"event": "open"}, {"event":
// "message", "data": ...}, {"event": "close", "code": ...}, {"event":
// "reconnect"}, {"event": "connecting", "attempt": ..., "delay": ...}, and
// for the hub's wire protocol "joined", "notrecovered", "presence" and
// messages with "room" and "id") and
// takes commands on stdin, one per line: "send TEXT" and "close" (which
// also exits). On "reconnect" it sends "resync", as a page would.

"use strict";

// Node has EventTarget, Event and MessageEvent; the WebSocket events it
// lacks are plain Events with their fields.
for (const name of ["CloseEvent", "ErrorEvent"]) {
    if (typeof globalThis[name] === "undefined") {
        globalThis[name] = class extends Event {
            constructor(type, init) {
                super(type);
                Object.assign(this, init || {});
            }
        };
    }
}

if (process.env.TORNAGO_WS_IMPL === "ws" || typeof globalThis.WebSocket === "undefined") {
    globalThis.WebSocket = require("../../websocket/testdata/node/node_modules/ws");
}

const ReconnectingWebSocket = require("../reconnect.js");
const [url, optionsJSON] = process.argv.slice(2);
const ws = new ReconnectingWebSocket(url, JSON.parse(optionsJSON || "{}"));
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");

ws.onopen = () => out({event: "open"});
// Binary data (binaryType "arraybuffer") is printed as "bytes:1,2,3".
const text = (data) => data instanceof ArrayBuffer ? "bytes:" + Array.from(new Uint8Array(data)).join(",") : String(data);
ws.onmessage = (e) => out(e.room === undefined ? {event: "message", data: text(e.data)}
    : {event: "message", data: text(e.data), room: e.room, id: e.lastEventId});
ws.onjoined = (e) => out({event: "joined", room: e.detail.room, recovered: e.detail.recovered,
    position: e.detail.position});
ws.onnotrecovered = (e) => out({event: "notrecovered", room: e.detail.room, reason: e.detail.reason});
ws.onpresence = (e) => out({event: "presence", room: e.detail.room, kind: e.detail.kind, client: e.detail.client});
ws.onclose = (e) => out({event: "close", code: e.code, reason: e.reason});
ws.onconnecting = (e) => out({event: "connecting", attempt: e.detail.attempt, delay: e.detail.delay});
ws.addEventListener("reconnect", () => {
    out({event: "reconnect"});
    ws.send("resync");
});

let buf = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.startsWith("send ")) {
            out({event: "sent", ok: ws.send(line.slice(5))});
        } else if (line === "close") {
            ws.close();
            process.exit(0);
        }
    }
});
process.stdin.on("end", () => process.exit(0));
