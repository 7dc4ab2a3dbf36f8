// The page side of notify: one WebSocket per tab on /notifications, which
// sends {"unread": N} first and then {"text": ..., "unread": N} for each
// notification; reconnects with backoff; "Mark all read" posts /read.

"use strict";

var retryDelay = 1000;

function connect() {
    // wss: under https, where a ws: URL would be blocked as mixed content.
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/notifications";
    var socket = new WebSocket(url);
    socket.onopen = function () {
        retryDelay = 1000;
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
    socket.onclose = function (event) {
        // A refused handshake (401 once the sign-in expired) looks like
        // close code 1006 here; the page reload sends the user to /login.
        if (event.code === 1006 && !event.wasClean && retryDelay > 8000) {
            location.reload();
            return;
        }
        setStatus("reconnecting…");
        setTimeout(connect, retryDelay);
        retryDelay = Math.min(retryDelay * 2, 30000);
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
