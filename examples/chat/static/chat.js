// The page side of the chat, as Tornado's demos/websocket/static/chat.js,
// without jQuery: the form's fields go to /chatsocket as JSON, and every
// message that comes back is appended to #inbox once.

"use strict";

document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("messageform");
    form.addEventListener("submit", function (event) {
        event.preventDefault();
        newMessage(form);
    });
    document.getElementById("message").select();
    updater.start();
});

// newMessage sends the form's fields ({"body": ..., "_xsrf": ...}) and
// clears the input.
function newMessage(form) {
    var message = formToDict(form);
    updater.socket.send(JSON.stringify(message));
    var input = form.querySelector("input[type=text]");
    input.value = "";
    input.select();
}

function formToDict(form) {
    var json = {};
    new FormData(form).forEach(function (value, name) {
        json[name] = value;
    });
    delete json.next;
    return json;
}

var updater = {
    socket: null,

    start: function () {
        // Same scheme family as the page: wss: under https, where a ws:
        // URL would be blocked as mixed content (Tornado's demo always
        // uses ws:).
        var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/chatsocket";
        // ReconnectingWebSocket (/reconnect.js, tornago.ReconnectJS)
        // reopens the socket after a server restart or a network drop, with
        // backoff; the demo's plain WebSocket stayed closed until reload.
        updater.socket = new ReconnectingWebSocket(url);
        updater.socket.onmessage = function (event) {
            updater.showMessage(JSON.parse(event.data));
        };
        updater.socket.onreconnect = updater.resync;
    },

    // resync adds the messages that were posted while the socket was down,
    // from a fresh copy of the page, each in its place in the server's order.
    resync: function () {
        fetch(location.href, {credentials: "same-origin"}).then(function (response) {
            return response.text();
        }).then(function (html) {
            var fresh = new DOMParser().parseFromString(html, "text/html");
            var inbox = document.getElementById("inbox");
            var next = null; // the node that follows, walking backwards
            Array.from(fresh.querySelectorAll("#inbox .message")).reverse().forEach(function (node) {
                var have = document.getElementById(node.id);
                if (have) {
                    next = have;
                    return;
                }
                node = document.importNode(node, true);
                node.classList.add("new");
                inbox.insertBefore(node, next);
                next = node;
            });
        });
    },

    showMessage: function (message) {
        if (document.getElementById("m" + message.id)) return;
        var template = document.createElement("template");
        template.innerHTML = message.html.trim();
        var node = template.content.firstElementChild;
        node.classList.add("new");
        document.getElementById("inbox").appendChild(node);
    }
};
