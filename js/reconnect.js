// reconnect.js: a WebSocket that reconnects by itself, served by tornago
// as tornago.ReconnectJS (see docs/deploy.md).
//
//   const ws = new ReconnectingWebSocket("/chatsocket", {minDelay: 500, maxDelay: 30000});
//   ws.onmessage = (e) => show(e.data);
//   ws.onreconnect = () => ws.send(JSON.stringify({since: lastID})); // resync
//
// It has WebSocket's shape (send, close, readyState, onopen, onmessage,
// onclose, onerror, addEventListener) and adds:
//
//   - reconnect after every close not asked for by close(), waiting
//     between attempts from minDelay doubling up to maxDelay (ms), each
//     delay jittered into its upper half so that the clients of a
//     restarted server do not return at once; the delay starts over after
//     a connection that stayed open for maxDelay or longer (one that
//     closes sooner counts as a failed attempt, so a flapping server is
//     not hammered);
//   - "reconnect" (onreconnect): fired when a connection opens after the
//     first, the place to resubscribe and fetch what was missed;
//   - "connecting" (onconnecting): fired before each attempt after the
//     first, with event.detail = {attempt, delay};
//   - a heartbeat (heartbeatInterval > 0): every heartbeatInterval ms the
//     script sends heartbeatMessage; when nothing at all has arrived within
//     heartbeatTimeout ms of it, the connection is taken for dead and
//     reopened. The server must answer the message with any message.
//     Server pings (tornago's WebSocketPingInterval) keep proxies from
//     cutting idle connections, but browsers answer them without telling
//     the page, so they cannot serve as the page's heartbeat;
//   - send() while disconnected queues up to maxQueued messages, sent in
//     order once a connection opens (and returns false when the queue is
//     full);
//   - relative URLs ("/chatsocket") resolved against the page, with wss:
//     under https:;
//   - an immediate attempt when the browser reports it is back online;
//   - recovery of what was missed (tornago's hub, docs/websocket.md
//     "History, recovery and presence"): frames of the hub's wire protocol
//     (text frames starting with {"tornago":) are taken out of the stream.
//     A publication is passed on as a "message" whose data is what was
//     published, with event.room and event.lastEventId ("epoch:offset")
//     set, and its position is kept per room (ws.positions); every later
//     connection sends the kept positions in the URL's tornago_since query
//     parameter, so that the server sends what was missed before anything
//     new. "joined" (onjoined, event.detail = {room, position, recovered})
//     ends each room's join; "notrecovered" (onnotrecovered, event.detail =
//     {room, reason}) says the server could not send everything missed
//     (history lost or too short, another server that cannot be sure), so
//     the page must reload its state; "presence" (onpresence,
//     event.detail = {room, kind: "join" or "leave", client}) reports
//     other clients joining and leaving. Option recover: false turns this
//     off (frames are passed on as they come); maxPositions (100, the
//     server's limit) bounds the rooms whose positions are kept.

