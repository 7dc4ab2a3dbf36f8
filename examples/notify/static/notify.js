// The page side of notify: one WebSocket per tab on /notifications, which
// sends {"unread": N} first and then {"text": ..., "unread": N} for each
// notification; reconnects by itself (tornago's reconnect.js), which
// sends the position of the last notification it saw so that those
// published meanwhile arrive first, once each, on whichever server it
// reaches; when they cannot ("notrecovered": history lost, or older than
// the server keeps) the page reloads. "Mark all read" posts /read.

"use strict";

function connect() {
    // tornago's ReconnectingWebSocket (/reconnect.js): reconnects with
    // backoff and jitter, builds a wss: URL under https, and recovers the
    // notifications missed while away (the hub's wire protocol). The
    // server sends the unread count on every connection.
    var socket = new ReconnectingWebSocket("/notifications", {minDelay: 1000, maxDelay: 30000});
    socket.onnotrecovered = function () {
        // Some notifications could not be recovered: start over.
        location.reload();
    };
    socket.onopen = function () {
        setStatus("");
    };
    socket.onmessage = function (event) {
        var push = JSON.parse(event.data);
        document.getElementById("unread").textContent = push.unread;
        if (push.unread === 0) {
            document.querySelectorAll("#notifications li.new").forEach(function (li) {
                li.classList.remove("new");
            });
        }
        if (push.text) {
            var li = document.createElement("li");
            li.className = "new";
            li.textContent = push.text; // text, never HTML
            var list = document.getElementById("notifications");
            list.insertBefore(li, list.firstChild);
        }
    };
    socket.onclose = function () {
        setStatus("reconnecting…");
    };
    socket.onconnecting = function (event) {
        // A refused handshake (401 once the sign-in expired) looks like a
        // lost connection here; after a few attempts, reloading the page
        // sends the user to /login if that is the reason.
        if (event.detail.attempt > 4) {
            location.reload();
        }
    };
}

function setStatus(text) {
    document.getElementById("status").textContent = text;
}

document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("readform");
    form.addEventListener("submit", function (event) {
        event.preventDefault();
        // The form's _xsrf field goes with the body, as with a plain post.
        fetch(form.action, {method: "POST", body: new URLSearchParams(new FormData(form))});
    });
    connect();
});