(function (root) {
    "use strict";

    var defaults = {
        protocols: undefined,
        minDelay: 500,
        maxDelay: 30000,
        heartbeatInterval: 0,
        heartbeatMessage: "ping",
        heartbeatTimeout: 0, // 0: heartbeatInterval
        maxQueued: 100,
        binaryType: "blob",
        recover: true,
        maxPositions: 100
    };

    // The first bytes of a frame of the hub's wire protocol.
    var wirePrefix = '{"tornago":';

    // decodeBase64 turns a binary publication's "b64" into what binaryType
    // asks for.
    function decodeBase64(b64, binaryType) {
        var bin = atob(b64);
        var bytes = new Uint8Array(bin.length);
        for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
        return binaryType === "arraybuffer" ? bytes.buffer : new Blob([bytes]);
    }

    // wsURL resolves url against the page, turning http(s) into ws(s).
    function wsURL(url) {
        var base = typeof location !== "undefined" ? location.href : undefined;
        var u = new URL(url, base);
        if (u.protocol === "http:") u.protocol = "ws:";
        if (u.protocol === "https:") u.protocol = "wss:";
        return u.href;
    }

    class ReconnectingWebSocket extends EventTarget {
        constructor(url, options) {
            super();
            this.url = wsURL(url);
            this.options = Object.assign({}, defaults, options || {});
            this.onopen = null;
            this.onmessage = null;
            this.onclose = null;
            this.onerror = null;
            this.onreconnect = null;
            this.onconnecting = null;
            this.onjoined = null;
            this.onnotrecovered = null;
            this.onpresence = null;
            this.positions = {};   // room -> {epoch, offset}: the last publication seen
            this._ws = null;
            this._queue = [];
            this._attempt = 0;     // failed attempts since the last lasting connection
            this._openedAt = 0;    // when the current connection opened
            this._opened = false;  // some connection has opened
            this._stopped = false; // close() was called
            this._timer = null;    // the pending reconnect
            this._beat = null;     // the heartbeat interval
            this._deadline = null; // the timer of the heartbeat's answer
            this._online = this._online.bind(this);
            if (typeof root.addEventListener === "function") {
                root.addEventListener("online", this._online);
            }
            this._connect();
        }

        get readyState() {
            if (this._stopped) return WebSocket.CLOSED;
            return this._ws ? this._ws.readyState : WebSocket.CONNECTING;
        }

        get protocol() { return this._ws ? this._ws.protocol : ""; }
        get extensions() { return this._ws ? this._ws.extensions : ""; }
        get bufferedAmount() { return this._ws ? this._ws.bufferedAmount : 0; }

        // send sends data now if connected, else queues it; it returns
        // false if the message was dropped (queue full, or closed).
        send(data) {
            if (this._stopped) return false;
            if (this._ws && this._ws.readyState === WebSocket.OPEN) {
                this._ws.send(data);
                return true;
            }
            if (this._queue.length >= this.options.maxQueued) return false;
            this._queue.push(data);
            return true;
        }

        // close closes the connection for good: no reconnect follows.
        close(code, reason) {
            this._stopped = true;
            this._queue = [];
            clearTimeout(this._timer);
            this._stopHeartbeat();
            if (typeof root.removeEventListener === "function") {
                root.removeEventListener("online", this._online);
            }
            if (this._ws) this._ws.close(code === undefined ? 1000 : code, reason);
        }

        // reconnect drops the current connection (if any) and opens a new
        // one at once.
        reconnect() {
            if (this._stopped) return;
            clearTimeout(this._timer);
            this._drop(4000, "reconnect");
            this._attempt = 0;
            this._connect();
        }

        _emit(type, event) {
            var handler = this["on" + type];
            if (typeof handler === "function") handler.call(this, event);
            this.dispatchEvent(event);
        }

        _connect() {
            this._timer = null;
            var ws;
            try {
                ws = new WebSocket(this._connectURL(), this.options.protocols);
            } catch (err) {
                this._emit("error", new ErrorEvent("error", {error: err, message: String(err)}));
                this._schedule();
                return;
            }
            ws.binaryType = this.options.binaryType;
            this._ws = ws;
            var self = this;
            var opened = false;
            ws.onopen = function (event) {
                opened = true;
                self._openedAt = Date.now();
                var again = self._opened;
                self._opened = true;
                var queued = self._queue;
                self._queue = [];
                queued.forEach(function (data) { ws.send(data); });
                self._startHeartbeat(ws);
                self._emit("open", new Event("open"));
                if (again) self._emit("reconnect", new Event("reconnect"));
            };
            ws.onmessage = function (event) {
                clearTimeout(self._deadline); // any message answers the heartbeat
                self._deadline = null;
                if (self.options.recover && typeof event.data === "string" && event.data.startsWith(wirePrefix)) {
                    self._wire(JSON.parse(event.data), event.origin);
                    return;
                }
                self._emit("message", new MessageEvent("message", {data: event.data, origin: event.origin}));
            };
            ws.onerror = function () {
                self._emit("error", new Event("error"));
                // A failed attempt is followed by a close event in
                // browsers but not in every implementation (Node 20's
                // undici): end the attempt here, and ignore that close.
                if (!opened && self._ws === ws) {
                    ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
                    self._closed(1006, "", false);
                }
            };
            ws.onclose = function (event) {
                if (self._ws !== ws) return; // dropped already
                self._closed(event.code, event.reason, event.wasClean);
            };
        }

        // _connectURL is the URL of the next connection: url, with the
        // kept positions in tornago_since when there are any.
        _connectURL() {
            if (!this.options.recover || Object.keys(this.positions).length === 0) return this.url;
            var u = new URL(this.url);
            u.searchParams.set("tornago_since", JSON.stringify(this.positions));
            return u.href;
        }

        // _keep records the position of room, forgetting the room seen
        // longest ago beyond maxPositions (the server takes at most 100:
        // hub.MaxSinceRooms).
        _keep(room, position) {
            delete this.positions[room]; // re-added last: the most recent
            this.positions[room] = position;
            var rooms = Object.keys(this.positions);
            for (var i = 0; i < rooms.length - this.options.maxPositions; i++) delete this.positions[rooms[i]];
        }

        // _wire handles a frame of the hub's wire protocol.
        _wire(f, origin) {
            var position = {epoch: f.epoch, offset: f.offset};
            switch (f.tornago) {
            case "pub":
                this._keep(f.room, position);
                var data = f.b64 !== undefined ? decodeBase64(f.b64, this.options.binaryType) : (f.data || "");
                var event = new MessageEvent("message", {data: data, origin: origin, lastEventId: f.epoch + ":" + f.offset});
                event.room = f.room;
                this._emit("message", event);
                return;
            case "joined":
            case "gap":
                if (f.epoch) {
                    this._keep(f.room, position);
                } else {
                    delete this.positions[f.room]; // the server could not tell: start over
                }
                if (f.tornago === "joined") {
                    this._emit("joined", new CustomEvent("joined", {detail: {room: f.room, position: position, recovered: f.recovered}}));
                }
                if (f.recovered === false) {
                    this._emit("notrecovered", new CustomEvent("notrecovered", {detail: {room: f.room, reason: f.reason || ""}}));
                }
                return;
            case "join":
            case "leave":
                this._emit("presence", new CustomEvent("presence", {detail: {room: f.room, kind: f.tornago, client: f.client}}));
                return;
            }
        }

        // _closed reports the end of the current connection and plans the
        // next one.
        _closed(code, reason, wasClean) {
            this._ws = null;
            this._lasted();
            this._stopHeartbeat();
            this._emit("close", new CloseEvent("close", {code: code, reason: reason, wasClean: wasClean}));
            if (!this._stopped) this._schedule();
        }

        // _drop abandons the current connection without waiting for its
        // closing handshake, which a dead peer never completes.
        _drop(code, reason) {
            var ws = this._ws;
            if (!ws) return;
            ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
            try { ws.close(code, reason); } catch (err) { /* already closing */ }
            this._ws = null;
            this._lasted();
            this._stopHeartbeat();
            this._emit("close", new CloseEvent("close", {code: 1006, reason: reason, wasClean: false}));
        }

        // _lasted starts the backoff over if the connection that just ended
        // stayed open for maxDelay or longer.
        _lasted() {
            if (this._openedAt && Date.now() - this._openedAt >= this.options.maxDelay) this._attempt = 0;
            this._openedAt = 0;
        }

        _schedule() {
            var o = this.options;
            var d = Math.min(o.maxDelay, o.minDelay * Math.pow(2, this._attempt));
            var delay = Math.floor(d / 2 + Math.random() * d / 2);
            this._attempt++;
            this._emit("connecting", new CustomEvent("connecting", {detail: {attempt: this._attempt, delay: delay}}));
            this._timer = setTimeout(this._connect.bind(this), delay);
        }

        _online() {
            if (this._timer !== null && !this._stopped) {
                clearTimeout(this._timer);
                this._connect();
            }
        }

        _startHeartbeat(ws) {
            var o = this.options;
            if (!(o.heartbeatInterval > 0)) return;
            var timeout = o.heartbeatTimeout > 0 ? o.heartbeatTimeout : o.heartbeatInterval;
            var self = this;
            this._beat = setInterval(function () {
                if (self._ws !== ws) return;
                if (o.heartbeatMessage !== null) ws.send(o.heartbeatMessage);
                if (self._deadline !== null) return;
                self._deadline = setTimeout(function () {
                    if (self._ws !== ws) return;
                    self._drop(4000, "heartbeat timeout");
                    self._schedule();
                }, timeout);
            }, o.heartbeatInterval);
        }

        _stopHeartbeat() {
            clearInterval(this._beat);
            clearTimeout(this._deadline);
            this._beat = null;
            this._deadline = null;
        }
    }

    ReconnectingWebSocket.CONNECTING = 0;
    ReconnectingWebSocket.OPEN = 1;
    ReconnectingWebSocket.CLOSING = 2;
    ReconnectingWebSocket.CLOSED = 3;

    root.ReconnectingWebSocket = ReconnectingWebSocket;
    if (typeof module === "object" && module.exports) module.exports = ReconnectingWebSocket;
})(typeof self !== "undefined" ? self : this);
